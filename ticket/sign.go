package ticket

import (
	"crypto/ed25519"
	"fmt"
	"strings"
)

// maxPayloadLen bounds the text Verify and Normalize look at: the longest
// body (255 zones) with its signature is under 1000 characters, so anything
// much longer is refused before any work is done on it.
const maxPayloadLen = 4096

// Sign encodes t and signs the body with key, returning the payload text to
// print in the QR code.
func Sign(t *Ticket, key ed25519.PrivateKey) (string, error) {
	if len(key) != ed25519.PrivateKeySize {
		// ed25519.Sign panics on a wrong-sized key; a bad key file must be
		// an error, not a crash of the issuing command.
		return "", fmt.Errorf("sign ticket: private key has %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	body, err := t.MarshalBinary()
	if err != nil {
		return "", fmt.Errorf("sign ticket: %w", err)
	}
	sig := ed25519.Sign(key, body)
	return Prefix + b32.EncodeToString(body) + ":" + b32.EncodeToString(sig), nil
}

// Verify checks a payload against the event's public keys and returns its
// ticket. Only the canonical text is accepted (exact prefix, upper case, no
// padding, no whitespace, canonical body): use Normalize or VerifyTyped for
// text typed by a keyboard wedge. Every key is tried, so during a key
// rotation tickets signed with the old and the new key both pass.
//
// The structure is checked before any signature (ErrMalformed), so junk is
// refused without a public-key operation; then ErrSignature if no key
// verifies. Verify does not compare the event hash: the caller checks
// t.Event against EventHash of its event, since keys may be shared.
func Verify(payload string, keys ...ed25519.PublicKey) (*Ticket, error) {
	t, body, sig, err := parse(payload)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no public key to check it with", ErrSignature)
	}
	for _, k := range keys {
		// ed25519.Verify panics on a wrong-sized key.
		if len(k) == ed25519.PublicKeySize && ed25519.Verify(k, body, sig) {
			return t, nil
		}
	}
	return nil, fmt.Errorf("%w: ticket %s is not signed by any of the %d event key(s)", ErrSignature, t.ID, len(keys))
}

// parse splits and decodes a canonical payload without checking the
// signature.
func parse(payload string) (*Ticket, []byte, []byte, error) {
	if len(payload) > maxPayloadLen {
		return nil, nil, nil, fmt.Errorf("%w: %d bytes of text, at most %d", ErrMalformed, len(payload), maxPayloadLen)
	}
	rest, ok := strings.CutPrefix(payload, Prefix)
	if !ok {
		return nil, nil, nil, fmt.Errorf("%w: text does not start with %q", ErrMalformed, Prefix)
	}
	bodyText, sigText, ok := strings.Cut(rest, ":")
	if !ok {
		return nil, nil, nil, fmt.Errorf("%w: no ':' between body and signature", ErrMalformed)
	}
	body, err := decodeBody(bodyText)
	if err != nil {
		return nil, nil, nil, err
	}
	sig, err := decodeSig(sigText)
	if err != nil {
		return nil, nil, nil, err
	}
	var t Ticket
	if err := t.UnmarshalBinary(body); err != nil {
		return nil, nil, nil, err
	}
	return &t, body, sig, nil
}

func decodeBody(s string) ([]byte, error) {
	if len(s) < b32.EncodedLen(minBodyLen) || len(s) > b32.EncodedLen(maxBodyLen) {
		return nil, fmt.Errorf("%w: body of %d characters, want %d..%d",
			ErrMalformed, len(s), b32.EncodedLen(minBodyLen), b32.EncodedLen(maxBodyLen))
	}
	b, err := decode32(s)
	if err != nil {
		return nil, fmt.Errorf("%w: body: %v", ErrMalformed, err)
	}
	return b, nil
}

func decodeSig(s string) ([]byte, error) {
	if len(s) != sigTextLen {
		return nil, fmt.Errorf("%w: signature of %d characters, want %d", ErrMalformed, len(s), sigTextLen)
	}
	b, err := decode32(s)
	if err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrMalformed, err)
	}
	return b, nil
}
