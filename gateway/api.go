package gateway

import (
	"context"
	"encoding/base64"
	"net/http"
	"slices"
	"time"

	"crowdflow/event"
	"crowdflow/token"
)

// text is a name in the three languages, as JSON.
type text struct {
	AR string `json:"ar"`
	FR string `json:"fr"`
	EN string `json:"en"`
}

func textOf(t event.Text) text { return text{AR: t.AR, FR: t.FR, EN: t.EN} }

// eventInfo is GET /api/v1/event: everything a scanner needs to show names
// and to decide on its own while offline (with /api/v1/revoked).
type eventInfo struct {
	ID          string       `json:"id"`
	Name        text         `json:"name"`
	Venue       string       `json:"venue"`
	TimeZone    string       `json:"time_zone"`
	Days        []dayInfo    `json:"days"`
	Zones       []zoneInfo   `json:"zones"`
	Gates       []gateInfo   `json:"gates"`
	TicketTypes []ticketType `json:"ticket_types"`
	// TicketKeys are the Ed25519 public keys tickets are signed with,
	// standard base64 of the 32 raw bytes.
	TicketKeys []string  `json:"ticket_keys"`
	ServerTime time.Time `json:"server_time"` // the event clock, for a scanner to measure its skew
}

type dayInfo struct {
	Date  string    `json:"date"`
	Open  time.Time `json:"open"`
	Close time.Time `json:"close"`
}

type zoneInfo struct {
	ID       string `json:"id"`
	Name     text   `json:"name"`
	Parent   string `json:"parent"` // "" for the site
	Kind     string `json:"kind"`
	Capacity int    `json:"capacity"`
}

type gateInfo struct {
	ID    string `json:"id"`
	Name  text   `json:"name"`
	Zone  string `json:"zone"`
	Lanes int    `json:"lanes"`
}

type ticketType struct {
	ID      string   `json:"id"`
	Name    text     `json:"name"`
	Zones   []string `json:"zones"` // empty: every zone
	Days    []string `json:"days"`  // empty: every event day
	Reentry bool     `json:"reentry"`
}

func (s *Server) eventInfo() eventInfo {
	ev := s.ev
	info := eventInfo{ID: ev.ID, Name: textOf(ev.Name), Venue: ev.Venue, TimeZone: ev.TimeZone,
		Days: []dayInfo{}, Zones: []zoneInfo{}, Gates: []gateInfo{}, TicketTypes: []ticketType{},
		TicketKeys: []string{}, ServerTime: s.clk.Now()}
	for _, d := range ev.Days {
		info.Days = append(info.Days, dayInfo{Date: d.Date, Open: d.Open, Close: d.Close})
	}
	for _, z := range ev.Zones {
		info.Zones = append(info.Zones, zoneInfo{ID: z.ID, Name: textOf(z.Name), Parent: z.Parent,
			Kind: z.Kind, Capacity: z.Capacity})
	}
	for _, g := range ev.Gates {
		info.Gates = append(info.Gates, gateInfo{ID: g.ID, Name: textOf(g.Name), Zone: g.Zone, Lanes: g.Lanes})
	}
	for _, t := range ev.TicketTypes {
		info.TicketTypes = append(info.TicketTypes, ticketType{ID: t.ID, Name: textOf(t.Name),
			Zones: append([]string{}, t.Zones...), Days: append([]string{}, t.Days...), Reentry: t.Reentry})
	}
	for _, k := range s.cfg.TicketKeys {
		info.TicketKeys = append(info.TicketKeys, base64.StdEncoding.EncodeToString(k))
	}
	return info
}

// serveEvent is GET /api/v1/event, for any valid token.
func (s *Server) serveEvent(w http.ResponseWriter, r *http.Request) {
	if _, err := s.authenticate(r); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.eventInfo())
}

// serveRevoked is GET /api/v1/revoked, for tokens that may scan: the
// revocation list, sorted, that a scanner applies while offline.
func (s *Server) serveRevoked(w http.ResponseWriter, r *http.Request) {
	if _, err := s.authorize(r, token.Scan, "read the revocation list"); err != nil {
		writeError(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.StoreTimeout)
	defer cancel()
	ids, err := s.store.Revoked(ctx)
	if err != nil {
		s.metrics.storeErrors.WithLabelValues(opRevoked).Inc()
		s.log.Warn("read revocation list", "err", err)
		writeError(w, errUnavailable)
		return
	}
	slices.Sort(ids)
	if ids == nil {
		ids = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"revoked": ids, "count": len(ids), "at": s.clk.Now()})
}

// serveHealth is GET /healthz: 200 while the process runs.
func (s *Server) serveHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// serveReady is GET /readyz: 200 when the store answers a ping within
// ReadyTimeout, with the store's durability mode (Config.StoreMode), else 503; 503 as well once shutdown has begun, so a load
// balancer sends new devices elsewhere.
func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	if s.isDraining() {
		writeError(w, newProblem(errUnavailable, "The gateway is shutting down."))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ReadyTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.metrics.storeErrors.WithLabelValues(opPing).Inc()
		s.log.Warn("store ping", "err", err)
		writeError(w, newProblem(errUnavailable, "The store does not answer."))
		return
	}
	ready := map[string]string{"status": "ready"}
	if s.cfg.StoreMode != "" {
		ready["store"] = s.cfg.StoreMode
	}
	writeJSON(w, http.StatusOK, ready)
}
