package console

import (
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// pageNames are the templates in templates/, one a page, each rendered
// inside layout.html.
var pageNames = []string{"login", "error", "overview", "ridership", "rejections", "flagged", "card", "terminals", "batch", "fares", "cycles", "cycle", "party", "keys", "apps", "app", "apprecords", "attendance"}

var funcs = template.FuncMap{
	"yuan":  yuan,
	"num":   num,
	"delta": delta,
	"query": urlQueryEscape,
	"ago":   ago,
}

func (c *Console) parsePages() error {
	c.pages = map[string]*template.Template{}
	for _, p := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/"+p+".html")
		if err != nil {
			return err
		}
		c.pages[p] = t
	}
	return nil
}

// view is what every page's template gets.
type view struct {
	Title string
	Page  string
	Staff *Staff // nil on the login page
	CSRF  string
	Data  any
}

// render writes page with data. A template that fails midway is a
// programmer's error: logged, the answer cut short.
func (c *Console) render(w http.ResponseWriter, r *http.Request, s *session, code int, page, title string, data any) {
	v := view{Title: title, Page: page, Data: data}
	if s != nil {
		st := s.staff
		v.Staff, v.CSRF = &st, s.csrf
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if err := c.pages[page].Execute(w, v); err != nil {
		c.Logger.Error("console: template", "page", page, "path", r.URL.Path, "err", err)
	}
}

// yuan writes fen as yuan with two decimals and thousands separators,
// in integer arithmetic: ¥1,234.05, -¥0.50.
func yuan(fen int64) string {
	sign := ""
	u := uint64(fen)
	if fen < 0 {
		sign, u = "-", uint64(-fen)
	}
	return sign + "¥" + group(u/100) + "." + pad2(u%100)
}

func pad2(v uint64) string {
	if v < 10 {
		return "0" + strconv.FormatUint(v, 10)
	}
	return strconv.FormatUint(v, 10)
}

// num writes n with thousands separators.
func num(n int64) string {
	if n < 0 {
		return "-" + group(uint64(-n))
	}
	return group(uint64(n))
}

func group(u uint64) string {
	s := strconv.FormatUint(u, 10)
	var b strings.Builder
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	return b.String()
}

// delta writes the change from was to now in per cent, one decimal,
// rounded half away from zero in integer arithmetic: "+12.5%", "-3.0%",
// "0.0%" (no sign: less than 0.05% either way); "new" when was is 0 and now is not, "" when both are.
func delta(now, was int64) string {
	switch {
	case was == 0 && now == 0:
		return ""
	case was == 0:
		return "new"
	}
	// Per mille, rounded: (now-was)*1000/was.
	d := (now - was) * 1000
	q, rem := d/was, d%was
	if 2*abs(rem) >= abs(was) {
		if (d < 0) != (was < 0) {
			q--
		} else {
			q++
		}
	}
	sign := "+"
	switch {
	case q == 0:
		sign = ""
	case q < 0:
		sign, q = "-", -q
	}
	return sign + strconv.FormatInt(q/10, 10) + "." + strconv.FormatInt(q%10, 10) + "%"
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// ago writes how long before now t was, coarsely; "never" for zero.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "in the future"
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min ago"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + " h ago"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + " days ago"
}

// chart is what console.js draws with Chart.js: a canvas's data-chart
// attribute holds it as JSON.
type chart struct {
	Type     string    `json:"type"` // bar or line
	Labels   []string  `json:"labels"`
	Datasets []dataset `json:"datasets"`
}

type dataset struct {
	Label string  `json:"label"`
	Data  []int64 `json:"data"`
	// Yuan says the data are fen, to be shown as yuan.
	Yuan bool `json:"yuan,omitempty"`
}

// JSON is the chart as the attribute holds it.
func (ch chart) JSON() string {
	b, err := json.Marshal(ch)
	if err != nil {
		return "{}" // strings and integers always marshal
	}
	return string(b)
}
