package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"crowdflow/ticket"
	"crowdflow/token"
)

// Limits of POST /api/v1/revoke: a batch as large as a lost box of
// tickets, and a reason that fits a log line.
const (
	maxRevokeBody    = 1 << 20
	maxRevokeTickets = 10000
	maxRevokeReason  = 200
)

// revokeRequest is the body of POST /api/v1/revoke (CONTRACT §5).
type revokeRequest struct {
	Tickets []string `json:"tickets"`
	Reason  string   `json:"reason"`
}

// revokeAnswer says what a revocation changed.
type revokeAnswer struct {
	Tickets []string `json:"tickets"` // the ids, in the canonical form
	Revoked int      `json:"revoked"` // newly revoked
	Already int      `json:"already"` // were revoked before
}

// serveRevoke is POST /api/v1/revoke, for the roles that may revoke
// (organizer, supervisor): the tickets go on the revocation list, which
// scanners download at least every minute. The request is checked whole
// before anything changes: one bad id and nothing is revoked.
func (s *Server) serveRevoke(w http.ResponseWriter, r *http.Request) {
	if err := s.checkOrigin(r); err != nil { // a browser's session cookie: same origin only
		writeError(w, err)
		return
	}
	c, err := s.authorize(r, token.Revoke, "revoke tickets")
	if err != nil {
		writeError(w, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxRevokeBody)
	ids, reason, err := readRevoke(r)
	if err != nil {
		writeError(w, err)
		return
	}
	by := c.Subject
	if by == "" {
		by = string(c.Role)
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.StoreTimeout)
	defer cancel()
	n, err := s.store.Revoke(ctx, s.clk.Now(), by, ids...)
	if err != nil {
		s.metrics.storeErrors.WithLabelValues(opRevoke).Inc()
		s.log.Warn("revoke", "err", err)
		writeError(w, newProblem(errUnavailable, "The store did not answer: nothing is known to be revoked; send the request again."))
		return
	}
	s.log.Info("tickets revoked", "subject", c.Subject, "role", c.Role, "remote", r.RemoteAddr,
		"tickets", len(ids), "new", n, "reason", reason)
	writeJSON(w, http.StatusOK, revokeAnswer{Tickets: ids, Revoked: n, Already: len(ids) - n})
}

// readRevoke reads and checks a revocation request: the ticket ids in their
// canonical form, and the reason.
func readRevoke(r *http.Request) ([]string, string, error) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return nil, "", newProblem(errMalformed, `Send JSON {"tickets":["..."],"reason":"..."} with Content-Type application/json.`)
	}
	var req revokeRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
			return nil, "", err
		}
		return nil, "", newProblem(errMalformed, `The body must be JSON {"tickets":["..."],"reason":"..."}.`)
	}
	if _, err := dec.Token(); err != io.EOF { // More would let a stray ']' or '}' pass
		return nil, "", newProblem(errMalformed, "The body must be one JSON object.")
	}
	var problems []string
	switch n := len(req.Tickets); {
	case n == 0:
		problems = append(problems, "tickets: none given")
	case n > maxRevokeTickets:
		problems = append(problems, fmt.Sprintf("tickets: %d, at most %d per request", n, maxRevokeTickets))
	}
	ids := make([]string, 0, len(req.Tickets))
	var bad []string
	for _, t := range req.Tickets {
		id, err := ticket.ParseID(t)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%.40q", t))
			continue
		}
		ids = append(ids, id.String())
	}
	if len(bad) > 0 {
		more := ""
		if len(bad) > 5 {
			more, bad = fmt.Sprintf(" and %d more", len(bad)-5), bad[:5]
		}
		problems = append(problems, fmt.Sprintf("tickets: not ticket ids (16 characters of base32, as in manifest.csv): %s%s",
			strings.Join(bad, ", "), more))
	}
	reason := strings.TrimSpace(req.Reason)
	if !utf8.ValidString(reason) || utf8.RuneCountInString(reason) > maxRevokeReason ||
		strings.ContainsFunc(reason, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		problems = append(problems, fmt.Sprintf("reason: at most %d characters on one line", maxRevokeReason))
	}
	if len(problems) > 0 {
		return nil, "", newProblem(errMalformed, "Nothing was revoked: %s.", strings.Join(problems, "; "))
	}
	return ids, reason, nil
}
