package dashboard

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"crowdflow/report"
)

// Langs are the page languages; the first is the default.
var Langs = []string{"ar", "fr", "en"}

// reportLabels are the reports page's words, per language.
var reportLabels = map[string]map[string]string{
	"title":      {"ar": "تقرير الحضور", "fr": "Rapport de fréquentation", "en": "Attendance report"},
	"all":        {"ar": "المعرض كاملاً", "fr": "Toute la foire", "en": "Whole fair"},
	"show":       {"ar": "عرض", "fr": "Afficher", "en": "Show"},
	"day":        {"ar": "اليوم", "fr": "Jour", "en": "Day"},
	"print":      {"ar": "طباعة", "fr": "Imprimer", "en": "Print"},
	"zones":      {"ar": "المناطق", "fr": "Zones", "en": "Zones"},
	"zone":       {"ar": "المنطقة", "fr": "Zone", "en": "Zone"},
	"entries":    {"ar": "دخول", "fr": "Entrées", "en": "Entries"},
	"exits":      {"ar": "خروج", "fr": "Sorties", "en": "Exits"},
	"unique":     {"ar": "زوار فريدون", "fr": "Visiteurs uniques", "en": "Unique visitors"},
	"peak":       {"ar": "الذروة", "fr": "Pic", "en": "Peak"},
	"peak_at":    {"ar": "وقت الذروة", "fr": "Heure du pic", "en": "Peak at"},
	"tally_in":   {"ar": "عدّ دخول", "fr": "Comptés entrés", "en": "Tally in"},
	"tally_out":  {"ar": "عدّ خروج", "fr": "Comptés sortis", "en": "Tally out"},
	"dwell_med":  {"ar": "مدة المكوث الوسيطة (د)", "fr": "Durée médiane (min)", "en": "Median stay (min)"},
	"dwell_p90":  {"ar": "مدة المكوث P90 (د)", "fr": "Durée P90 (min)", "en": "P90 stay (min)"},
	"swept":      {"ar": "أُخرجوا عند الإغلاق", "fr": "Sortis à la fermeture", "en": "Swept at closing"},
	"refusals":   {"ar": "الرفض", "fr": "Refus", "en": "Refusals"},
	"hours":      {"ar": "حسب الساعة", "fr": "Par heure", "en": "By hour"},
	"hour":       {"ar": "الساعة", "fr": "Heure", "en": "Hour"},
	"occ_end":    {"ar": "الحضور آخر الساعة", "fr": "Présents en fin d'heure", "en": "Inside at end of hour"},
	"gates":      {"ar": "البوابات", "fr": "Portes", "en": "Gates"},
	"gate":       {"ar": "البوابة", "fr": "Porte", "en": "Gate"},
	"scans":      {"ar": "المسحات", "fr": "Scans", "en": "Scans"},
	"busiest":    {"ar": "الدقيقة الأكثر ازدحاماً", "fr": "Minute la plus chargée", "en": "Busiest minute"},
	"busiest_n":  {"ar": "مسحات في تلك الدقيقة", "fr": "Scans cette minute", "en": "Scans that minute"},
	"offline":    {"ar": "رفع بعد انقطاع", "fr": "Envois hors ligne", "en": "Offline uploads"},
	"overrides":  {"ar": "تجاوزات دون اتصال", "fr": "Dérogations hors ligne", "en": "Offline overrides"},
	"conflicts":  {"ar": "تعارض المعرّفات", "fr": "Conflits d'identifiant", "en": "ID conflicts"},
	"chart_in":   {"ar": "الدخول حسب الساعة والمنطقة", "fr": "Entrées par heure et par zone", "en": "Entries per hour and zone"},
	"occupancy":  {"ar": "الحضور مقابل السعة", "fr": "Présents face à la capacité", "en": "Occupancy against capacity"},
	"capacity":   {"ar": "السعة", "fr": "Capacité", "en": "Capacity"},
	"warn":       {"ar": "تنبيه 80%", "fr": "Alerte 80 %", "en": "Warn 80%"},
	"critical":   {"ar": "حرج 90%", "fr": "Critique 90 %", "en": "Critical 90%"},
	"heatmap":    {"ar": "دخول الموقع حسب اليوم والساعة", "fr": "Entrées sur le site par jour et par heure", "en": "Site entries by day and hour"},
	"total":      {"ar": "مجموع المعرض", "fr": "Total de la foire", "en": "Whole fair total"},
	"closed_at":  {"ar": "أُغلق اليوم", "fr": "Journée close à", "en": "Day closed at"},
	"open_day":   {"ar": "اليوم لم يُغلق بعد", "fr": "Journée non close", "en": "Day not closed yet"},
	"source":     {"ar": "من سجل العدّ، بتوقيت", "fr": "D'après le registre, heure de", "en": "From the ledger, times in"},
	"none":       {"ar": "—", "fr": "—", "en": "—"},
	"stays":      {"ar": "إقامات مكتملة", "fr": "Séjours complets", "en": "Completed stays"},
	"unique_all": {"ar": "زوار فريدون (كل الأيام)", "fr": "Visiteurs uniques (tous les jours)", "en": "Unique visitors (all days)"},
}

