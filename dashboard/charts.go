package dashboard

import (
	"fmt"
	"html"
	"html/template"
	"strings"
	"time"

	"crowdflow/report"
)

// The reports page's charts are SVG drawn here, on the server, so that they
// print and go into the PDF as they are: no script, no charting library.
// Every text in them is escaped; numbers are Western digits.

// palette colours the zones of a chart, in the event file's order; it
// stays distinguishable in grey on a black-and-white printer.
var palette = []string{"#1f4e79", "#c55a11", "#548235", "#7030a0", "#bf9000", "#2e75b6", "#a50021", "#3b3838"}

// Levels drawn against a zone's capacity (DESIGN: warn 80 %, critical 90 %).
const (
	warnShare     = 0.8
	criticalShare = 0.9
)

// chart geometry, in SVG user units (the SVG scales to the page's width).
const (
	chartW, chartH = 720.0, 240.0
	curveW, curveH = 420.0, 200.0
	padL, padR     = 48.0, 12.0
	padT, padB     = 12.0, 28.0
)

// svg is a chart being drawn, w by h user units.
type svg struct {
	b    strings.Builder
	w, h float64
}

func newSVG(w, h float64) *svg { return &svg{w: w, h: h} }

func (s *svg) f(format string, args ...any) { fmt.Fprintf(&s.b, format, args...) }

func (s *svg) html() template.HTML { return template.HTML(s.b.String()) }

func esc(s string) string { return html.EscapeString(s) }

