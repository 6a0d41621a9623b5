package console

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/sim"
)

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// get fetches path with the client and returns the answer and its body.
func (f *fixture) get(t *testing.T, cl *http.Client, path string) (*http.Response, string) {
	t.Helper()
	return f.read(t)(cl.Get(f.srv.URL + path))
}

func (f *fixture) post(t *testing.T, cl *http.Client, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	return f.read(t)(cl.PostForm(f.srv.URL+path, form))
}

// read returns a function reading an answer's body whole.
func (f *fixture) read(t *testing.T) func(*http.Response, error) (*http.Response, string) {
	return func(resp *http.Response, err error) (*http.Response, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(b)
	}
}

// login logs cl in as role and returns the session's CSRF token.
func (f *fixture) login(t *testing.T, cl *http.Client, role Role) string {
	t.Helper()
	_, page := f.get(t, cl, "/login")
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf field on the login page: %s", page)
	}
	resp, _ := f.post(t, cl, "/login", url.Values{"csrf": {m[1]}, "name": {role.String()}, "secret": {f.secrets[role]}, "next": {"/"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login as %v: %d to %q, want 303 to /", role, resp.StatusCode, resp.Header.Get("Location"))
	}
	_, page = f.get(t, cl, "/")
	m = csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf field on the overview: %s", page)
	}
	return m[1]
}

