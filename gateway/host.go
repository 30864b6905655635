package gateway

import (
	"fmt"
	"net"
	"net/http"
	"strings"
)

// hstsHeader tells a browser that reached the gateway over TLS to use TLS
// only for a year: a later http:// link or a downgrade on the venue's
// network cannot expose the session cookie.
const hstsHeader = "max-age=31536000"

// guard is the first step of every request: the Host check against DNS
// rebinding, and HSTS on TLS.
func (s *Server) guard(next http.Handler) http.Handler {
	hosts := map[string]bool{"localhost": true}
	for _, h := range s.cfg.Hosts {
		c, _ := canonicalHost(h) // Validate checked it
		hosts[c] = true
	}
	if h, _, err := net.SplitHostPort(s.cfg.Listen); err == nil && h != "" {
		hosts[strings.TrimSuffix(strings.ToLower(h), ".")] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			w.Header().Set("Strict-Transport-Security", hstsHeader)
		}
		if !hostAllowed(hosts, r.Host) {
			s.log.Info("request for an unknown host refused", "host", fmt.Sprintf("%.100q", r.Host), "remote", r.RemoteAddr)
			writeError(w, newProblem(errUnknownHost,
				"This gateway does not serve the host name %.100q (gateway --host adds a name).", r.Host))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hostAllowed reports whether a request's Host may be served: an IP
// address (a rebinding page has a name, never an address, as its origin),
// or one of hosts.
func hostAllowed(hosts map[string]bool, hostport string) bool {
	h := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")), ".")
	if h == "" || net.ParseIP(h) != nil { // "": HTTP/1.0 without Host, no browser
		return true
	}
	return hosts[h]
}

// canonicalHost checks a configured host name and returns it in lower case
// without a final dot.
func canonicalHost(s string) (string, error) {
	h := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
	switch {
	case h == "":
		return "", fmt.Errorf("host %q: empty", s)
	case strings.ContainsAny(h, ":/*@ "):
		return "", fmt.Errorf("host %q: want a DNS name alone, without scheme, port or wildcard", s)
	}
	return h, nil
}
