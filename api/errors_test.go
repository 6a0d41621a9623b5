package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/terminal"
)

// kinds returns every error kind, up to the last one citycard defines: a
// kind without a name prints as "kind(N)".
func kinds() []citycard.Kind {
	var ks []citycard.Kind
	for k := citycard.Kind(0); !strings.HasPrefix(k.String(), "kind("); k++ {
		ks = append(ks, k)
	}
	return ks
}

// wantStatus is the API's contract, as the package doc states it. A new
// kind fails TestKindStatusTable until it is decided here and in
// kindStatus.
var wantStatus = map[citycard.Kind]int{
	citycard.Other:           http.StatusInternalServerError,
	citycard.Invalid:         http.StatusUnprocessableEntity,
	citycard.NotFound:        http.StatusNotFound,
	citycard.Exists:          http.StatusConflict,
	citycard.Permission:      http.StatusForbidden,
	citycard.Crypto:          http.StatusUnprocessableEntity,
	citycard.KeyMissing:      http.StatusUnprocessableEntity,
	citycard.Conflict:        http.StatusConflict,
	citycard.Insufficient:    http.StatusConflict,
	citycard.IO:              http.StatusServiceUnavailable,
	citycard.Unauthenticated: http.StatusUnauthorized,
	citycard.Unavailable:     http.StatusServiceUnavailable,
	citycard.Throttled:       http.StatusTooManyRequests,
}

// waits reports whether an answer of status code says when to come back.
func waits(code int) bool {
	return code == http.StatusServiceUnavailable || code == http.StatusTooManyRequests
}

// failServer answers every request with an error of kind k.
func failServer(t *testing.T, k citycard.Kind) *httptest.Server {
	t.Helper()
	s := &Server{}
	s.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, citycard.E("test", k, "the secret internal detail"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestKindStatusTable: every kind up to the last has its status, the
// headers its status calls for, and an internal detail that stays inside.
func TestKindStatusTable(t *testing.T) {
	for _, k := range kinds() {
		want, ok := wantStatus[k]
		if !ok {
			t.Fatalf("kind %v (%d) has no status in the API's contract", k, k)
		}
		resp, err := http.Get(failServer(t, k).URL)
		if err != nil {
			t.Fatal(err)
		}
		var eb errorBody
		derr := json.NewDecoder(resp.Body).Decode(&eb)
		resp.Body.Close()
		if resp.StatusCode != want || derr != nil || eb.Kind != k.String() {
			t.Fatalf("kind %v: %d %+v (%v), want %d", k, resp.StatusCode, eb, derr, want)
		}
		if (want >= 500) == strings.Contains(eb.Error, "secret") {
			t.Fatalf("kind %v: %d with message %q", k, want, eb.Error)
		}
		if got := resp.Header.Get("WWW-Authenticate"); (want == http.StatusUnauthorized) != strings.HasPrefix(got, "Bearer") {
			t.Fatalf("kind %v: WWW-Authenticate %q", k, got)
		}
		ra := resp.Header.Get("Retry-After")
		if n, err := strconv.Atoi(ra); waits(want) != (err == nil && n > 0) {
			t.Fatalf("kind %v: Retry-After %q", k, ra)
		}
	}
}

// TestClientKinds: the terminal's client hears every kind the server
// answers with, and how long a 503 asks it to wait.
func TestClientKinds(t *testing.T) {
	for _, k := range kinds() {
		c := &Client{BaseURL: failServer(t, k).URL}
		_, err := c.Upload(context.Background(), terminal.UploadBatch{ID: "x"})
		if got := citycard.KindOf(err); got != k {
			t.Fatalf("server kind %v: the client heard %v (%v)", k, got, err)
		}
		if d, ok := RetryAfter(err); ok != waits(wantStatus[k]) || (ok && d <= 0) {
			t.Fatalf("kind %v: RetryAfter %v %v", k, d, ok)
		}
	}
	// Answers from something in between (a proxy, a load balancer): the
	// status alone says what to do.
	for code, want := range map[int]citycard.Kind{
		http.StatusBadRequest:            citycard.Invalid,
		http.StatusRequestEntityTooLarge: citycard.Invalid,
		http.StatusUnauthorized:          citycard.Unauthenticated,
		http.StatusForbidden:             citycard.Permission,
		http.StatusNotFound:              citycard.NotFound,
		http.StatusConflict:              citycard.Conflict,
		http.StatusInternalServerError:   citycard.Other,
		http.StatusBadGateway:            citycard.IO,
		http.StatusServiceUnavailable:    citycard.Unavailable,
		http.StatusGatewayTimeout:        citycard.IO,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "7")
			http.Error(w, "from a proxy", code)
		}))
		c := &Client{BaseURL: srv.URL}
		_, err := c.Upload(context.Background(), terminal.UploadBatch{ID: "x"})
		srv.Close()
		if citycard.KindOf(err) != want || !strings.Contains(err.Error(), "from a proxy") {
			t.Fatalf("status %d: %v, want kind %v", code, err, want)
		}
		if d, ok := RetryAfter(err); !ok || d != 7*time.Second {
			t.Fatalf("status %d: RetryAfter %v %v", code, d, ok)
		}
		// As a package that cannot import api (terminal) asks for it.
		if d := citycard.RetryAfter(err); d != 7*time.Second {
			t.Fatalf("status %d: citycard.RetryAfter %v in %v", code, d, err)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	date := time.Date(2026, 11, 24, 7, 30, 0, 0, time.UTC)
	for _, c := range []struct {
		retry, date string
		want        time.Duration
		ok          bool
	}{
		{"0", "", 0, true},
		{"120", "", 120 * time.Second, true},
		{"-1", "", 0, false},
		{"1.5", "", 0, false},
		{"", "", 0, false},
		{"99999999", "", maxRetryAfter, true},
		{date.Add(time.Minute).Format(http.TimeFormat), date.Format(http.TimeFormat), time.Minute, true},
		{date.Add(-time.Minute).Format(http.TimeFormat), date.Format(http.TimeFormat), 0, true},
		{date.Format(http.TimeFormat), "", 0, false}, // a date without the server's Date: no clock to compare with
		{"soon", date.Format(http.TimeFormat), 0, false},
	} {
		h := http.Header{}
		if c.retry != "" {
			h.Set("Retry-After", c.retry)
		}
		if c.date != "" {
			h.Set("Date", c.date)
		}
		if d, ok := parseRetryAfter(h); d != c.want || ok != c.ok {
			t.Errorf("Retry-After %q, Date %q: %v %v, want %v %v", c.retry, c.date, d, ok, c.want, c.ok)
		}
	}
}

