package api

import (
	"context"
	"crypto/rand"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/sqlite"
	"github.com/citycard/citycard/terminal"
)

// TestEndToEnd runs the whole chain as a city does: virtual cards tapped
// on terminals that speak APDUs to them and to their PSAMs, spool the
// records in crash-safe queues on disk, and upload them over HTTP to the
// back office, which verifies, journals and books them in SQLite. One card
// tears mid-debit and is recovered at its next tap. At the end every
// card's balance is what the ledger says its float lost, the queues are
// empty, and the ledger verifies.
func TestEndToEnd(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	issuer := citycard.IssuerCode{0x31, 0x50, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF}
	now := time.Date(2026, 11, 24, 7, 30, 0, 0, citycard.ChinaTime)
	clock := func() time.Time { return now }

	ks := keys.NewMemStore()
	var vendor *terminal.PSAMVendor // the PSAMs' vendor, holding its copy of the transport master key
	for _, typ := range append(slices.Clone(keys.CardKeyTypes), keys.KeyRecord, keys.KeyTransport) {
		k := make([]byte, keys.KeyLen)
		rand.Read(k)
		ref := keys.Ref{Issuer: issuer, Type: typ, Version: 1}
		if _, err := ks.Put(ref, keys.AlgSM4, k, "test", now); err != nil {
			t.Fatal(err)
		}
		if typ == keys.KeyTransport {
			var err error
			if vendor, err = terminal.NewPSAMVendor(ref, keys.AlgSM4, k); err != nil {
				t.Fatal(err)
			}
		}
	}
	db, err := sqlite.Open(ctx, "sqlite:"+filepath.Join(dir, "bo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	reg := acquire.TerminalMap{}
	toks := tokens{}
	acq, err := acquire.Open(ctx, acquire.Config{Journal: db.Journal(), Terminals: reg, Verifier: record.NewVerifier(ks, issuer), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer acq.Close()
	srv := httptest.NewServer((&Server{Acquirer: acq, Terminals: toks, Blacklist: blacklist.New(nil, nil), Rejections: db.Journal(),
		Params: func() Parameters { return Parameters{} }}).Handler())
	defer srv.Close()

	type device struct {
		term *terminal.Terminal
		q    *terminal.Queue
		up   *terminal.Uploader
	}
	fare := terminal.SectionFare{Network: 1, BaseFen: 200, BaseStations: 6, StepFen: 100, StepStations: 4, MaxFen: 700}
	var devs []device
	for n, mode := range []terminal.Mode{terminal.ModeFlat, terminal.ModeTapOn, terminal.ModeTapOff, terminal.ModePOS} {
		psamID := citycard.PSAMID{0x31, 0x50, 0, 0, 0, 0, 0, 0, 0x10, byte(n)}
		tid := citycard.TerminalID{0x31, 0x50, 0, 0, 0x20, byte(n)}
		psam := vendor.NewPSAM(psamID)
		if err := terminal.ProvisionPSAM(ks, psam, tid, terminal.PSAMKeys{Operator: issuer, RecordKeyVersion: 1,
			Issuers: []keys.Ref{{Issuer: issuer, Type: keys.KeyPurchase, Version: 1}, {Issuer: issuer, Type: keys.KeyMaintenance, Version: 1}}}, 1); err != nil {
			t.Fatal(err)
		}
		q, err := terminal.OpenQueue(filepath.Join(dir, tid.String()+".queue"))
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		f := terminal.Fare(fare)
		if mode == terminal.ModeFlat {
			f = terminal.FlatFare{Fen: 200}
		}
		term, err := terminal.New(terminal.Config{PSAM: psam, PSAMID: psamID, RecordKeyVersion: 1, Mode: mode, Network: 1, Line: 1,
			Station: uint32(3 + 9*n), Fare: f, Spool: q, KeyVersions: []uint8{1}, MaintenanceKeyVersion: 1, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		op := "metro"
		if n == 0 {
			op = "bus"
		}
		reg[tid] = acquire.TerminalInfo{ID: tid, PSAM: psamID, Operator: op, OperatorCode: issuer, Active: true}
		toks[tid] = "tok-" + tid.String()
		devs = append(devs, device{term, q, &terminal.Uploader{Terminal: tid, Queue: q, MaxBatch: 7,
			Sender: &Client{BaseURL: srv.URL, Terminal: tid, Token: toks[tid]}}})
	}

	start, _ := citycard.DateTime(now.AddDate(-1, 0, 0))
	expiry, _ := citycard.DateTime(now.AddDate(4, 0, 0))
	var cards []*card.Card
	for i := 0; i < 12; i++ {
		asn := citycard.ASN{0, 0, 0x31, 0x50, 0, 0, 0, 0, 0, byte(i)}
		kset, err := card.DeriveKeySet(ks, issuer, asn, 1)
		if err != nil {
			t.Fatal(err)
		}
		c, err := card.New(card.Config{Profile: card.ProfileCitizen, Issuer: issuer, ASN: asn, CardType: 1, Start: start, Expiry: expiry,
			KeySets: []card.KeySet{kset}, InitialBalanceFen: 10000})
		if err != nil {
			t.Fatal(err)
		}
		cards = append(cards, c)
	}
	// A day: each card rides the bus, then the metro in and out, then
	// buys something; card 5 tears at its bus debit and retries.
	for round := 0; round < 3; round++ {
		for i, c := range cards {
			for k, d := range devs {
				now = now.Add(time.Minute)
				if i == 5 && round == 1 && k == 0 {
					c.Tear(card.TearAfterCommit)
					if r, _ := d.term.Tap(c, 0); !r.Grey {
						t.Fatal("no grey record")
					}
					now = now.Add(20 * time.Second)
				}
				if _, err := d.term.Tap(c, 150); err != nil {
					t.Fatalf("card %d, terminal %d: %v", i, k, err)
				}
			}
		}
		// Terminals upload now and then, while riders keep tapping.
		for _, d := range devs {
			if _, err := d.up.Flush(ctx, 3); err != nil {
				t.Fatal(err)
			}
		}
	}
	var spent int64
	for _, c := range cards {
		spent += 10000 - c.State().BalanceFen
	}
	for _, d := range devs {
		if d.q.Len() != 0 {
			t.Fatalf("a queue still holds %d records", d.q.Len())
		}
	}
	bal, err := db.Ledger().Balance(ctx, ledger.Account{Type: ledger.CardFloat, Party: issuer.String()})
	if err != nil || bal.NetFen() != spent {
		t.Fatalf("the float moved %d, the cards spent %d (%v)", bal.NetFen(), spent, err)
	}
	sus, _ := db.Ledger().Balance(ctx, ledger.Account{Type: ledger.Suspense, Party: issuer.String()})
	if sus.NetFen() != 0 {
		t.Fatalf("suspense holds %d", sus.NetFen())
	}
	if rep, err := ledger.Verify(ctx, db.Ledger()); err != nil || rep.Broken != nil {
		t.Fatalf("ledger: %v %v", err, rep.Broken)
	}
	for _, c := range cards {
		sh, ok := acq.Shadow(issuer, c.State().ASN)
		if !ok || sh.ReportedFen != c.State().BalanceFen || sh.OpenGaps != 0 {
			t.Fatalf("card %v: shadow %+v, card holds %d", c.State().ASN, sh, c.State().BalanceFen)
		}
	}
	// 144 taps, each booked once; the torn one reached the back office
	// as its recovered record (the grey one was dropped from the queue
	// before any upload).
	if st := acq.Stats(); st.Rejected != 0 || st.Accepted+st.Flagged != 144 || st.Duplicates != 0 || spent < 144*150 {
		t.Fatalf("stats %+v, spent %d", st, spent)
	}
}