// labels returns the words in lang.
func labels(lang string) map[string]string {
	out := make(map[string]string, len(reportLabels))
	for k, v := range reportLabels {
		out[k] = v[lang]
	}
	return out
}

// refusalNames name the refusal codes on the page.
var refusalNames = map[string]map[string]string{
	"already_inside":  {"ar": "بالداخل مسبقاً", "fr": "déjà à l'intérieur", "en": "already inside"},
	"already_used":    {"ar": "مستعملة", "fr": "déjà utilisé", "en": "already used"},
	"zone_full":       {"ar": "المنطقة ممتلئة", "fr": "zone pleine", "en": "zone full"},
	"invalid_ticket":  {"ar": "تذكرة غير صالحة", "fr": "billet invalide", "en": "invalid ticket"},
	"revoked":         {"ar": "ملغاة", "fr": "révoqué", "en": "revoked"},
	"not_valid_today": {"ar": "غير صالحة اليوم", "fr": "pas valable ce jour", "en": "not valid today"},
	"closed":          {"ar": "مغلق", "fr": "fermé", "en": "closed"},
	"no_access":       {"ar": "دخول غير مسموح", "fr": "accès refusé", "en": "no access"},
	"unknown_gate":    {"ar": "بوابة مجهولة", "fr": "porte inconnue", "en": "unknown gate"},
}

var reportTmpl = template.Must(template.New("reports.html").Funcs(template.FuncMap{
	"name":     func(t report.Text, lang string) string { return t.In(lang) },
	"hm":       localTime("15:04"),            // HH:MM
	"dhm":      localTime("2006-01-02 15:04"), // date and HH:MM
	"optint":   optint,
	"key":      func(parts ...string) string { return strings.Join(parts, ".") },
	"itoa":     func(n int) string { return itoa(n) },
	"refusal":  func(code, lang string) string { return refusalNames[code][lang] },
	"codes":    report.RefusalCodes,
	"refusals": refusalsHTML,
	"gates": func(gs []report.Gate, scope string, p page) gateTable {
		return gateTable{Gates: gs, Scope: scope, L: p.L, Lang: p.Lang}
	},
	"zones": func(zs []report.ZoneFigure, scope string, p page) zoneTable {
		return zoneTable{Zones: zs, Names: p.R.Zones, Scope: scope, L: p.L, Lang: p.Lang}
	},
}).ParseFS(files, "pages/reports.html"))

// localTime formats an RFC 3339 time of the report (they carry the event's
// offset, so this is local time) in layout, or shows a dash for none.
func localTime(layout string) func(*string) string {
	return func(s *string) string { return report.FormatStamp(s, layout, "—") }
}