// failingAuth is a registry whose store cannot answer.
type failingAuth struct{ kind citycard.Kind }

func (a failingAuth) AuthenticateTerminal(context.Context, citycard.TerminalID, string) error {
	return citycard.E("registry.Authenticate", a.kind, "database is locked")
}

func (a failingAuth) AuthenticateStaff(context.Context, string) (Staff, error) {
	return Staff{}, citycard.E("staff.Authenticate", a.kind, "database is locked")
}

// TestTransientIsNoAnswer: a store that cannot answer while a terminal
// authenticates is a fault that passes (503, retry), never a refusal of
// the terminal (403), and nothing is journaled.
func TestTransientIsNoAnswer(t *testing.T) {
	f := newFixture(t)
	u := f.ups[0]
	path := "/v1/terminals/" + u.Terminal.ID.String() + "/batches"
	hdr := map[string]string{HeaderBatchID: "x", HeaderCount: "1", HeaderAmount: strconv.Itoa(int(amountOf(u.Records[0])))}
	for _, k := range []citycard.Kind{citycard.IO, citycard.Unavailable} {
		f := f.with(t, func(s *Server) { s.Terminals, s.Staff = failingAuth{k}, failingAuth{k} })
		code, out := f.do(t, "POST", path, f.toks[u.Terminal.ID], "application/octet-stream", u.Records[0], hdr)
		if code != http.StatusServiceUnavailable || strings.Contains(string(out), "locked") {
			t.Fatalf("terminal store %v: %d %s", k, code, out)
		}
		code, out = f.do(t, "GET", "/v1/rejections", f.staff, "", nil, nil)
		if code != http.StatusServiceUnavailable {
			t.Fatalf("staff store %v: %d %s", k, code, out)
		}
	}
	if n := len(f.j.Records()); n != 0 {
		t.Fatalf("%d records journaled", n)
	}
	// An acquirer that refuses batches (closing): 503, and the terminal's
	// uploader keeps the records.
	f.a.Close()
	_, err := f.client(0).Upload(context.Background(), terminal.UploadBatch{Terminal: u.Terminal.ID, ID: "y", Records: u.Records[:1], AmountFen: sum(u.Records[:1])})
	if !citycard.Transient(err) {
		t.Fatalf("closed acquirer: %v", err)
	}
	if d, ok := RetryAfter(err); !ok || d <= 0 {
		t.Fatalf("closed acquirer: Retry-After %v %v", d, ok)
	}
}

// TestHealth: /healthz says ok only while the acquirer takes batches.
func TestHealth(t *testing.T) {
	f := newFixture(t)
	code, out := f.do(t, "GET", "/healthz", "", "", nil, nil)
	if code != http.StatusOK || strings.TrimSpace(string(out)) != `{"status":"ok"}` {
		t.Fatalf("healthy: %d %s", code, out)
	}
	f.a.Close()
	resp, err := http.Get(f.srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h map[string]string
	derr := json.NewDecoder(resp.Body).Decode(&h)
	if resp.StatusCode != http.StatusServiceUnavailable || derr != nil || h["status"] != "unavailable" || !strings.Contains(h["reason"], "closed") {
		t.Fatalf("closed acquirer: %d %v (%v)", resp.StatusCode, h, derr)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
}
