package ticket

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"image/png"
	"io"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
)

// maxDraws bounds how many ids Issue tries for one ticket. A draw fails about
// once in 150, so ten failures in a row mean something else is wrong.
const maxDraws = 10

// ErrUnreadable: Issue found no id whose QR code a standard detector reads.
var ErrUnreadable = errors.New("qr code not readable")

// Issue makes a ticket like t with a fresh random id from r, signs it with
// key and renders its QR code, and checks that a standard detector (ZXing's,
// in its Go port) finds and reads the code in the image the way it reads a
// camera frame — without being told the image is a clean code.
//
// About one code in 150 is valid but trips that detector's finder-pattern
// search (its modules happen to mimic a finder pattern, and the detector
// misjudges the code's size). A gate must never meet such a ticket, so Issue
// then draws another id: the id is random anyway. t.ID is ignored.
func Issue(r io.Reader, t Ticket, key ed25519.PrivateKey) (*Ticket, string, []byte, error) {
	for range maxDraws {
		id, err := NewID(r)
		if err != nil {
			return nil, "", nil, err
		}
		t.ID = id
		payload, err := Sign(&t, key)
		if err != nil {
			return nil, "", nil, err
		}
		img, err := PNG(payload)
		if err != nil {
			return nil, "", nil, err
		}
		if Readable(img, payload) {
			return &t, payload, img, nil
		}
	}
	return nil, "", nil, fmt.Errorf("%w after %d ids", ErrUnreadable, maxDraws)
}

// Readable reports whether a standard QR detector reads payload from the PNG.
func Readable(pngData []byte, payload string) bool {
	img, err := png.Decode(bytes.NewReader(pngData))
	if err != nil {
		return false
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return false
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
	return err == nil && res.GetText() == payload
}
