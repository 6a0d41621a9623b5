package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/console"
)

// TestServeConsole: serve answers / with the console (a redirect to its
// login page), keeps the API beside it, lets staff log in with their
// name and token, and charts the fare what-if over the store's journal.
func TestServeConsole(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	feeds, old, wantNew := dearerDay(t)
	b := newBackOfficeFiles(t, "")
	ingestDay(t, b.db, old)
	const token = "an-auditor-token-of-some-length"
	srv := startServe(t, append(b.env(), "CITYCARD_STAFF=ann:auditor:"+token), "--db", b.db, "--store", b.store, "--addr", "127.0.0.1:0", "--fare-feeds", feeds)
	defer srv.stop(t)
	base := "http://" + srv.addr
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	read := func(resp *http.Response, err error) (int, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location") + string(body)
	}
	if code, loc := read(cl.Get(base + "/")); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?next=") {
		t.Fatalf("GET / without a session: %d to %q, want 303 to the login page", code, loc)
	}
	for path, want := range map[string]int{"/healthz": http.StatusOK, "/v1/rejections": http.StatusUnauthorized, "/metrics": http.StatusOK} {
		if code, _ := read(cl.Get(base + path)); code != want {
			t.Errorf("GET %s beside the console: %d, want %d", path, code, want)
		}
	}
	_, page := read(cl.Get(base + "/login"))
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("login page without its CSRF field: %s", page)
	}
	if code, _ := read(cl.PostForm(base+"/login", url.Values{"csrf": {m[1]}, "name": {"bob"}, "secret": {token}})); code != http.StatusUnauthorized {
		t.Errorf("ann's token under another name: %d, want 401", code)
	}
	_, page = read(cl.Get(base + "/login"))
	m = regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if code, loc := read(cl.PostForm(base+"/login", url.Values{"csrf": {m[1]}, "name": {"ann"}, "secret": {token}})); code != http.StatusSeeOther || loc != "/" {
		t.Fatalf("login: %d to %q", code, loc)
	}
	code, page := read(cl.Get(base + "/fares?from=2026-11-24&to=2026-11-24&feed=dearer"))
	want := `<strong id="newfen">¥` + strconv.FormatInt(wantNew/100, 10)
	if code != http.StatusOK || !strings.Contains(page, want) {
		t.Errorf("the fare what-if page: %d, want %q in it", code, want)
	}
}

// TestStaffLogin: the console's login takes the API's staff token with
// the name it was given to, and keeps its role (console.Role has
// api.Role's values).
func TestStaffLogin(t *testing.T) {
	staff := &api.StaticStaff{}
	roles := map[string]api.Role{"ann": api.RoleAuditor, "bob": api.RoleClerk, "cy": api.RoleAdmin}
	for name, role := range roles {
		staff.Add(name+"-token-0123456789", api.Staff{Name: name, Role: role})
	}
	l := staffLogin{staff}
	want := map[string]console.Role{"ann": console.RoleAuditor, "bob": console.RoleClerk, "cy": console.RoleAdmin}
	for name := range roles {
		st, err := l.Login(context.Background(), name, name+"-token-0123456789")
		if err != nil || st.Name != name || st.Role != want[name] {
			t.Errorf("%s: %+v, %v; want role %v", name, st, err, want[name])
		}
	}
	for _, tc := range []struct{ name, secret string }{{"bob", "ann-token-0123456789"}, {"ann", "wrong"}, {"", "ann-token-0123456789"}} {
		if _, err := l.Login(context.Background(), tc.name, tc.secret); !citycard.IsKind(err, citycard.Unauthenticated) {
			t.Errorf("%q with %q: %v, want kind Unauthenticated", tc.name, tc.secret, err)
		}
	}
}
