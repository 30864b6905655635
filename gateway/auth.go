package gateway

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"crowdflow/token"
)

// SessionCookie is the cookie POST /login sets: the staff token itself,
// HttpOnly and SameSite=Strict, so a page of another site can neither read
// it nor make the browser send it.
const SessionCookie = "cf_session"

// maxLoginBody bounds the body of POST /login: a token is at most 2 KiB.
const maxLoginBody = 4096

// authenticate returns the claims of the request's staff token, taken from
// "Authorization: Bearer <token>" or, without that header, from the session
// cookie. Expiry is judged on the wall clock, as tokens are issued on it.
func (s *Server) authenticate(r *http.Request) (token.Claims, error) {
	tok, err := requestToken(r)
	if err != nil {
		return token.Claims{}, err
	}
	c, err := token.Verify(s.secret, tok, s.wall.Now())
	if err != nil {
		return token.Claims{}, err
	}
	return c, nil
}

// authorize authenticates r and checks that its role may do a: 401 without
// a valid token, 403 naming what the role may not do (doing).
func (s *Server) authorize(r *http.Request, a token.Action, doing string) (token.Claims, error) {
	c, err := s.authenticate(r)
	if err != nil {
		return c, err
	}
	if !c.Role.Can(a) {
		return c, newProblem(errForbidden, "Role %s may not %s.", c.Role, doing)
	}
	return c, nil
}

// requestToken finds the token of a request. A malformed Authorization
// header is an error even when a cookie is present: the client meant the
// header.
func requestToken(r *http.Request) (string, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		tok = strings.TrimSpace(tok)
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return "", newProblem(errUnauthenticated, `The Authorization header must be "Bearer <token>".`)
		}
		return tok, nil
	}
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		return c.Value, nil
	}
	return "", newProblem(errUnauthenticated,
		"A staff token is required: send Authorization: Bearer <token>, or log in.")
}

// originAllowed reports whether a browser's Origin may use the gateway: its
// own origin (the Origin's host is the request's Host) or one of
// Config.Origins, compared exactly after canonicalisation. A request without
// Origin comes from no browser (a CLI scanner, curl) and passes; its token
// is what protects it.
func (s *Server) originAllowed(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	canon, err := parseOrigin(o)
	if err != nil {
		return false // "null", garbage
	}
	if s.origins[canon] {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// checkOrigin is originAllowed as an error for the client.
func (s *Server) checkOrigin(r *http.Request) error {
	if s.originAllowed(r) {
		return nil
	}
	return newProblem(errForbidden, "Requests from origin %.100q are not allowed.", r.Header.Get("Origin"))
}

// session is the JSON form of a session: what the holder of a token may do.
type session struct {
	Role    token.Role `json:"role"`
	Gates   []string   `json:"gates"` // empty: every gate
	Subject string     `json:"subject,omitempty"`
	Expires time.Time  `json:"expires"`
	Can     []string   `json:"can"` // the actions of the role (token.Action)
}

func sessionOf(c token.Claims) session {
	s := session{Role: c.Role, Gates: slices.Clone(c.Gates), Subject: c.Subject,
		Expires: time.Unix(c.Expires, 0).UTC(), Can: []string{}}
	if s.Gates == nil {
		s.Gates = []string{}
	}
	for _, a := range []token.Action{token.Scan, token.Force, token.Live, token.Reports, token.Revoke} {
		if c.Role.Can(a) {
			s.Can = append(s.Can, string(a))
		}
	}
	return s
}

// serveLogin is POST /login: a token in the form field "token" or in JSON
// {"token":"..."} becomes the session cookie, valid until the token expires.
// The answer is the session.
func (s *Server) serveLogin(w http.ResponseWriter, r *http.Request) {
	if err := s.checkOrigin(r); err != nil {
		writeError(w, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	tok, err := loginToken(r)
	if err != nil {
		writeError(w, err)
		return
	}
	now := s.wall.Now()
	c, err := token.Verify(s.secret, tok, now)
	if err != nil {
		s.log.Info("login refused", "remote", r.RemoteAddr, "err", err)
		writeError(w, err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    tok,
		Path:     "/",
		MaxAge:   int(max(c.Expires-now.Unix(), 1)),
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
	s.log.Info("login", "subject", c.Subject, "role", c.Role, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, sessionOf(c))
}

// loginToken reads the token of a login request.
func loginToken(r *http.Request) (string, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var tok string
	switch mt {
	case "application/json":
		var body struct {
			Token string `json:"token"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
				return "", err
			}
			return "", newProblem(errMalformed, `The body must be JSON {"token":"..."}.`)
		}
		tok = body.Token
	case "application/x-www-form-urlencoded", "multipart/form-data":
		if err := r.ParseMultipartForm(maxLoginBody); err != nil && !errors.Is(err, http.ErrNotMultipart) {
			if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
				return "", err
			}
			return "", newProblem(errMalformed, "The form could not be read.")
		}
		tok = r.PostFormValue("token")
	default:
		return "", newProblem(errMalformed, `Send the token as the form field "token" or as JSON {"token":"..."}.`)
	}
	if tok = strings.TrimSpace(tok); tok == "" {
		return "", newProblem(errMalformed, "token: missing.")
	}
	return tok, nil
}

// serveLogout is POST /logout: the session cookie is cleared.
func (s *Server) serveLogout(w http.ResponseWriter, r *http.Request) {
	if err := s.checkOrigin(r); err != nil {
		writeError(w, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

// serveSession is GET /api/v1/session: the role, gates and expiry of the
// request's token or session cookie.
func (s *Server) serveSession(w http.ResponseWriter, r *http.Request) {
	c, err := s.authenticate(r)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sessionOf(c))
}
