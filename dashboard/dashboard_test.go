package dashboard_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"crowdflow/dashboard"
)

func TestHandlerRoutes(t *testing.T) {
	srv := httptest.NewServer(dashboard.Handler())
	defer srv.Close()
	c := client(t)
	tests := map[string]struct {
		path, wantType, wantCache, wantLocation string
		wantStatus                              int
		wantBody                                string
	}{
		"root is the live board": {path: "/", wantStatus: 200, wantType: "text/html; charset=utf-8", wantCache: "no-cache", wantBody: `<html lang="ar-MA" dir="rtl" data-i18n-title="title_board"`},
		"scanner page":           {path: "/scan", wantStatus: 200, wantType: "text/html; charset=utf-8", wantCache: "no-cache", wantBody: `<html lang="ar-MA" dir="rtl"`},
		"login page":             {path: "/login", wantStatus: 200, wantType: "text/html; charset=utf-8", wantBody: `name="token"`},
		"script":                 {path: "/static/js/scan.js", wantStatus: 200, wantType: "text/javascript; charset=utf-8"},
		"board script":           {path: "/static/js/board.js", wantStatus: 200, wantType: "text/javascript; charset=utf-8"},
		"style":                  {path: "/static/css/app.css", wantStatus: 200, wantType: "text/css; charset=utf-8"},
		"wasm":                   {path: "/static/vendor/barcode-detector-3.2.2/zxing_reader.wasm", wantStatus: 200, wantType: "application/wasm", wantCache: "public, max-age=31536000, immutable"},
		"licence":                {path: "/static/vendor/barcode-detector-3.2.2/LICENSE.barcode-detector", wantStatus: 200, wantType: "text/plain; charset=utf-8", wantBody: "MIT License"},
		"no directory listing":   {path: "/static/js/", wantStatus: 404},
		"no page source":         {path: "/static/pages/scan.html", wantStatus: 404},
		"unknown":                {path: "/static/nope.js", wantStatus: 404},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			resp, err := c.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if got, want := resp.StatusCode, tc.wantStatus; got != want {
				t.Fatalf("status: got %d, want %d", got, want)
			}
			for header, want := range map[string]string{"Content-Type": tc.wantType, "Cache-Control": tc.wantCache,
				"Location": tc.wantLocation} {
				if got := resp.Header.Get(header); want != "" && got != want {
					t.Errorf("%s: got %q, want %q", header, got, want)
				}
			}
			if !strings.Contains(string(body), tc.wantBody) {
				t.Errorf("body does not contain %q", tc.wantBody)
			}
			if got := resp.Header.Get("Content-Security-Policy"); !strings.Contains(got, "default-src 'self'") {
				t.Errorf("Content-Security-Policy: got %q", got)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options: got %q", got)
			}
		})
	}
}

func TestHandlerRevalidates(t *testing.T) {
	srv := httptest.NewServer(dashboard.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/static/js/scan.js")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/static/js/scan.js", nil)
	req.Header.Set("If-None-Match", etag)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, want := resp.StatusCode, http.StatusNotModified; got != want {
		t.Errorf("status with If-None-Match: got %d, want %d", got, want)
	}
}

// TestNoCDN: the pages load nothing from another host; the polyfill's
// default jsDelivr URL is overridden by camera.js, which must point at the
// vendored .wasm.
func TestNoCDN(t *testing.T) {
	external := regexp.MustCompile(`(?:src|href)\s*=\s*["']https?://|import\s*\(?\s*["']https?://`)
	err := filepath.Walk(".", func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || !(strings.HasSuffix(p, ".html") || strings.HasSuffix(p, ".js") || strings.HasSuffix(p, ".css")) {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if m := external.Find(b); m != nil {
			t.Errorf("%s loads from another host: %s", p, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cam, err := os.ReadFile("static/js/camera.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"locateFile", "'/static/vendor/barcode-detector-3.2.2/'", "zxing_reader.wasm"} {
		if !strings.Contains(string(cam), want) {
			t.Errorf("camera.js does not contain %s", want)
		}
	}
	for _, f := range []string{"LICENSE.barcode-detector", "LICENSE.zxing-wasm", "LICENSE.zxing-cpp", "VERSIONS",
		"ponyfill.js", "zxing-exported.js", "zxing_reader.wasm"} {
		if _, err := os.Stat(filepath.Join("static/vendor/barcode-detector-3.2.2", f)); err != nil {
			t.Errorf("vendored file: %v", err)
		}
	}
}

// TestNoChromiumSaysWhatToInstall: without a browser the browser tests
// fail (never skip) with the command that installs one.
func TestNoChromiumSaysWhatToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := findChromium()
	if err == nil {
		t.Fatal("found a browser on an empty PATH")
	}
	for _, want := range []string{"make test", "apt-get install chromium"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
