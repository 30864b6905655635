package scanner

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"
)

// maxAPIBody bounds a download from the gateway's API: a million revoked
// ticket ids of 16 characters fit with room to spare.
const maxAPIBody = 32 << 20

// fetchRevoked starts the download of the revocation list (and, once per
// connection, a check of the gateway's event against this scanner's); the
// result comes back as an evRevoked event.
func (l *loop) fetchRevoked(checkEvent bool) {
	l.fetching = true
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		ev := connEvent{kind: evRevoked}
		if checkEvent {
			ev.warning = l.s.CheckEvent(l.ctx)
		}
		ev.revoked, ev.at, ev.err = l.s.FetchRevoked(l.ctx)
		select {
		case l.events <- ev:
		case <-l.ctx.Done():
		}
	}()
}

// get fetches path from the gateway's API with the scanner's token and
// decodes the JSON answer into v.
func (s *Scanner) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.apiBase+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.cfg.Token)
	req.Header.Set("Accept", "application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIBody))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", path, resp.StatusCode)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

// FetchRevoked downloads the revocation list (GET /api/v1/revoked:
// {"revoked":[ids],"count":n,"at":time}) and returns it with the time the
// gateway made it (the scanner's clock when the gateway gives none).
func (s *Scanner) FetchRevoked(ctx context.Context) ([]string, time.Time, error) {
	var doc struct {
		Revoked *[]string `json:"revoked"`
		At      time.Time `json:"at"`
	}
	if err := s.get(ctx, "/api/v1/revoked", &doc); err != nil {
		return nil, time.Time{}, fmt.Errorf("revocation list: %w", err)
	}
	if doc.Revoked == nil {
		return nil, time.Time{}, errors.New("revocation list: no revoked field")
	}
	if doc.At.IsZero() {
		doc.At = s.clk.Now()
	}
	return *doc.Revoked, doc.At, nil
}

// CheckEvent compares the gateway's event (GET /api/v1/event) with the event
// file and ticket key this scanner decides offline with, and returns a
// warning for a person when they differ ("" when they agree or cannot be
// compared): offline decisions with the wrong file or key would be wrong.
func (s *Scanner) CheckEvent(ctx context.Context) string {
	if s.off == nil {
		return ""
	}
	var info struct {
		ID         string   `json:"id"`
		TicketKeys []string `json:"ticket_keys"`
	}
	if err := s.get(ctx, "/api/v1/event", &info); err != nil {
		s.log.Info("event not compared with the gateway's", "err", err)
		return ""
	}
	if info.ID != s.off.Event().ID {
		return fmt.Sprintf("the gateway runs event %q, this scanner's event file is %q: offline decisions would be wrong", info.ID, s.off.Event().ID)
	}
	if len(info.TicketKeys) == 0 || len(s.cfg.TicketKeys) == 0 {
		return ""
	}
	for _, k := range s.cfg.TicketKeys {
		if slices.Contains(info.TicketKeys, base64.StdEncoding.EncodeToString(k)) {
			return ""
		}
	}
	return "the gateway's ticket key differs from this scanner's ticket.pub: offline decisions would refuse genuine tickets"
}