func TestLoginSessionCookie(t *testing.T) {
	f := newFixture(t)
	cl := f.client(t)
	resp, _ := f.get(t, cl, "/ridership?day=x")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next="+url.QueryEscape("/ridership?day=x") {
		t.Fatalf("unauthenticated: %d to %q, want 303 to the login page and back", resp.StatusCode, resp.Header.Get("Location"))
	}
	// A wrong secret, then a login form without its cookie's token.
	_, page := f.get(t, cl, "/login")
	tok := csrfField.FindStringSubmatch(page)[1]
	if resp, _ := f.post(t, cl, "/login", url.Values{"csrf": {tok}, "name": {"auditor"}, "secret": {"wrong"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d, want 401", resp.StatusCode)
	}
	_, page = f.get(t, cl, "/login")
	tok = csrfField.FindStringSubmatch(page)[1]
	if resp, page := f.post(t, cl, "/login", url.Values{"csrf": {tok}, "name": {"limited"}, "secret": {"any"}}); resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(page, "Too many failed logins for that name: try again in 15 minutes") {
		t.Fatalf("a name refused after failed logins: %d, want 403 saying so", resp.StatusCode)
	}
	if resp, _ := f.post(t, cl, "/login", url.Values{"csrf": {"forged"}, "name": {"auditor"}, "secret": {f.secrets[RoleAuditor]}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("login CSRF token not the cookie's: %d, want 403", resp.StatusCode)
	}
	_, page = f.get(t, cl, "/login")
	tok = csrfField.FindStringSubmatch(page)[1]
	resp, _ = f.post(t, cl, "/login", url.Values{"csrf": {tok}, "name": {"auditor"}, "secret": {f.secrets[RoleAuditor]}, "next": {"//evil.example/"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login with next=//evil.example/: %d to %q, want 303 to / (only this site's paths)", resp.StatusCode, resp.Header.Get("Location"))
	}
	var sc *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			sc = c
		}
	}
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.Secure || sc.Path != "/" || sc.MaxAge != int(DefaultSessionTTL/time.Second) {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/, not Secure without TLS, Max-Age of the TTL", sc)
	}
	f.c.Secure = true
	if got := f.c.cookie("x", "y", 1); !got.Secure {
		t.Fatal("Secure console: cookie not Secure")
	}
}

func TestCSRFAndRoles(t *testing.T) {
	f := newFixture(t)
	aud, op := f.client(t), f.client(t)
	audTok, opTok := f.login(t, aud, RoleAuditor), f.login(t, op, RoleClerk)
	rs, err := f.j.QueryRejections(context.Background(), acquire.RejectionFilter{Limit: 1})
	if err != nil || len(rs) != 1 {
		t.Fatalf("the fixture has no rejection: %v", err)
	}
	path := "/rejections/" + strconv.FormatInt(rs[0].Pos, 10) + "/resubmit"
	for _, tc := range []struct {
		name string
		cl   *http.Client
		form url.Values
		want int
	}{
		{"operator without a CSRF token", op, url.Values{}, http.StatusForbidden},
		{"operator with the auditor's token", op, url.Values{"csrf": {audTok}}, http.StatusForbidden},
		{"auditor with their token: the role is too low", aud, url.Values{"csrf": {audTok}}, http.StatusForbidden},
		{"operator with their token", op, url.Values{"csrf": {opTok}}, http.StatusSeeOther},
	} {
		resp, body := f.post(t, tc.cl, path, tc.form)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d: %s", tc.name, resp.StatusCode, tc.want, body)
		}
	}
	// The operator's resubmission is kept: the page says so, once.
	_, page := f.get(t, aud, "/rejections")
	if !strings.Contains(page, "resubmitted: rejected") || strings.Contains(page, `class="resubmit"`) {
		t.Errorf("the auditor's rejections page: want the resubmission shown and no resubmit button")
	}
	// Blacklisting is the operator's too.
	card := url.Values{"issuer": {"31500001FFFFFFFF"}, "asn": {f.city.Cards[0].ASN.String()}, "listed": {"true"}, "reason": {"lost"}}
	card.Set("csrf", audTok)
	if resp, _ := f.post(t, aud, "/cards/blacklist", card); resp.StatusCode != http.StatusForbidden {
		t.Errorf("auditor blacklisting: %d, want 403", resp.StatusCode)
	}
	card.Set("csrf", opTok)
	if resp, body := f.post(t, op, "/cards/blacklist", card); resp.StatusCode != http.StatusOK || !strings.Contains(body, "Card listed, blacklist version 1.") {
		t.Errorf("operator blacklisting: %d: %s", resp.StatusCode, body)
	}
	if !f.bl.Contains(sim.Issuer, f.city.Cards[0].ASN) {
		t.Error("the card is not on the blacklist after the operator listed it")
	}
	// Logging out takes the token; the session is gone after.
	if resp, _ := f.post(t, aud, "/logout", url.Values{}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("logout without a CSRF token: %d, want 403", resp.StatusCode)
	}
	if resp, _ := f.post(t, aud, "/logout", url.Values{"csrf": {audTok}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("logout: %d, want 303", resp.StatusCode)
	}
	if resp, _ := f.get(t, aud, "/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after logout: %d, want 303 to the login page", resp.StatusCode)
	}
}

// TestSessionExpiry: a session lives SessionTTL from login, to the
// nanosecond before; at the TTL it is gone.
func TestSessionExpiry(t *testing.T) {
	f := newFixture(t)
	cl := f.client(t)
	f.login(t, cl, RoleAuditor)
	start := f.now
	f.now = start.Add(DefaultSessionTTL - time.Nanosecond)
	if resp, _ := f.get(t, cl, "/"); resp.StatusCode != http.StatusOK {
		t.Fatalf("a nanosecond before the TTL: %d, want 200", resp.StatusCode)
	}
	f.now = start.Add(DefaultSessionTTL)
	if resp, _ := f.get(t, cl, "/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("at the TTL: %d, want 303 to the login page", resp.StatusCode)
	}
	if n := f.c.sessions.len(); n != 0 {
		t.Fatalf("the expired session is still held: %d sessions", n)
	}
}

// TestSessionTableBound: at MaxSessions, a login drops the expired
// sessions, then the one nearest its expiry; the table never grows past.
func TestSessionTableBound(t *testing.T) {
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	ss := newSessions(3, time.Hour, func() time.Time { return now })
	first, _ := ss.create(Staff{Name: "a"})
	now = now.Add(time.Minute)
	second, _ := ss.create(Staff{Name: "b"})
	third, _ := ss.create(Staff{Name: "c"})
	if ss.len() != 3 {
		t.Fatalf("%d sessions, want 3 (the bound)", ss.len())
	}
	fourth, _ := ss.create(Staff{Name: "d"})
	if ss.len() != 3 {
		t.Fatalf("%d sessions after one past the bound, want 3", ss.len())
	}
	if _, ok := ss.get(first); ok {
		t.Error("the session nearest its expiry was kept")
	}
	for _, id := range []string{second, third, fourth} {
		if _, ok := ss.get(id); !ok {
			t.Error("a newer session was dropped")
		}
	}
	// Expired sessions go first: all three expire, one login keeps one.
	now = now.Add(2 * time.Hour)
	ss.create(Staff{Name: "e"})
	if ss.len() != 1 {
		t.Fatalf("%d sessions after the others expired, want 1", ss.len())
	}
}

// TestEveryPageGuarded: every route but the login page and the assets
// wants a session: a GET without one goes to the login page, anything
// else is refused 401.
func TestEveryPageGuarded(t *testing.T) {
	f := newFixture(t)
	public := map[string]bool{"GET /login": true, "POST /login": true, "GET /assets/{name}": true}
	cl := f.client(t)
	for _, rt := range f.c.routes() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		if public[rt.pattern] {
			continue
		}
		path = strings.NewReplacer("{$}", "", "{pos}", "1", "{terminal}", "315001000000", "{batch}", "d0-t0", "{app}", "nb-gym").Replace(path)
		req, _ := http.NewRequest(method, f.srv.URL+path, nil)
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := http.StatusUnauthorized
		if method == http.MethodGet {
			want = http.StatusSeeOther
		}
		if resp.StatusCode != want {
			t.Errorf("%s without a session: %d, want %d", rt.pattern, resp.StatusCode, want)
		}
	}
}

