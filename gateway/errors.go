package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"crowdflow/admission"
	"crowdflow/ledger"
	"crowdflow/token"
	"crowdflow/wire"
)

// The kinds of failure the gateway reports. Every error it shows a client
// wraps one of them; classify maps them to an HTTP status and a code, the
// same code on HTTP ({"error":{"code":...}}) and on the websocket
// ({"type":"error","code":...}).
var (
	errUnauthenticated = errors.New("not authenticated")
	errForbidden       = errors.New("forbidden")
	errMalformed       = errors.New("malformed")
	errUnsupported     = errors.New("unsupported")
	errRateLimited     = errors.New("rate limited")
	errTooMany         = errors.New("too many connections")
	errUnknownHost     = errors.New("unknown host")
	errNotFound        = errors.New("not found")
	errMethod          = errors.New("method not allowed")
	errTooLarge        = errors.New("request too large")
	errUnavailable     = errors.New("unavailable")
)

// kinds lists, for each kind, its status, its code and the message shown
// when the error carries none of its own (see problem).
var kinds = []struct {
	kind    error
	status  int
	code    string
	message string
}{
	{errUnauthenticated, http.StatusUnauthorized, "unauthenticated", "A valid staff token is required."},
	{errForbidden, http.StatusForbidden, wire.ErrForbidden, "This token may not do that."},
	{errMalformed, http.StatusBadRequest, wire.ErrMalformed, "The request is malformed."},
	{errUnsupported, http.StatusBadRequest, wire.ErrUnsupported, "This request is not supported."},
	{errRateLimited, http.StatusTooManyRequests, wire.ErrRateLimited, "Too many messages: slow down."},
	{errTooMany, http.StatusTooManyRequests, "too_many_connections", "Too many connections: close one, or try again later."},
	{errUnknownHost, http.StatusMisdirectedRequest, "unknown_host", "This gateway does not serve that host name."},
	{errNotFound, http.StatusNotFound, "not_found", "Nothing here."},
	{errMethod, http.StatusMethodNotAllowed, "method_not_allowed", "That method is not allowed here."},
	{errTooLarge, http.StatusRequestEntityTooLarge, "too_large", "The request is too large."},
	{errUnavailable, http.StatusServiceUnavailable, wire.ErrUnavailable,
		"The store did not answer: try again later (a scan keeps its id, so resending it is safe)."},
}

// problem is an error whose message is meant for the client: it says what
// was wrong with the request, and never an internal detail.
type problem struct {
	kind error
	msg  string
}

func (p *problem) Error() string { return p.msg }
func (p *problem) Unwrap() error { return p.kind }

// newProblem returns an error of the given kind with a message for the client.
func newProblem(kind error, format string, args ...any) error {
	return &problem{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// classify maps an error to the HTTP status, the protocol code and the
// message a client sees. It is the one place where errors become answers:
// the websocket and every HTTP route go through it. An error of no known
// kind is an internal failure, shown without its detail.
func classify(err error) (status int, code, message string) {
	switch {
	case errors.Is(err, token.ErrExpired):
		return http.StatusUnauthorized, "unauthenticated", "The staff token has expired."
	case errors.Is(err, token.ErrMalformed), errors.Is(err, token.ErrSignature):
		return http.StatusUnauthorized, "unauthenticated", "The staff token is not valid."
	case errors.Is(err, ledger.ErrInvalid):
		// The ledger's own validation messages name the field, nothing more.
		return http.StatusBadRequest, wire.ErrMalformed, err.Error()
	case errors.Is(err, wire.ErrBadFrame):
		return http.StatusBadRequest, wire.ErrMalformed, err.Error()
	case errors.Is(err, ledger.ErrIDConflict):
		return http.StatusConflict, wire.ErrIDConflict,
			"This scan id was used before for another scan; nothing was changed. Send it again under a new id."
	case errors.Is(err, admission.ErrBadTime):
		return http.StatusBadRequest, wire.ErrBadTime, err.Error() + "; nothing was changed."
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		err = newProblem(errTooLarge, "The request body is larger than %d bytes.", tooLarge.Limit)
	}
	for _, k := range kinds {
		if !errors.Is(err, k.kind) {
			continue
		}
		message = k.message
		if p := (*problem)(nil); errors.As(err, &p) {
			message = p.msg
		}
		return k.status, k.code, message
	}
	return http.StatusInternalServerError, "internal", "Something went wrong in the gateway."
}

// writeError answers an HTTP request with the error as JSON:
// {"error":{"code":"...","message":"..."}}.
func writeError(w http.ResponseWriter, err error) {
	status, code, message := classify(err)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="crowdflow"`)
	}
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": message}})
}

// writeJSON answers with v as JSON. Answers are never cached: they are live
// figures or a session.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
