package dashboard

import (
	"net/url"

	"crowdflow/token"
)

// LoginLink is a link that logs the holder of tok in with one click: the
// login page at base (the gateway's origin, no trailing slash) with the
// token in the URL's fragment, #token=...&next=..., which the browser never
// sends to the server, so it reaches neither the gateway nor its logs. The
// page posts the token to /login as it does a pasted one, drops the
// fragment from the address bar and its history entry, and goes on to the
// role's page: the board for a role that may watch it, else the scanner
// page. Anyone who has the link has the token: print it only where the
// token itself may be shown.
func LoginLink(base, tok string, role token.Role) string {
	next := "/scan"
	if role.Can(token.Live) {
		next = "/"
	}
	return base + "/login#token=" + url.QueryEscape(tok) + "&next=" + next
}
