// Package pdf prints an HTML page to PDF with headless Chromium (through
// chromedp), so that a printed report and its PDF are the same page: A4,
// the page's own print style sheet, its SVG charts unchanged.
//
// The browser is found as the browser tests find it: the executable given,
// else the first of Names on PATH. Without one, Render fails with
// ErrNoChromium and a message that says what to install.
package pdf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Names are the Chromium executables looked for on PATH, in order.
var Names = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell"}

// ErrNoChromium means no Chromium executable was found.
var ErrNoChromium = errors.New("no Chromium found")

// renderTimeout bounds one rendering: starting the browser, loading the
// page (a local file that loads nothing else) and printing it.
const renderTimeout = 60 * time.Second

// Find returns the Chromium to run: exe when set (a path or a name on
// PATH), else the first of Names on PATH.
func Find(exe string) (string, error) {
	if exe != "" {
		p, err := exec.LookPath(exe)
		if err != nil {
			return "", fmt.Errorf("%w at %s (%v): install the Debian package chromium (apt-get install chromium) "+
				"or give the browser's path with --chromium", ErrNoChromium, exe, err)
		}
		return p, nil
	}
	for _, n := range Names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w (looked for %s on PATH): install the Debian package chromium "+
		"(apt-get install chromium) or give the browser's path with --chromium", ErrNoChromium, strings.Join(Names, ", "))
}

// Headless are the options of a headless Chromium at exe with its profile
// in dir, quiet (no background networking, updates, sync or first-run
// screens) and able to run as root in a container; the page tests start
// their browser with them too.
func Headless(exe, dir string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(dir),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // runs as root in containers; the pages are our own
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
	}
}

// Render prints the HTML page to PDF on A4, with the page's backgrounds,
// using the Chromium at exe ("": Find's choice). The page must be
// self-contained: it is loaded from a temporary file alone, so a relative
// link finds nothing (Render blocks no request: the pages are our own).
func Render(ctx context.Context, html []byte, exe string) ([]byte, error) {
	path, err := Find(exe)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "crowdflow-pdf-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "page.html")
	if err := os.WriteFile(file, html, 0o600); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, renderTimeout)
	defer cancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, Headless(path, filepath.Join(dir, "profile"))...)
	defer cancelAlloc()
	bctx, cancelB := chromedp.NewContext(alloc)
	defer cancelB()
	if err := chromedp.Do(bctx, chromedp.Navigate("file://"+file), chromedp.WaitReady("body")); err != nil {
		return nil, fmt.Errorf("load the page in %s: %w", path, err)
	}
	yes := true
	res, err := chromedp.Call(bctx, page.PrintToPDF,
		page.PrintToPDFParams{PrintBackground: &yes, PreferCSSPageSize: &yes})
	if err != nil {
		return nil, fmt.Errorf("print to pdf with %s: %w", path, err)
	}
	return res.Data, nil
}