func optint(p *int) string {
	if p == nil {
		return "—"
	}
	return itoa(*p)
}

func itoa(n int) string { return strconv.Itoa(n) }

// gateTable is what the "gates" template draws.
type gateTable struct {
	Gates []report.Gate
	Scope string
	L     map[string]string
	Lang  string
}

// zoneTable is what the "zones" template draws: a day's zones, or the
// whole fair's ("all").
type zoneTable struct {
	Zones []report.ZoneFigure
	Names []report.Zone
	Scope string
	L     map[string]string
	Lang  string
}

// refusalsHTML lists the refusals by code, in the reports' order, each with
// its data-k.
func refusalsHTML(m map[string]int, lang, key string) template.HTML {
	var b strings.Builder
	for _, c := range report.RefusalCodes() {
		if n := m[c]; n > 0 {
			fmt.Fprintf(&b, `<span class="refusal">%s <b data-k="%s">%d</b></span> `,
				template.HTMLEscapeString(refusalNames[c][lang]), template.HTMLEscapeString(key+".refusals."+c), n)
		}
	}
	if b.Len() == 0 {
		return "—"
	}
	return template.HTML(b.String())
}

// PageOptions say how a reports page is drawn.
type PageOptions struct {
	// Lang is ar, fr or en; anything else is Langs[0].
	Lang string
	// Standalone puts the style sheet in the page and leaves out the
	// navigation, for a file or a PDF that is read without the gateway.
	Standalone bool
}

type pageDay struct {
	report.Day
	Entries template.HTML
	Curves  []template.HTML
}

type page struct {
	R          *report.Report
	Lang, Dir  string
	L          map[string]string
	Days       []pageDay
	Heatmap    template.HTML
	Standalone bool
	CSS        template.CSS
	Langs      []string
}

// WriteReportPage writes the reports page of r: tables of every figure,
// and the charts drawn as SVG. Every figure shown carries its JSON path in
// data-k (e.g. "2025-09-17.site.entries"), which the browser tests compare
// with the JSON form.
func WriteReportPage(w io.Writer, r *report.Report, o PageOptions) error {
	lang := o.Lang
	if !slices.Contains(Langs, lang) {
		lang = Langs[0]
	}
	p := page{R: r, Lang: lang, Dir: "ltr", L: labels(lang), Standalone: o.Standalone, Langs: Langs}
	if lang == "ar" {
		p.Dir = "rtl"
	}
	if o.Standalone {
		css, _ := files.ReadFile("static/css/reports.css")
		p.CSS = template.CSS(css)
	}
	for _, d := range r.Days {
		pd := pageDay{Day: d, Entries: hourlyEntries(d, r.Zones, lang, p.L["chart_in"])}
		for i, z := range r.Zones {
			pd.Curves = append(pd.Curves, occupancyCurve(d, i, z, p.L, p.Dir == "rtl"))
		}
		p.Days = append(p.Days, pd)
	}
	p.Heatmap = heatmap(r.Days, p.L)
	return reportTmpl.Execute(w, p)
}

// ReportPage answers a request for the reports page of r: the language from
// ?lang=, else the browser's first of Langs, else Arabic; with the same
// security headers as every page.
func ReportPage(w http.ResponseWriter, req *http.Request, r *report.Report) {
	var buf bytes.Buffer
	if err := WriteReportPage(&buf, r, PageOptions{Lang: pageLang(req)}); err != nil {
		http.Error(w, "the reports page could not be drawn", http.StatusInternalServerError)
		return
	}
	sum := sha256.Sum256(buf.Bytes())
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("ETag", `"`+base64.RawURLEncoding.EncodeToString(sum[:12])+`"`)
	secure(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(buf.Bytes())
	})).ServeHTTP(w, req)
}

func pageLang(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); slices.Contains(Langs, l) {
		return l
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if slices.Contains(Langs, base) {
			return base
		}
	}
	return Langs[0]
}
