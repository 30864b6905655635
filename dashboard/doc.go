// Package dashboard is crowdflow's browser UI, embedded in the binary: the
// live board for security's control room (/: occupancy against capacity per
// zone, flows, minutes to full, gates, alerts, an evacuation headcount;
// ?kiosk=1 for a wall screen), the phone scanner page for gate staff
// (/scan), the login page (/login), and the static files they share
// (/static/). The reports page will join them here, on the same i18n module
// (static/js/i18n.js: Arabic right-to-left, French, English, Western digits,
// 24-hour times) and the same style sheet (static/css/app.css).
//
// The pages are plain HTML, CSS and JavaScript modules: no framework and no
// build step, so `go build` is all it takes. Third-party browser code is
// vendored, pinned and licensed under static/vendor/ (see the VERSIONS file
// there); nothing is loaded from a CDN.
//
// The pages talk only to the gateway that serves them (CONTRACT §3 and §5):
// POST /login, GET /api/v1/session, /api/v1/event, /api/v1/revoked,
// /api/v1/occupancy, the scanner websocket /ws/scan and the live stream
// /ws/live. The scanner page registers a service worker (static/js/sw.js,
// scope /scan) that keeps the page, its files and the last event and
// revocation list for a reload offline. Handler serves files and nothing else; it
// checks no token, because every call the pages make does.
package dashboard
