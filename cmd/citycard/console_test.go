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
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/console"
)

// TestServeConsole: serve answers / with the console (a redirect to its
// login page), keeps the API beside it, lets staff log in with their
// name and password, and charts the fare what-if over the store's journal.
func TestServeConsole(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	feeds, old, wantNew := dearerDay(t)
	b := newBackOfficeFiles(t, "")
	ingestDay(t, b.db, old)
	b.addStaff(t, "ann", "auditor")
	const token = testPassword
	srv := startServe(t, b.env(), "--db", b.db, "--store", b.store, "--addr", "127.0.0.1:0", "--fare-feeds", feeds)
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
		t.Errorf("ann's password under another name: %d, want 401", code)
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
	// The clearing and keys pages over serve's stores: no cycle yet, and
	// the key store's list (empty here), not "no key store".
	if code, page := read(cl.Get(base + "/clearing")); code != http.StatusOK || !strings.Contains(page, "no cycle yet") {
		t.Errorf("the clearing page: %d: %s", code, page)
	}
	if code, page := read(cl.Get(base + "/keys")); code != http.StatusOK || !strings.Contains(page, "no key: citycard keys ceremony") {
		t.Errorf("the keys page: %d, not over serve's key store: %s", code, page)
	}
	// The card page asks serve's card management (console.CMS), which has
	// no such card, rather than saying there is none.
	if code, page := read(cl.Get(base + "/cards?issuer=31500001FFFFFFFF&asn=0000000000000999")); code != http.StatusOK || !strings.Contains(page, `id="cmsnotfound"`) {
		t.Errorf("the card page: %d, not over serve's card management: %s", code, page)
	}
}

// TestStaffLogin: the console's login takes a stored account's name and
// password, keeps its role (console.Role has cms.Role's values) and
// service point (the actor of the card page's moves), and
// refuses another's password, a wrong one and a disabled account.
func TestStaffLogin(t *testing.T) {
	b := newBackOfficeFiles(t, "")
	roles := map[string]console.Role{"ann": console.RoleAuditor, "bob": console.RoleClerk, "cy": console.RoleSupervisor, "dee": console.RoleAdmin}
	for name, role := range roles {
		b.addStaff(t, name, role.String())
	}
	st, err := openStores(context.Background(), b.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	staffing := cms.NewStaffing(st.staff, time.Now, cms.StaffOptions{})
	l := staffLogin{staffing}
	for name, want := range roles {
		got, err := l.Login(context.Background(), name, testPassword)
		if err != nil || got.Name != name || got.Role != want || got.ServicePoint != "nb-counter-01" {
			t.Errorf("%s: %+v, %v; want role %v", name, got, err, want)
		}
	}
	if err := staffing.SetDisabled(context.Background(), cms.Actor{Who: "dee", ServicePoint: "x"}, "cy", true); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, secret string }{{"bob", "wrong password here"}, {"nobody", testPassword}, {"", testPassword}, {"cy", testPassword}} {
		if _, err := l.Login(context.Background(), tc.name, tc.secret); !citycard.IsKind(err, citycard.Unauthenticated) {
			t.Errorf("%q with %q: %v, want kind Unauthenticated", tc.name, tc.secret, err)
		}
	}
}
