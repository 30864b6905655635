package gateway

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"crowdflow/report"
	"crowdflow/token"
)

// reportTimeout bounds the store reads of one report: a few hash reads,
// whatever the size of the event log.
const reportTimeout = 10 * time.Second

// opReport labels the store errors of reports in crowdflow_store_errors_total.
const opReport = "report"

// buildReport checks the request's organizer role and day, and reads the
// report. The errors are for the client (classify).
func (s *Server) buildReport(r *http.Request) (*report.Report, error) {
	if _, err := s.authorize(r, token.Reports, "read the reports (organizer or supervisor)"); err != nil {
		return nil, err
	}
	day := r.URL.Query().Get("day")
	if day == "" {
		day = s.defaultReportDay()
	}
	if _, err := report.ParseScope(s.ev, day); err != nil {
		if errors.Is(err, report.ErrNoDay) {
			return nil, newProblem(errNotFound, "day: %v.", err)
		}
		return nil, newProblem(errMalformed, "day: %v.", err)
	}
	ctx, cancel := context.WithTimeout(r.Context(), reportTimeout)
	defer cancel()
	rep, err := report.Build(ctx, s.store, s.ev, day)
	if err != nil {
		s.metrics.storeErrors.WithLabelValues(opReport).Inc()
		s.log.Warn("read report", "day", day, "err", err)
		return nil, errUnavailable
	}
	return rep, nil
}

// defaultReportDay is today's event day on the event clock, else "all".
func (s *Server) defaultReportDay() string {
	if d, ok := s.ev.DayOf(s.clk.Now()); ok {
		return d.Date
	}
	return report.All
}

// serveReport is GET /api/v1/report?day=YYYY-MM-DD|all&format=json|csv[&sep=;]
// for the organizer role (CONTRACT §5, §7).
func (s *Server) serveReport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format := q.Get("format")
	if format == "" {
		format = "json"
	}
	sep, err := report.ParseSep(q.Get("sep"))
	switch {
	case format != "json" && format != "csv":
		writeError(w, newProblem(errMalformed, "format %.20q: want json or csv.", format))
		return
	case err != nil:
		writeError(w, newProblem(errMalformed, "sep: %v.", err))
		return
	}
	rep, err := s.buildReport(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var buf bytes.Buffer
	h := w.Header()
	if format == "csv" {
		err = report.WriteCSV(&buf, rep, sep)
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", `attachment; filename="`+url.PathEscape("crowdflow-"+rep.Event+"-"+rep.Scope)+`.csv"`)
	} else {
		err = report.WriteJSON(&buf, rep)
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	if err != nil {
		s.log.Error("encode report", "err", err)
		writeError(w, err)
		return
	}
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(buf.Bytes())
}

// serveReportsPage is GET /reports: the reports page, drawn by
// Config.ReportPage. Without a session the browser goes to the login page
// and comes back.
func (s *Server) serveReportsPage(w http.ResponseWriter, r *http.Request) {
	if s.cfg.ReportPage == nil {
		writeError(w, newProblem(errNotFound, "Nothing at %s.", r.URL.Path))
		return
	}
	if _, err := requestToken(r); err != nil {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	rep, err := s.buildReport(r)
	if err != nil {
		writeError(w, err)
		return
	}
	s.cfg.ReportPage(w, r, rep)
}
