package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/registry"
	"github.com/citycard/citycard/sim"
	"github.com/citycard/citycard/sqlite"
	"github.com/citycard/citycard/terminal"
)

// loadRig is a load host served over HTTP to the kiosks of a device city,
// whose cards card management has sold.
type loadRig struct {
	city *sim.DeviceCity
	srv  *httptest.Server
	m    *cms.Manager
	bl   *blacklist.List
	toks tokens
	db   *sqlite.DB
	s    *Server
}

// post sends body to the terminal route path (after
// /v1/terminals/{terminal}) as terminal tid with its token, and returns
// the status and the error body.
func (r *loadRig) post(t *testing.T, tid citycard.TerminalID, path, body string) (int, errorBody) {
	t.Helper()
	return postJSON(t, r.srv.URL+"/v1/terminals/"+tid.String()+path, r.toks[tid], body)
}

// postJSON posts body as JSON to url with a bearer token, and returns
// the status and the error body.
func postJSON(t *testing.T, url, token, body string) (int, errorBody) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e errorBody
	json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e
}

func newLoadRig(t *testing.T) *loadRig {
	t.Helper()
	ctx := context.Background()
	city, err := sim.NewDeviceCity(sim.DeviceConfig{Seed: 3, Alg: keys.Alg3DES, Fare: terminal.FlatFare{},
		Stops: []sim.DeviceStop{{Mode: terminal.ModePOS}, {Mode: terminal.ModeFlat}}, Cards: []sim.DeviceCard{{BalanceFen: 1}, {BalanceFen: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "cms.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r := &loadRig{city: city, db: db, bl: blacklist.New(db.Blacklist(), time.Now), toks: tokens{}}
	p, err := cms.NewProtector(make([]byte, cms.DataKeyLen), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.m = cms.NewManager(cms.NewGroupCommit(db.CMS()), cms.DefaultProducts(), p, time.Now).WithBlacklist(r.bl)
	clerk := cms.Actor{Who: "ann", ServicePoint: "nb-counter-01"}
	holder, err := r.m.Register(ctx, clerk, cms.Cardholder{Name: "张三丰", DocType: cms.ResidentID, DocNumber: "330203199001011236",
		DateOfBirth: cms.Date{Year: 1990, Month: 1, Day: 1}, Phone: "13812345678"})
	if err != nil {
		t.Fatal(err)
	}
	for _, cd := range city.Cards {
		asn := cd.State().ASN
		if _, err := r.m.Apply(ctx, clerk, sim.Issuer, asn, "citizen", holder.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := r.m.Move(ctx, clerk, sim.Issuer, asn, cms.Personalize); err != nil {
			t.Fatal(err)
		}
		if _, err := r.m.Sell(ctx, clerk, "sale-"+asn.String(), sim.Issuer, asn, cms.Channel{Type: cms.Cash, Party: sim.Issuer.String()}, 0); err != nil {
			t.Fatal(err)
		}
	}
	for i, tm := range city.Terminals {
		r.toks[tm.ID] = "token-" + string(rune('a'+i))
	}
	r.s = &Server{Terminals: r.toks, Blacklist: r.bl, Loads: cms.NewLoadHost(r.m, city.Store, nil)}
	r.srv = httptest.NewServer(r.s.Handler())
	t.Cleanup(r.srv.Close)
	return r
}

func (r *loadRig) client(i int) *LoadClient {
	id := r.city.Terminals[i].ID
	return &LoadClient{BaseURL: r.srv.URL, Terminal: id, Token: r.toks[id], Channel: cms.Channel{Type: cms.BankCard, Party: "icbc"}}
}

// TestLoadOverHTTP runs DESIGN.md's flow 1 whole: the kiosk's terminal
// talks to the virtual card, the host answers over HTTP, the card's TAC
// comes back, and card management has booked what the card holds.
func TestLoadOverHTTP(t *testing.T) {
	ctx := context.Background()
	r := newLoadRig(t)
	cd, kiosk := r.city.Cards[0], r.city.Terminals[0]
	for _, fen := range []uint32{5000, 2500} {
		res, err := kiosk.Load(cd, fen, r.client(0))
		if err != nil {
			t.Fatalf("load of %d: %v", fen, err)
		}
		if res.Record.Type != citycard.TxLoad {
			t.Errorf("the load record: %+v", res.Record)
		}
	}
	asn := cd.State().ASN
	flows, err := r.db.CMS().Flows(ctx, sim.Issuer, asn)
	if err != nil {
		t.Fatal(err)
	}
	if got := cms.BookBalances(flows)[asn]; got != 7500 || cd.State().BalanceFen != 7501 {
		t.Errorf("book %d fen, the card holds %d (1 fen at issue)", got, cd.State().BalanceFen)
	}
	open, err := r.db.CMS().UnconfirmedLoads(ctx, "", 10)
	if err != nil || len(open) != 0 {
		t.Errorf("unconfirmed after the TACs: %+v %v", open, err)
	}

	// The card tears during CREDIT (after crediting): the load stays
	// unconfirmed; at its next load the kiosk recovers its TAC with GET
	// TRANSACTION PROOF, and the host confirms it.
	cd.Tear(card.TearAfterCommit)
	if _, err := kiosk.Load(cd, 1000, r.client(0)); err == nil {
		t.Fatal("a torn load went through")
	}
	if open, _ := r.db.CMS().UnconfirmedLoads(ctx, "", 10); len(open) != 1 {
		t.Fatalf("after the tear: %d unconfirmed", len(open))
	}
	res, err := kiosk.Load(cd, 1000, r.client(0))
	if err != nil || res.Recovered == nil {
		t.Fatalf("the next load: %v, recovered %v", err, res.Recovered)
	}
	flows, _ = r.db.CMS().Flows(ctx, sim.Issuer, asn)
	if got := cms.BookBalances(flows)[asn]; got != cd.State().BalanceFen-1 {
		t.Errorf("book %d fen, the card holds %d", got, cd.State().BalanceFen-1)
	}

	// Another terminal's ID is refused; so is a bad body, and a token.
	c := r.client(0)
	c.Terminal = r.city.Terminals[1].ID
	if _, err := kiosk.Load(cd, 100, c); !citycard.IsKind(err, citycard.Permission) {
		t.Errorf("a kiosk with another's ID: %v", err)
	}
	for _, body := range []string{`{}`, `[]`, `{"issuer": 1}`, strings.Repeat(" ", 4096)} {
		if code, e := r.post(t, kiosk.ID, "/loads", body); code != http.StatusUnprocessableEntity || e.Error == "" {
			t.Errorf("body %.20q: %d %+v", body, code, e)
		}
	}
}

// TestLossToBlacklist measures the delay from a loss report to the card
// in the blacklist endpoint terminals download: the report lists the card
// before it returns, so the terminals' next download has it (the delay a
// card is usable after its report is then the terminals' download
// interval, which this does not include).
func TestLossToBlacklist(t *testing.T) {
	ctx := context.Background()
	r := newLoadRig(t)
	asn := r.city.Cards[1].State().ASN
	kiosk := r.city.Terminals[1].ID
	// A change before, so that the terminal's copy is at a version and
	// downloads the changes since.
	if _, err := r.bl.Set(ctx, blacklist.Card{Issuer: sim.Issuer, ASN: citycard.ASN{9}}, true, "fraud", "bob"); err != nil {
		t.Fatal(err)
	}
	v0 := r.bl.Version()
	start := time.Now()
	c, err := r.m.Move(ctx, cms.Actor{Who: "ann", ServicePoint: "app"}, sim.Issuer, asn, cms.ReportLoss)
	if err != nil {
		t.Fatal(err)
	}
	d, err := (&Client{BaseURL: r.srv.URL, Terminal: kiosk, Token: r.toks[kiosk]}).Blacklist(ctx, v0)
	delay := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Changes) != 1 || !d.Changes[0].Added || d.Changes[0].Card.ASN != asn {
		t.Fatalf("the terminal's first download after the report: %+v", d)
	}
	if want := "reported lost at " + c.LostAt.UTC().Format(time.RFC3339Nano); d.Changes[0].Reason != want {
		t.Errorf("the reason %q, want %q (the report's time)", d.Changes[0].Reason, want)
	}
	t.Logf("loss report to the terminal blacklist endpoint: %v (report stored, listed, downloaded)", delay)
	if delay > 2*time.Second {
		t.Errorf("%v from report to blacklist", delay)
	}
	// A lost card's load is refused; the loss cancelled, it is delisted.
	if _, err := r.city.Terminals[0].Load(r.city.Cards[1], 100, r.client(0)); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("a load onto the lost card: %v", err)
	}
	if _, err := r.m.Move(ctx, cms.Actor{Who: "ann", ServicePoint: "app"}, sim.Issuer, asn, cms.CancelLoss); err != nil {
		t.Fatal(err)
	}
	if r.bl.Contains(sim.Issuer, asn) {
		t.Error("a cancelled loss left the card listed")
	}
}

// shapeLoads gives the fixture's server a load host over its own keys and
// store, with one card sold, and returns the bodies of a load's
// authorization and of its confirmation from terminal tid.
func shapeLoads(t *testing.T, f *fixture, tid citycard.TerminalID) (authorize, confirm []byte) {
	t.Helper()
	ctx := context.Background()
	ks := keys.NewMemStore()
	for i, typ := range []keys.KeyType{keys.KeyLoad, keys.KeyTAC} {
		k := make([]byte, keys.KeyLen)
		k[0] = byte(i + 1)
		if _, err := ks.Put(keys.Ref{Issuer: sim.Issuer, Type: typ, Version: 1}, keys.Alg3DES, k, "test", time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sqlite.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "cms.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	m := cms.NewManager(db.CMS(), cms.DefaultProducts(), nil, time.Now)
	clerk := cms.Actor{Who: "ann", ServicePoint: "nb-counter-01"}
	asn := citycard.ASN{0, 0, 0x31, 0x50, 0, 0, 0, 0, 0, 7}
	if _, err := m.Apply(ctx, clerk, sim.Issuer, asn, "transit", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Move(ctx, clerk, sim.Issuer, asn, cms.Personalize); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Sell(ctx, clerk, "sale", sim.Issuer, asn, cms.Channel{Type: cms.Cash, Party: sim.Issuer.String()}, 0); err != nil {
		t.Fatal(err)
	}
	f.s.Loads = cms.NewLoadHost(m, ks, nil)
	var dlk, dtk [keys.KeyLen]byte
	ks.DeriveInto(&dlk, keys.Ref{Issuer: sim.Issuer, Type: keys.KeyLoad, Version: 1}, asn.Div())
	ks.DeriveInto(&dtk, keys.Ref{Issuer: sim.Issuer, Type: keys.KeyTAC, Version: 1}, asn.Div())
	d, tm := citycard.DateTime(time.Date(2026, 11, 24, 9, 0, 0, 0, citycard.ChinaTime))
	l := keys.Load{Random: [4]byte{1, 2, 3, 4}, OnlineCounter: 0, BalanceBefore: 0, Amount: 1000, Type: citycard.TxLoad, TerminalID: tid, Date: d, Time: tm}
	pr, err := keys.LoadProof(keys.Alg3DES, dlk[:], dtk[:], &l)
	if err != nil {
		t.Fatal(err)
	}
	c := &LoadClient{Channel: cms.Channel{Type: cms.Cash, Party: sim.Issuer.String()}}
	req := terminal.LoadRequest{Issuer: sim.Issuer, ASN: asn, KeyVersion: 1, Alg: keys.Alg3DES, Load: l, MAC1: pr.MAC1}
	authorize, _ = json.Marshal(c.body(req, "mac1", pr.MAC1, true))
	confirm, _ = json.Marshal(c.body(req, "tac", pr.TAC, false))
	return authorize, confirm
}

// typedTokens is tokens with each terminal's type (a kiosk unless said).
type typedTokens struct {
	tokens
	types map[citycard.TerminalID]registry.TerminalType
}

func (ts typedTokens) AuthenticateTerminalType(ctx context.Context, id citycard.TerminalID, tok string) (registry.TerminalType, error) {
	typ, ok := ts.types[id]
	if !ok {
		typ = registry.TerminalKiosk
	}
	return typ, ts.AuthenticateTerminal(ctx, id, tok)
}

// untypedTokens is a terminal authentication that cannot tell types.
type untypedTokens struct{ ts tokens }

func (u untypedTokens) AuthenticateTerminal(ctx context.Context, id citycard.TerminalID, tok string) error {
	return u.ts.AuthenticateTerminal(ctx, id, tok)
}

// TestLoadTerminalTypes: only a kiosk or a counter's reader (pos) runs
// online loads. A bus validator, a gate or a parking meter with its own
// valid token is refused on both load routes (403, the message naming
// its type) before its request is read, and nothing is booked; a server
// whose terminal authentication cannot tell types takes no loads (503).
func TestLoadTerminalTypes(t *testing.T) {
	ctx := context.Background()
	r := newLoadRig(t)
	cd, kiosk := r.city.Cards[0], r.city.Terminals[0]
	asn := cd.State().ASN
	types := map[citycard.TerminalID]registry.TerminalType{}
	r.s.Terminals = typedTokens{r.toks, types}
	booked := func() int64 {
		t.Helper()
		flows, err := r.db.CMS().Flows(ctx, sim.Issuer, asn)
		if err != nil {
			t.Fatal(err)
		}
		return cms.BookBalances(flows)[asn]
	}
	post := func(path, body string) (int, errorBody) { t.Helper(); return r.post(t, kiosk.ID, path, body) }
	for _, typ := range []registry.TerminalType{registry.TerminalBusValidator, registry.TerminalGate, registry.TerminalParkingMeter} {
		types[kiosk.ID] = typ
		before, balance := booked(), cd.State().BalanceFen
		_, err := kiosk.Load(cd, 100, r.client(0))
		if !citycard.IsKind(err, citycard.Permission) || !strings.Contains(err.Error(), typ.String()+", which may not run online loads") {
			t.Errorf("a load through a %v: %v", typ, err)
		}
		if got := booked(); got != before || cd.State().BalanceFen != balance {
			t.Errorf("a load through a %v: booked %d fen, the card holds %d more", typ, got-before, cd.State().BalanceFen-balance)
		}
		if open, err := r.db.CMS().UnconfirmedLoads(ctx, "", 10); err != nil || len(open) != 0 {
			t.Errorf("a load through a %v left %d unconfirmed (%v)", typ, len(open), err)
		}
		for _, path := range []string{"/loads", "/loads/confirm"} {
			if code, e := post(path, `{}`); code != http.StatusForbidden || !strings.Contains(e.Error, typ.String()) {
				t.Errorf("POST %s by a %v: %d %+v", path, typ, code, e)
			}
		}
	}
	for _, typ := range []registry.TerminalType{registry.TerminalKiosk, registry.TerminalPOS} {
		types[kiosk.ID] = typ
		before := booked()
		if _, err := kiosk.Load(cd, 100, r.client(0)); err != nil {
			t.Errorf("a load through a %v: %v", typ, err)
		}
		if got := booked(); got != before+100 {
			t.Errorf("a load through a %v booked %d fen, want 100", typ, got-before)
		}
	}
	r.s.Terminals = untypedTokens{r.toks}
	before := booked()
	if code, e := post("/loads", `{}`); code != http.StatusServiceUnavailable {
		t.Errorf("a load where types are unknown: %d %+v", code, e)
	}
	if _, err := kiosk.Load(cd, 100, r.client(0)); err == nil || booked() != before {
		t.Errorf("a load where types are unknown: %v, booked %d", err, booked()-before)
	}
}
