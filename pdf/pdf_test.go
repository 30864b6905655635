package pdf_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"crowdflow/pdf"
)

// TestRender prints a small page, Arabic included, to a PDF.
func TestRender(t *testing.T) {
	page := []byte(`<!doctype html><html lang="ar" dir="rtl"><meta charset="utf-8"><title>t</title>` +
		`<style>@page { size: A4 }</style><h1>تقرير الحضور 2025-09-17</h1><p>1621</p></html>`)
	doc, err := pdf.Render(t.Context(), page, "")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(doc, []byte("%PDF-")) || len(doc) < 1000 {
		t.Errorf("not a PDF: %d bytes starting %q", len(doc), doc[:min(len(doc), 8)])
	}
}

// TestNoChromium: without a browser, the error says what to install.
func TestNoChromium(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	for name, exe := range map[string]string{"on PATH": "", "given": "/nonexistent/chromium"} {
		t.Run(name, func(t *testing.T) {
			_, err := pdf.Render(t.Context(), []byte("<p>x</p>"), exe)
			if !errors.Is(err, pdf.ErrNoChromium) || !strings.Contains(err.Error(), "apt-get install chromium") {
				t.Errorf("got %v, want ErrNoChromium saying what to install", err)
			}
		})
	}
}
