package ticket_test

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"

	"crowdflow/ticket"
)

// decodeQR reads a QR code back with ZXing (the gozxing port), the decoder
// family phones and the scanner page's polyfill use.
func decodeQR(t *testing.T, img image.Image) (string, string) {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("decode QR: %v", err)
	}
	level, _ := res.GetResultMetadata()[gozxing.ResultMetadataType_ERROR_CORRECTION_LEVEL].(string)
	return res.GetText(), level
}

// shrink averages f×f pixel blocks: the PNG seen by a camera with far fewer
// pixels per module than the print has.
func shrink(img image.Image, f int) image.Image {
	b := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, b.Dx()/f, b.Dy()/f))
	for y := range out.Bounds().Dy() {
		for x := range out.Bounds().Dx() {
			sum := 0
			for dy := range f {
				for dx := range f {
					sum += int(color.GrayModel.Convert(img.At(b.Min.X+x*f+dx, b.Min.Y+y*f+dy)).(color.Gray).Y)
				}
			}
			out.SetGray(x, y, color.Gray{Y: uint8(sum / (f * f))})
		}
	}
	return out
}

func TestPNGDecodes(t *testing.T) {
	key, _ := MustKey(t, 1)
	tests := map[string]struct {
		in      *ticket.Ticket
		version int
	}{
		"typical, all days and zones": {&ticket.Ticket{ID: ticket.ID{1}}, 6},
		"three days, two zones": {&ticket.Ticket{
			Days: []string{"2025-09-17", "2025-09-18", "2025-09-19"}, Zones: []uint16{10, 20},
		}, 6},
		"twelve zones":  {&ticket.Ticket{Zones: seq(12)}, 8},
		"max zones":     {&ticket.Ticket{Days: []string{"2025-09-01", "2025-11-03"}, Zones: seq(255)}, 21},
		"full, reentry": {flips()["full"], 6},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := MustSign(t, tc.in, key)
			b, err := ticket.PNG(p)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			w := img.Bounds().Dx()
			if w != img.Bounds().Dy() || w%ticket.ModulePixels != 0 {
				t.Fatalf("image is %v, want a square of whole modules", img.Bounds())
			}
			// width = (17 + 4·version + 2·4 quiet zone) modules
			if v := (w/ticket.ModulePixels - 8 - 17) / 4; v != tc.version {
				t.Errorf("QR version %d, want %d (%d characters)", v, tc.version, len(p))
			}
			t.Logf("%d characters: %d×%d px, %d bytes of PNG", len(p), w, w, len(b))
			got, level := decodeQR(t, img)
			if got != p {
				t.Fatalf("decoded %q, want %q", got, p)
			}
			if level != "M" {
				t.Errorf("error correction level %q, want M", level)
			}
			// At 2 px per module, a fifth of the printed resolution, it
			// still reads.
			if got, _ := decodeQR(t, shrink(img, ticket.ModulePixels/2)); got != p {
				t.Fatalf("shrunk: decoded %q, want %q", got, p)
			}
		})
	}
}

func TestPNGRejects(t *testing.T) {
	key, _ := MustKey(t, 1)
	p := MustSign(t, &ticket.Ticket{}, key)
	tests := map[string]string{
		"empty":      "",
		"lower case": strings.ToLower(p),
		"url":        "https://example.org/",
		"truncated":  p[:len(p)-1],
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if b, err := ticket.PNG(in); !errors.Is(err, ticket.ErrMalformed) {
				t.Fatalf("PNG(%q) = %d bytes, %v; want ErrMalformed", in, len(b), err)
			}
		})
	}
}
