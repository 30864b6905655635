package ticket

import (
	"fmt"

	qrcode "github.com/skip2/go-qrcode"
)

// ModulePixels is the width of one QR module in the PNG. A typical ticket is
// a version 6 code, 41 modules plus the 4-module quiet zone on each side =
// 49 modules, so the PNG is 490 px wide: printed at 300 dpi that is 4.1 cm,
// the size asked for, with each module a whole number of printer dots (no
// resampling blur) and 0.85 mm wide. A phone camera at 30 cm sees roughly
// 0.1 mm per pixel, so a module spans about 8 camera pixels where decoders
// need 2 to 3 (the tests decode the PNG shrunk to 2 px per module): margin
// for a cheap printer, a creased ticket or a shaky hand. Fewer pixels per
// module would leave the print pipeline to upscale, and blur, the code.
const ModulePixels = 10

// PNG renders a payload as a QR code PNG with error correction level M
// (15% of the code may be lost): the payload is about 145 alphanumeric
// characters, version 6 at M; level Q would need version 8 and smaller
// modules on the same 4 cm. The payload must be a well-formed canonical
// payload (ErrMalformed otherwise), so that the alphanumeric mode is used and
// no unreadable ticket is ever printed; its signature is not checked.
func PNG(payload string) ([]byte, error) {
	if _, _, _, err := parse(payload); err != nil {
		return nil, fmt.Errorf("qr code: %w", err)
	}
	q, err := qrcode.New(payload, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("qr code: %w", err)
	}
	// A negative size means pixels per module in go-qrcode; the quiet zone
	// (border) is on by default and must stay: readers need it.
	png, err := q.PNG(-ModulePixels)
	if err != nil {
		return nil, fmt.Errorf("qr code png: %w", err)
	}
	return png, nil
}