// TestPagesAndFigures opens every page as an auditor and checks the
// figures against what the fixture uploaded.
func TestPagesAndFigures(t *testing.T) {
	f := newFixture(t)
	cl := f.client(t)
	f.login(t, cl, RoleAuditor)
	_, page := f.get(t, cl, "/")
	for _, want := range []string{
		`<strong id="day">` + f.days[1] + `</strong>`,
		"against " + f.days[0],
		`<span class="now">` + num(f.taps[1]) + `</span>`,                           // taps
		`<span class="was">` + num(f.taps[0]) + ` the day before <b>&#43;50.0%</b>`, // html/template writes + as &#43;,
		`<span class="now">` + yuan(f.fen[1]) + `</span>`,                           // revenue
		`<span class="now">` + num(int64(f.dups)) + `</span>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	snap := f.c.tally.Snapshot()
	d1, _ := snap.Day(f.days[1])
	if d1.Taps != f.taps[1] || d1.Booked != f.taps[1] || d1.RevenueFen != f.fen[1] || d1.Duplicates != int64(f.dups) || d1.Cards != 50 {
		t.Errorf("day 2: %d taps, %d booked, %d fen, %d duplicates, %d cards; want %d, %d, %d, %d, 50",
			d1.Taps, d1.Booked, d1.RevenueFen, d1.Duplicates, d1.Cards, f.taps[1], f.taps[1], f.fen[1], f.dups)
	}
	if snap.Rejected[acquire.RejectRecordMAC] != int64(f.forged) {
		t.Errorf("%d record_mac rejections tallied, want the %d forgeries", snap.Rejected[acquire.RejectRecordMAC], f.forged)
	}
	var hours int64
	for _, n := range d1.Hours {
		hours += n
	}
	if hours != d1.Taps {
		t.Errorf("taps by hour sum to %d, want the day's %d", hours, d1.Taps)
	}
	asn := f.city.Cards[3].ASN.String()
	sh, _ := f.a.Shadow(sim.Issuer, f.city.Cards[3].ASN)
	for _, tc := range []struct{ path, want string }{
		{"/ridership?day=" + f.days[0], `<span id="taps">` + num(f.taps[0]) + `</span>`},
		{"/rejections", `<a href="/rejections?reason=record_mac">record_mac</a></td><td class="n">` + num(int64(f.forged))},
		{"/rejections?reason=tac", `id="none"`},
		{"/flagged", "<h1>Flagged records</h1>"},
		{"/cards?issuer=31500001FFFFFFFF&asn=" + asn, `<td class="n" id="reported">` + yuan(sh.ReportedFen) + `</td>`},
		{"/terminals?day=" + f.days[1], `<span id="daytaps">` + num(f.taps[1]) + `</span>`},
		{"/terminals", `<tr class="never">` + "\n<td>" + f.idle.String()},
		{"/batches/" + f.city.Terminals[0].ID.String() + "/d0-t0", `<span id="count">`},
		{"/fares", `id="none"`},
	} {
		resp, page := f.get(t, cl, tc.path)
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, tc.want) {
			t.Errorf("GET %s: %d, want 200 with %q", tc.path, resp.StatusCode, tc.want)
		}
	}
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/ridership?day=1999-01-01", http.StatusNotFound},
		{"/cards?issuer=zz&asn=1", http.StatusUnprocessableEntity},
		{"/batches/315001000000/none", http.StatusNotFound},
		{"/rejections?after=-1", http.StatusUnprocessableEntity},
	} {
		if resp, _ := f.get(t, cl, tc.path); resp.StatusCode != tc.want {
			t.Errorf("GET %s: %d, want %d", tc.path, resp.StatusCode, tc.want)
		}
	}
}

// TestSecurityHeaders: every answer, the login page included, allows no
// script or style but the console's own, and no framing.
func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/login", "/", "/assets/console.js"} {
		resp, _ := f.get(t, f.client(t), path)
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") || !strings.Contains(csp, "frame-ancestors 'none'") ||
			resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: CSP %q, nosniff %q", path, csp, resp.Header.Get("X-Content-Type-Options"))
		}
	}
	if resp, _ := f.get(t, f.client(t), "/assets/LICENSE.htmx"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a licence file served: %d (it is kept in the repository, not served)", resp.StatusCode)
	}
	if resp, body := f.get(t, f.client(t), "/assets/htmx.min.js"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "/*! htmx 2.0.11") {
		t.Errorf("htmx: %d", resp.StatusCode)
	}
}
