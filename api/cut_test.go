package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/sim"
	"github.com/citycard/citycard/sqlite"
	"github.com/citycard/citycard/terminal"
)

// cutRig is card management and acquisition over one POS of a device
// city, whose cards card management sold: the purchases of a lost card
// are made on the device, at the times the test picks, and uploaded when
// it likes.
type cutRig struct {
	city  *sim.DeviceCity
	db    *sqlite.DB
	m     *cms.Manager
	srv   *httptest.Server
	s     *Server
	mu    sync.Mutex
	at    time.Time
	batch int
}

func (r *cutRig) now() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.at
}

func (r *cutRig) set(t time.Time) {
	r.mu.Lock()
	r.at = t
	r.mu.Unlock()
}

const cutClerk = "clerk-token-0123456789"

// newCutRig makes cards device cards, of which card management sold the
// first sold.
func newCutRig(t *testing.T, cards, sold int) *cutRig {
	t.Helper()
	ctx := context.Background()
	start := time.Date(2026, 11, 24, 8, 0, 0, 0, citycard.ChinaTime)
	dc := make([]sim.DeviceCard, cards)
	for i := range dc {
		dc[i].BalanceFen = 5000
	}
	city, err := sim.NewDeviceCity(sim.DeviceConfig{Seed: 5, Alg: keys.Alg3DES, Fare: terminal.FlatFare{}, Start: start.AddDate(0, 0, -1),
		Stops: []sim.DeviceStop{{Mode: terminal.ModePOS}}, Cards: dc})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "cms.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r := &cutRig{city: city, db: db, at: start}
	p, err := cms.NewProtector(make([]byte, cms.DataKeyLen), nil)
	if err != nil {
		t.Fatal(err)
	}
	bl := blacklist.New(db.Blacklist(), r.now)
	r.m = cms.NewManager(db.CMS(), cms.DefaultProducts(), p, r.now).WithBlacklist(bl)
	tm := city.Terminals[0]
	a, err := acquire.Open(ctx, acquire.Config{Journal: acquire.NewMemJournal(), Verifier: record.NewVerifier(city.Store, sim.Issuer),
		Terminals: acquire.TerminalMap{tm.ID: {ID: tm.ID, PSAM: tm.PSAM, Operator: tm.Operator, OperatorCode: tm.OperatorCode, Active: true}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	clerk := cms.Actor{Who: "ann", ServicePoint: "nb-counter-01"}
	holder, err := r.m.Register(ctx, clerk, cms.Cardholder{Name: "张三丰", DocType: cms.ResidentID, DocNumber: "330203199001011236",
		DateOfBirth: cms.Date{Year: 1990, Month: 1, Day: 1}, Phone: "13812345678"})
	if err != nil {
		t.Fatal(err)
	}
	for _, cd := range city.Cards[:sold] {
		asn := cd.State().ASN
		for _, mv := range []func() error{
			func() error { _, err := r.m.Apply(ctx, clerk, sim.Issuer, asn, "citizen", holder.ID); return err },
			func() error { _, err := r.m.Move(ctx, clerk, sim.Issuer, asn, cms.Personalize); return err },
			func() error {
				_, err := r.m.Sell(ctx, clerk, "sale-"+asn.String(), sim.Issuer, asn, cms.Channel{Type: cms.Cash, Party: "nb-card"}, 5000)
				return err
			},
		} {
			if err := mv(); err != nil {
				t.Fatal(err)
			}
		}
	}
	staff := &StaticStaff{}
	staff.Add(cutClerk, Staff{Name: "ann", Role: RoleClerk})
	r.s = &Server{Acquirer: a, Cards: r.m, Staff: staff, Blacklist: bl, Terminals: tokens{}}
	r.srv = httptest.NewServer(r.s.Handler())
	t.Cleanup(r.srv.Close)
	return r
}

// tap makes a purchase of fen on card i at at, spooled on the POS.
func (r *cutRig) tap(t *testing.T, i int, at time.Time, fen uint32) {
	t.Helper()
	if _, err := r.city.Tap(i, 0, at, fen); err != nil {
		t.Fatal(err)
	}
}

// upload submits what the POS spooled since the last upload.
func (r *cutRig) upload(t *testing.T) {
	t.Helper()
	for _, u := range r.city.Uploads() {
		if len(u.Records) == 0 {
			continue
		}
		r.batch++
		b := acquire.Batch{Terminal: u.Terminal.ID, ID: fmt.Sprint("b", r.batch), Count: len(u.Records), AmountFen: u.GenuineFen}
		for _, rec := range u.Records {
			b.Body = append(b.Body, rec...)
		}
		if _, err := r.s.Acquirer.Submit(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
}

func (r *cutRig) post(t *testing.T, asn citycard.ASN, what, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", r.srv.URL+cardURL(asn, what), strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+cutClerk)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	json.NewDecoder(resp.Body).Decode(&v)
	return resp.StatusCode, v
}

func (r *cutRig) flows(t *testing.T, asn citycard.ASN) map[cms.FlowType]int64 {
	t.Helper()
	fs, err := r.m.Flows(context.Background(), sim.Issuer, asn)
	if err != nil {
		t.Fatal(err)
	}
	m := map[cms.FlowType]int64{}
	for _, f := range fs {
		m[f.Type] += f.Fen
	}
	return m
}

// TestBalanceMoveWithLatePurchases follows a lost card whose records
// come late: one before the loss report arrives after it, two after the
// report (offline, before the terminals had the blacklist) arrive within
// the cooling period, one more after the balance moved. The balance as
// of the report moves, the use after it is the issuer's, and card
// management's book of the old card less its purchases is 0 at the end.
func TestBalanceMoveWithLatePurchases(t *testing.T) {
	ctx := context.Background()
	r := newCutRig(t, 2, 1)
	old, nu := r.city.Cards[0].State().ASN, r.city.Cards[1].State().ASN
	cut := r.now().Add(4 * time.Hour)
	r.tap(t, 0, cut.Add(-3*time.Hour), 100)
	r.upload(t)
	r.tap(t, 0, cut.Add(-time.Hour), 200) // before the report, uploaded after it
	r.set(cut)
	if code, v := r.post(t, old, "loss", ""); code != 200 || v["state"] != "lost" {
		t.Fatalf("loss: %d %v", code, v)
	}
	r.tap(t, 0, cut.Add(time.Hour), 400) // after the report, offline
	r.tap(t, 0, cut.Add(2*time.Hour), 30)
	// The replacement: applied by the replace, issued at the counter.
	if code, v := r.post(t, old, "replace", `{"key":"rep-1","new_asn":"`+nu.String()+`","channel":"cash","channel_party":"nb-card","channel_reference":""}`); code != 200 {
		t.Fatalf("replace: %d %v", code, v)
	}
	if code, v := r.post(t, nu, "issue", `{"key":"sell-nu","load_fen":0,"channel":"cash","channel_party":"nb-card","channel_reference":""}`); code != 200 {
		t.Fatalf("issue the replacement: %d %v", code, v)
	}
	// Within the cooling period: refused, nothing moved.
	r.set(cut.Add(7*24*time.Hour - time.Second))
	if code, v := r.post(t, old, "move-balance", `{"key":"move-1"}`); code != http.StatusConflict || !strings.Contains(fmt.Sprint(v), "cooling") {
		t.Fatalf("move within the cooling period: %d %v", code, v)
	}
	r.upload(t) // the late records, all but one
	r.tap(t, 0, cut.Add(3*time.Hour), 50)
	r.set(cut.Add(7 * 24 * time.Hour))
	code, v := r.post(t, old, "move-balance", `{"key":"move-1"}`)
	if code != 200 || v["card"].(map[string]any)["state"] != "closed" || v["new_card"].(map[string]any)["asn"] != nu.String() {
		t.Fatalf("move: %d %v", code, v)
	}
	// 50.00 at the sale, 1.00 and 2.00 spent before the report: 47.00
	// moves; 4.00 and 0.30 after it are the issuer's.
	if f := r.flows(t, old); f[cms.FlowMovedOut] != 4700 || f[cms.FlowLossBorne] != 430 {
		t.Fatalf("old card's flows %v: want 4700 moved out, 430 borne", f)
	}
	if f := r.flows(t, nu); f[cms.FlowMovedIn] != 4700 {
		t.Fatalf("new card's flows %v: want 4700 moved in", f)
	}
	if code, v := r.post(t, old, "move-balance", `{"key":"move-1"}`); code != 200 || v["replayed"] != true {
		t.Fatalf("the move again: %d %v", code, v)
	}

	// The last record arrives after the move: the issuer bears it, once.
	r.upload(t)
	bals := ShadowBalances{Acquirer: r.s.Acquirer, Cards: r.m}
	var closed []cms.Card
	if err := r.m.ClosedCut(ctx, func(cs []cms.Card) error { closed = append(closed, cs...); return nil }); err != nil || len(closed) != 1 || closed[0].ASN != old {
		t.Fatalf("the cards closed with a cut: %+v %v, want the old card alone", closed, err)
	}
	for i, want := range []int64{50, 0} {
		n, fen, err := bals.SettleLateLosses(ctx, cms.Actor{Who: "settler", ServicePoint: "back office"}, closed)
		if err != nil || fen != want || n != int(min(want, 1)) {
			t.Fatalf("late losses, sweep %d: %d cards, %d fen, %v; want %d fen", i, n, fen, err, want)
		}
	}
	if f := r.flows(t, old); f[cms.FlowLossBorne] != 480 {
		t.Fatalf("old card's loss borne %d, want 480", f[cms.FlowLossBorne])
	}
	// Conservation: the old card's book less its purchases booked is 0.
	ps, err := bals.Purchases(ctx, []acquire.Card{{Issuer: sim.Issuer, ASN: old}})
	if err != nil {
		t.Fatal(err)
	}
	if left, err := r.m.BookPurse(ctx, sim.Issuer, old, ps[acquire.Card{Issuer: sim.Issuer, ASN: old}]); err != nil || left != 0 {
		t.Fatalf("old card's book less its purchases: %d %v, want 0", left, err)
	}
}

// TestLostRefundWithLatePurchases refunds a lost card after its cooling
// period from its book less the purchases booked, a late one before the
// report the cardholder's, one after it the issuer's; the deposit of a
// card not handed back is kept.
func TestLostRefundWithLatePurchases(t *testing.T) {
	r := newCutRig(t, 1, 1)
	old := r.city.Cards[0].State().ASN
	cut := r.now().Add(4 * time.Hour)
	r.tap(t, 0, cut.Add(-time.Hour), 300)
	r.set(cut)
	if code, v := r.post(t, old, "loss", ""); code != 200 {
		t.Fatalf("loss: %d %v", code, v)
	}
	r.tap(t, 0, cut.Add(time.Hour), 700)
	r.upload(t)
	r.set(cut.Add(8 * 24 * time.Hour))
	code, v := r.post(t, old, "refund", `{"key":"refund-1","payee":"cash","payee_party":"nb-card","payee_reference":"","approval_id":0}`)
	q, _ := v["quote"].(map[string]any)
	if code != 200 || q == nil || q["balance_fen"] != 4700.0 || q["deposit_fen"] != 0.0 {
		t.Fatalf("refund: %d %v: want 47.00 of balance as of the report, no deposit", code, v)
	}
	if f := r.flows(t, old); f[cms.FlowRefund] != 4700 || f[cms.FlowLossBorne] != 700 {
		t.Fatalf("flows %v", f)
	}
}

// TestDamagedRefundFromShadow reports a card damaged over the API (handed
// back unreadable): its report cuts liability as a loss report does, the
// refund waits for the cooling period (409 naming it, nothing moved),
// then pays the balance as of the report from the shadow, the issuer
// bearing a late purchase made after it, and the deposit back, as the
// card was handed back.
func TestDamagedRefundFromShadow(t *testing.T) {
	r := newCutRig(t, 1, 1)
	asn := r.city.Cards[0].State().ASN
	if _, err := r.m.Move(context.Background(), cms.Actor{Who: "ann", ServicePoint: "nb-counter-01"}, sim.Issuer, asn, cms.Activate); err != nil {
		t.Fatal(err)
	}
	cut := r.now().Add(4 * time.Hour)
	r.tap(t, 0, cut.Add(-time.Hour), 300)
	r.set(cut)
	if code, v := r.post(t, asn, "damaged", ""); code != 200 || v["state"] != "damaged" {
		t.Fatalf("damaged: %d %v", code, v)
	}
	if code, v := r.post(t, asn, "damaged", ""); code != 409 || !strings.Contains(fmt.Sprint(v["error"]), "is damaged") {
		t.Errorf("damaged twice: %d %v; want 409 naming the state", code, v)
	}
	r.tap(t, 0, cut.Add(time.Hour), 700)
	r.upload(t)
	const body = `{"key":"refund-damaged","payee":"cash","payee_party":"nb-card","payee_reference":"","approval_id":0}`
	r.set(cut.Add(6 * 24 * time.Hour))
	if code, v := r.post(t, asn, "refund", body); code != 409 || !strings.Contains(fmt.Sprint(v["error"]), "cooling") {
		t.Fatalf("refund inside the cooling period: %d %v; want 409", code, v)
	}
	if f := r.flows(t, asn); f[cms.FlowRefund] != 0 || f[cms.FlowLossBorne] != 0 {
		t.Fatalf("a refused refund booked %v", f)
	}
	r.set(cut.Add(8 * 24 * time.Hour))
	code, v := r.post(t, asn, "refund", body)
	q, _ := v["quote"].(map[string]any)
	if code != 200 || q == nil || q["balance_fen"] != 4700.0 || q["deposit_fen"] != 1000.0 || q["deposit_kept_fen"] != 0.0 {
		t.Fatalf("refund: %d %v: want 47.00 of balance as of the report and the deposit back", code, v)
	}
	if f := r.flows(t, asn); f[cms.FlowRefund] != 4700 || f[cms.FlowLossBorne] != 700 {
		t.Fatalf("flows %v", f)
	}
}
