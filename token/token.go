// Package token makes and checks staff tokens: who may scan at which gates,
// watch the live board, read reports, or override a full zone.
//
// A token is "CFT1.<claims>.<mac>": the claims are JSON in base64url, the mac
// is HMAC-SHA256 over "CFT1.<claims>" with the secret of the data directory
// (crowdflow keys writes it). HMAC, not a signature, because only the gateway
// checks tokens and it holds the secret; tickets, which offline scanners
// check, are signed with Ed25519 instead.
package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// SecretFile is the name of the secret in a data directory.
const SecretFile = "token.secret"

// prefix versions the format.
const prefix = "CFT1."

// maxLen bounds a token: anything longer is refused before any decoding.
const maxLen = 2048

// Role is what a token's holder is.
type Role string

// The roles. Each may do what is listed in Can.
const (
	Scanner    Role = "scanner"    // a gate device or its operator: scans and tallies at its gates
	Security   Role = "security"   // the control room and patrols: the live board
	Organizer  Role = "organizer"  // organisers: the live board, the reports and revocations
	Supervisor Role = "supervisor" // gate supervisors: all of the above, and forcing a full zone
)

// Roles lists the roles.
var Roles = []Role{Scanner, Security, Organizer, Supervisor}

// Action is something a role may be allowed to do.
type Action string

// The actions.
const (
	Scan    Action = "scan"    // send scans and tallies
	Force   Action = "force"   // override zone_full and passback refusals
	Live    Action = "live"    // the live stream and the occupancy snapshot
	Reports Action = "reports" // attendance reports
	Revoke  Action = "revoke"  // add tickets to the revocation list
)

var grants = map[Role][]Action{
	Scanner:    {Scan},
	Security:   {Live},
	Organizer:  {Live, Reports, Revoke},
	Supervisor: {Scan, Force, Live, Reports, Revoke},
}

// Can reports whether r may do a.
func (r Role) Can(a Action) bool { return slices.Contains(grants[r], a) }

// ParseRole accepts one of Roles.
func ParseRole(s string) (Role, error) {
	if r := Role(s); slices.Contains(Roles, r) {
		return r, nil
	}
	return "", fmt.Errorf("role %q: want scanner, security, organizer or supervisor", s)
}

// Claims are what a token says about its holder.
type Claims struct {
	Role    Role     `json:"role"`
	Gates   []string `json:"gates,omitempty"` // gates it may scan at; empty = every gate
	Subject string   `json:"sub,omitempty"`   // the device or person, for logs
	Issued  int64    `json:"iat"`
	Expires int64    `json:"exp"`
}

// AllowsGate reports whether the token may scan at gate.
func (c Claims) AllowsGate(gate string) bool {
	return c.Role.Can(Scan) && (len(c.Gates) == 0 || slices.Contains(c.Gates, gate))
}

// Errors of Verify; all mean "not authenticated".
var (
	ErrMalformed = errors.New("malformed token")
	ErrSignature = errors.New("token signature does not match")
	ErrExpired   = errors.New("token expired")
)

// Sign returns the token for c.
func Sign(secret []byte, c Claims) (string, error) {
	if _, err := ParseRole(string(c.Role)); err != nil {
		return "", err
	}
	body, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	head := prefix + base64.RawURLEncoding.EncodeToString(body)
	return head + "." + base64.RawURLEncoding.EncodeToString(mac(secret, head)), nil
}

// Verify checks tok's mac and expiry at now and returns its claims.
func Verify(secret []byte, tok string, now time.Time) (Claims, error) {
	if len(tok) > maxLen || !strings.HasPrefix(tok, prefix) {
		return Claims{}, ErrMalformed
	}
	if strings.IndexFunc(tok, notTokenChar) >= 0 {
		return Claims{}, ErrMalformed // padding, the standard alphabet, white space
	}
	i := strings.LastIndexByte(tok, '.')
	head, sig := tok[:i], tok[i+1:]
	got, err := strictB64.DecodeString(sig)
	if err != nil {
		return Claims{}, ErrMalformed
	}
	if !hmac.Equal(got, mac(secret, head)) {
		return Claims{}, ErrSignature
	}
	body, err := strictB64.DecodeString(head[len(prefix):])
	if err != nil {
		return Claims{}, ErrMalformed
	}
	var c Claims
	if err := json.Unmarshal(body, &c); err != nil {
		return Claims{}, ErrMalformed
	}
	if _, err := ParseRole(string(c.Role)); err != nil {
		return Claims{}, ErrMalformed
	}
	if now.Unix() >= c.Expires {
		return Claims{}, ErrExpired
	}
	return c, nil
}

// strictB64 is the one spelling of a token's parts: base64url without
// padding, its unused trailing bits zero. The lenient decoder would let four
// spellings of each mac verify (and skip line breaks), so a token would
// have several forms and a blocklist or log search could miss one.
var strictB64 = base64.RawURLEncoding.Strict()

// notTokenChar reports a rune that no token spelling holds: the decoder
// skips CR and LF even in strict mode, so they are refused here.
func notTokenChar(r rune) bool {
	return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
}

func mac(secret []byte, head string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(head))
	return h.Sum(nil)
}

// LoadSecret reads the secret of a data directory.
func LoadSecret(dir string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, SecretFile))
	if err != nil {
		return nil, fmt.Errorf("token secret (run crowdflow keys): %w", err)
	}
	s, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(s) < 16 {
		return nil, fmt.Errorf("token secret %s: not a hex secret of at least 16 bytes", filepath.Join(dir, SecretFile))
	}
	return s, nil
}
