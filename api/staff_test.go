package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
)

// TestLoginLimited: POST /v1/staff/login answers a session of the
// configured lifetime; a wrong password is 401 with no hint of which
// part was wrong; after cms.LoginFailureMax failures of a name the right
// password is refused too (429, with the wait in Retry-After) while
// another name logs in; a session
// token works on a staff route, and a disabled account's does not.
func TestLoginLimited(t *testing.T) {
	x := withCMS(t, newFixture(t))
	login := func(name, pw string) (int, map[string]any) {
		t.Helper()
		return x.call(t, "POST", "/v1/staff/login", "", `{"name":"`+name+`","password":"`+pw+`"}`)
	}
	code, s := login("clerk", staffPass)
	if code != http.StatusOK || s["token"] == "" || s["role"] != "clerk" || s["service_point"] != "nb-counter-01" || s["expires_at"] == nil {
		t.Fatalf("login: %d %v", code, s)
	}
	x.tokens["fresh"] = s["token"].(string)
	if code, _ := x.call(t, "GET", "/v1/cards/"+testIssuer.String()+"/31500000000000000999", "fresh", ""); code != http.StatusNotFound {
		t.Errorf("the fresh session on a staff route: %d, want 404 (past the guard)", code)
	}
	for i := range cms.LoginFailureMax {
		code, v := login("clerk", "wrong password!!")
		if code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %v", i+1, code, v)
		}
	}
	if code, v := login("nobody", "wrong password!!"); code != http.StatusUnauthorized || v["error"] == "" {
		t.Errorf("an unknown name: %d %v, want 401 as for a wrong password", code, v)
	}
	if code, v := login("clerk", staffPass); code != http.StatusTooManyRequests || v["kind"] != "too many requests" {
		t.Errorf("after %d failures, the right password: %d %v, want 429", cms.LoginFailureMax, code, v)
	}
	resp, err := http.Post(x.srv.URL+"/v1/staff/login", "application/json", strings.NewReader(`{"name":"clerk","password":"`+staffPass+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 60 || ra > int(cms.LoginWindow/time.Second) {
		t.Errorf("Retry-After %q, want the limiter's wait (up to %v)", resp.Header.Get("Retry-After"), cms.LoginWindow)
	}
	if code, _ := login("clerk2", staffPass); code != http.StatusOK {
		t.Errorf("another name: %d, want 200", code)
	}
	if code, _ := x.call(t, "POST", "/v1/staff/clerk2/disable", "admin", ""); code != http.StatusOK {
		t.Fatalf("disable clerk2: %d", code)
	}
	if code, _ := x.call(t, "GET", "/v1/cards/"+testIssuer.String()+"/31500000000000000999", "clerk2", ""); code != http.StatusUnauthorized {
		t.Errorf("a disabled account's session: %d, want 401", code)
	}
	if code, _ := x.call(t, "POST", "/v1/staff/logout", "fresh", ""); code != http.StatusOK {
		t.Errorf("logout: %d", code)
	}
	if code, _ := x.call(t, "GET", "/v1/cards/"+testIssuer.String()+"/31500000000000000999", "fresh", ""); code != http.StatusUnauthorized {
		t.Errorf("after logout: %d, want 401", code)
	}
}

// downFailures is a staff store whose failed-login counts cannot be
// read or written.
type downFailures struct{ cms.StaffStore }

func (downFailures) LoginFailures(context.Context, string) (cms.LoginFailures, error) {
	return cms.LoginFailures{}, citycard.E("test", citycard.IO, "the database is down")
}

// TestLoginStoreDown: while the failed logins cannot be read, a login is
// 503 with Retry-After whether its password is right or wrong, never
// 401 (a guess the limiter cannot count is not answered).
func TestLoginStoreDown(t *testing.T) {
	x := withCMS(t, newFixture(t))
	x.s.Staffing = cms.NewStaffing(downFailures{x.db.Staff()}, time.Now, cms.StaffOptions{BcryptCost: bcrypt.MinCost})
	for _, pw := range []string{staffPass, "wrong password!!"} {
		resp, err := http.Post(x.srv.URL+"/v1/staff/login", "application/json", strings.NewReader(`{"name":"clerk","password":"`+pw+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("password %q, the store down: %d, Retry-After %q; want 503 with a wait", pw, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
}