// niceMax rounds a chart's top up to 1, 2 or 5 times a power of ten.
func niceMax(v int) int {
	if v <= 5 {
		return 5
	}
	p := 1
	for p*10 <= v {
		p *= 10
	}
	for _, m := range []int{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// axes draws the frame, y grid lines with their figures, and the hours below.
func (s *svg) axes(top int, hours []string, title string) {
	plotH := s.h - padT - padB
	s.f(`<title>%s</title>`, esc(title))
	for i := 0; i <= 4; i++ {
		v := top * i / 4
		y := padT + plotH - plotH*float64(v)/float64(top)
		s.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#d9d9d9" stroke-width="1"/>`, padL, y, s.w-padR, y)
		s.f(`<text x="%.1f" y="%.1f" text-anchor="end" font-size="10" fill="#444">%d</text>`, padL-4, y+3, v)
	}
	n := len(hours)
	if n == 0 {
		return
	}
	step := (s.w - padL - padR) / float64(n)
	for i, h := range hours {
		x := padL + step*(float64(i)+0.5)
		s.f(`<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10" fill="#444">%s</text>`, x, s.h-padB+14, esc(h))
	}
}

func hourLabels(d report.Day) []string {
	out := make([]string, len(d.Hours))
	for i, h := range d.Hours {
		out[i] = h.Hour + "h"
	}
	return out
}

// hourlyEntries draws, per hour, the entries of each zone (tickets and
// tallies) as one line per zone.
func hourlyEntries(d report.Day, zones []report.Zone, lang string, title string) template.HTML {
	s := newSVG(chartW, chartH)
	top := 0
	for _, h := range d.Hours {
		for _, z := range h.Zones {
			top = max(top, z.Entries+z.TallyIn)
		}
	}
	top = niceMax(top)
	s.f(`<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" direction="ltr" dir="ltr">`, chartW, chartH, esc(title))
	s.axes(top, hourLabels(d), title)
	plotH := chartH - padT - padB
	step := (chartW - padL - padR) / float64(max(len(d.Hours), 1))
	for zi := range zones {
		var pts []string
		for i, h := range d.Hours {
			v := h.Zones[zi].Entries + h.Zones[zi].TallyIn
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", padL+step*(float64(i)+0.5), padT+plotH-plotH*float64(v)/float64(top)))
		}
		s.f(`<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`, strings.Join(pts, " "), palette[zi%len(palette)])
	}
	s.f(`</svg>`)
	s.legend(zones, lang)
	return s.html()
}

// legend writes the zones' colours, as HTML below a chart.
func (s *svg) legend(zones []report.Zone, lang string) {
	s.f(`<ul class="legend">`)
	for i, z := range zones {
		s.f(`<li><svg viewBox="0 0 12 12" width="12" height="12"><rect width="12" height="12" fill="%s"/></svg>%s</li>`,
			palette[i%len(palette)], esc(z.Name.In(lang)))
	}
	s.f(`</ul>`)
}

// occupancyCurve draws one zone's occupancy at the end of each hour as a
// step line against its capacity and the warn and critical levels, with
// the day's peak marked where it happened.
func occupancyCurve(d report.Day, zi int, z report.Zone, labels map[string]string, rtl bool) template.HTML {
	s := newSVG(curveW, curveH)
	peak := d.Zones[zi]
	top := niceMax(max(z.Capacity, peak.PeakOccupancy))
	title := labels["occupancy"]
	s.f(`<svg class="chart small" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" direction="ltr" dir="ltr">`, s.w, s.h, esc(title))
	s.axes(top, hourLabels(d), title)
	plotH := s.h - padT - padB
	y := func(v int) float64 { return padT + plotH - plotH*float64(v)/float64(top) }
	for _, l := range []struct {
		v     int
		color string
		dash  string
		name  string
	}{
		{z.Capacity, "#c00000", "", labels["capacity"]},
		{int(float64(z.Capacity) * criticalShare), "#e46c0a", "6 3", labels["critical"]},
		{int(float64(z.Capacity) * warnShare), "#bf9000", "3 3", labels["warn"]},
	} {
		s.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5" stroke-dasharray="%s"/>`,
			padL, y(l.v), s.w-padR, y(l.v), l.color, l.dash)
		// The figure and the words apart, each in its own direction, so
		// that an Arabic label does not reorder the figure.
		s.f(`<text x="%.1f" y="%.1f" text-anchor="end" font-size="10" fill="%s">%d</text>`,
			s.w-padR-2, y(l.v)-3, l.color, l.v)
		s.f(`<text x="%.1f" y="%.1f" text-anchor="%s" direction="%s" font-size="10" fill="%s">%s</text>`,
			s.w-padR-34, y(l.v)-3, anchorEnd(rtl), dir(rtl), l.color, esc(l.name))
	}
	n := len(d.Hours)
	if n > 0 {
		step := (s.w - padL - padR) / float64(n)
		pts := []string{fmt.Sprintf("%.1f,%.1f", padL, y(0))}
		for i, h := range d.Hours {
			v := h.Zones[zi].Occupancy
			pts = append(pts, fmt.Sprintf("%.1f,%.1f %.1f,%.1f", padL+step*float64(i), y(v), padL+step*float64(i+1), y(v)))
		}
		s.f(`<polyline points="%s" fill="none" stroke="#1f4e79" stroke-width="2"/>`, strings.Join(pts, " "))
		if peak.PeakAt != nil && peak.PeakOccupancy > 0 {
			if t, err := time.Parse(time.RFC3339, *peak.PeakAt); err == nil {
				for i, h := range d.Hours {
					start, _ := time.Parse(time.RFC3339, h.Start)
					if !t.Before(start) && t.Before(start.Add(time.Hour)) {
						x := padL + step*(float64(i)+t.Sub(start).Hours())
						s.f(`<circle cx="%.1f" cy="%.1f" r="4" fill="#c00000"/>`, x, y(peak.PeakOccupancy))
						s.f(`<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10" fill="#c00000">%d · %s</text>`,
							x, y(peak.PeakOccupancy)-7, peak.PeakOccupancy, esc(t.Format("15:04")))
					}
				}
			}
		}
	}
	s.f(`</svg>`)
	return s.html()
}

// heatmap draws the site's entries (tickets and tallies) per day and hour,
// darker for more.
func heatmap(days []report.Day, labels map[string]string) template.HTML {
	s := newSVG(chartW, 0)
	hours := []string{}
	seen := map[string]bool{}
	top := 1
	for _, d := range days {
		for _, h := range d.Hours {
			if !seen[h.Hour] {
				seen[h.Hour] = true
				hours = append(hours, h.Hour)
			}
			top = max(top, h.Zones[0].Entries+h.Zones[0].TallyIn)
		}
	}
	const rowH, labelW = 26.0, 80.0
	cellW := (chartW - labelW - padR) / float64(max(len(hours), 1))
	height := padT + rowH*float64(len(days)) + 20
	s.f(`<svg class="chart heat" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" direction="ltr" dir="ltr">`, chartW, height, esc(labels["heatmap"]))
	s.f(`<title>%s</title>`, esc(labels["heatmap"]))
	for i, h := range hours {
		s.f(`<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10" fill="#444">%sh</text>`,
			labelW+cellW*(float64(i)+0.5), padT+rowH*float64(len(days))+14, esc(h))
	}
	for r, d := range days {
		yy := padT + rowH*float64(r)
		s.f(`<text x="%.1f" y="%.1f" text-anchor="end" font-size="10" fill="#444">%s</text>`, labelW-6, yy+rowH/2+3, esc(d.Date))
		byHour := map[string]int{}
		for _, h := range d.Hours {
			byHour[h.Hour] = h.Zones[0].Entries + h.Zones[0].TallyIn
		}
		for i, h := range hours {
			v := byHour[h]
			a := float64(v) / float64(top)
			s.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#1f4e79" fill-opacity="%.2f" stroke="#fff"/>`,
				labelW+cellW*float64(i), yy, cellW, rowH, 0.05+0.95*a)
			fill := "#000"
			if a > 0.5 {
				fill = "#fff"
			}
			s.f(`<text x="%.1f" y="%.1f" text-anchor="middle" font-size="9" fill="%s">%d</text>`,
				labelW+cellW*(float64(i)+0.5), yy+rowH/2+3, fill, v)
		}
	}
	s.f(`</svg>`)
	return s.html()
}

func dir(rtl bool) string {
	if rtl {
		return "rtl"
	}
	return "ltr"
}

// anchorEnd is the text-anchor that puts a text's end at x: in SVG, "start"
// is the right end of right-to-left text.
func anchorEnd(rtl bool) string {
	if rtl {
		return "start"
	}
	return "end"
}
