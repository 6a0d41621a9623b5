package console

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/registry"
	"github.com/citycard/citycard/sim"
)

// staffTable is a StaffAuth over fixed names, secrets and roles.
type staffTable map[string]struct {
	secret string
	role   Role
}

func (st staffTable) Login(_ context.Context, name, secret string) (Staff, error) {
	if name == "limited" { // a name refused after too many failed logins, as cms.Staffing refuses it
		return Staff{}, citycard.Later("test", 14*time.Minute+time.Second, "too many failed logins")
	}
	if s, ok := st[name]; ok && s.secret == secret {
		return Staff{Name: name, Role: s.role}, nil
	}
	return Staff{}, citycard.E("test", citycard.Unauthenticated, "no")
}

type terminalList []registry.Terminal

func (tl terminalList) Terminals(context.Context, string) ([]registry.Terminal, error) {
	return tl, nil
}

// fixture is a back office holding two days of a small city: the second
// day's uploads carry duplicates and forgeries (rejected, record_mac),
// and one registered terminal never uploads.
type fixture struct {
	c       *Console
	srv     *httptest.Server
	a       *acquire.Acquirer
	j       *acquire.MemJournal
	bl      *blacklist.List
	city    *sim.City
	days    [2]string
	taps    [2]int64 // genuine records per day
	fen     [2]int64
	forged  int
	dups    int
	idle    citycard.TerminalID
	now     time.Time
	staff   staffTable
	secrets map[Role]string
	apps    *apps.Office // withApps: the API answers its reports too
}

const (
	day1Taps = 400
	day2Taps = 600
)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	city, err := sim.NewCity(sim.Config{Seed: 5, Alg: keys.Alg3DES, Terminals: 6, Cards: 50})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{city: city, j: acquire.NewMemJournal(), bl: blacklist.New(nil, nil),
		now: city.Start.Add(40 * time.Hour), secrets: map[Role]string{}}
	reg := acquire.TerminalMap{}
	var tl terminalList
	for _, tm := range city.Terminals {
		reg[tm.ID] = acquire.TerminalInfo{ID: tm.ID, PSAM: tm.PSAM, Operator: tm.Operator, OperatorCode: tm.OperatorCode, Active: true}
		tl = append(tl, registry.Terminal{ID: tm.ID, PSAM: tm.PSAM, Operator: tm.Operator, Type: registry.TerminalBusValidator,
			Line: tm.Line, Station: tm.Station, Status: registry.StatusActive})
	}
	f.idle = citycard.TerminalID{0x31, 0x50, 0x01, 0x00, 0xFF, 0x01}
	tl = append(tl, registry.Terminal{ID: f.idle, Operator: "bus", Type: registry.TerminalBusValidator, Status: registry.StatusActive})
	f.a, err = acquire.Open(ctx, acquire.Config{Journal: f.j, Terminals: reg, Verifier: record.NewVerifier(city.Store, sim.Issuer),
		Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.a.Close() })
	for d, n := range []int{day1Taps, day2Taps} {
		ups := city.Day(n, nil)
		if d == 1 {
			f.dups, f.forged = sim.Spoil(ups, 0.05, 0.02, 9)
		}
		f.days[d] = city.Start.Format(time.DateOnly)
		for i, u := range ups {
			f.taps[d] += int64(u.Genuine)
			f.fen[d] += u.GenuineFen
			if len(u.Records) == 0 {
				continue
			}
			var body []byte
			var amount int64
			for _, r := range u.Records {
				body = append(body, r...)
				rec, err := record.DecodeBinary(r)
				if err != nil {
					t.Fatal(err)
				}
				amount += int64(rec.Amount)
			}
			b := acquire.Batch{Terminal: u.Terminal.ID, ID: fmt.Sprintf("d%d-t%d", d, i), Count: len(u.Records), AmountFen: amount, Body: body}
			if _, err := f.a.Submit(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		city.Start = city.Start.Add(24 * time.Hour)
	}
	f.staff = staffTable{}
	for _, r := range []Role{RoleAuditor, RoleClerk} {
		name := r.String()
		f.secrets[r] = "secret-of-" + name
		f.staff[name] = struct {
			secret string
			role   Role
		}{f.secrets[r], r}
	}
	f.c = &Console{Staff: f.staff, Acquirer: f.a, Journal: f.j, Terminals: tl, Blacklist: f.bl, Now: func() time.Time { return f.now }}
	h, err := f.c.Handler()
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	return f
}

// client is a browser-like HTTP client with a cookie jar that does not
// follow redirects (so that tests see them).
func (f *fixture) client(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
