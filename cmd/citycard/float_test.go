package main

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/ledger"
)

// floatJSON runs citycard float --json on db.
func floatJSON(t *testing.T, db string) (jsonFloat, error) {
	t.Helper()
	out, _, err := runCLI(t, "float", "--db", db, "--json")
	var jf jsonFloat
	if jerr := json.Unmarshal([]byte(out), &jf); jerr != nil {
		t.Fatalf("float --json: %v %v\n%s", err, jerr, out)
	}
	return jf, err
}

// TestFloat reconciles the float of a small simulated city: cards sold
// and loaded through card management, purchases uploaded and booked by
// acquisition (issue 10, "Card float": "reconciled three ways"; the
// clearing package doc's "Card float" says what each figure includes).
func TestFloat(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "citycard.db")
	if _, _, err := runCLI(t, "sim", "--seed", "1", "--cards", "20", "--days", "1", "--db", db); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := openStores(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	own, err := ownIssuer(ctx, st.registry)
	if err != nil {
		t.Fatal(err)
	}
	floatAcct := ledger.Account{Type: ledger.CardFloat, Party: own.String()}
	b, err := st.ledger.Balance(ctx, floatAcct)
	st.close()
	if err != nil || b.DebitsFen == 0 || b.CreditsFen == 0 {
		t.Fatalf("the float account %+v %v: want loads and purchases", b, err)
	}

	jf, err := floatJSON(t, db)
	if len(jf.Issuer) != 1 {
		t.Fatalf("issuers %+v, want our own alone", jf.Issuer)
	}
	l := jf.Issuer[0]
	if l.Issuer != own.String() || l.LedgerFen != -b.NetFen() || l.BookFen == nil || *l.BookFen != l.LedgerFen || *l.BookDiffFen != 0 {
		t.Errorf("line %+v: want the ledger's %d fen, card management's book the same", l, -b.NetFen())
	}
	if l.ShadowsFen != l.LedgerFen || l.Off != "" || !jf.Sound || err != nil {
		t.Errorf("line %+v, sound %v, err %v: want the three the same", l, jf.Sound, err)
	}

	// A load in the ledger that card management never booked (money from
	// nowhere), then a purchase in the ledger that no journaled record
	// booked (money gone), which the ledger's balance nets away: the
	// book, which counts the ledger's purchases and card management's
	// loads, still names it.
	forge := func(key string, typ ledger.EntryType, from, to ledger.Account, fen int64) {
		t.Helper()
		st, err := openStores(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer st.close()
		if _, err := st.ledger.Append(ctx, time.Now(), []ledger.Entry{ledger.NewEntry(key, typ, "test", ledger.Transfer(from, to, fen)...)}); err != nil {
			t.Fatal(err)
		}
	}
	forge("forged-load", ledger.EntryLoad, ledger.Account{Type: ledger.Settlement, Party: "x"}, floatAcct, 700)
	jf, err = floatJSON(t, db)
	if l2 := jf.Issuer[0]; l2.LedgerFen != l.LedgerFen+700 || *l2.BookDiffFen != -700 || l2.ShadowDiffFen != -700 || l2.Off != "ledger" || !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("after a forged load: %+v %v", l2, err)
	}
	forge("forged-purchase", ledger.EntryPurchase, floatAcct, ledger.Account{Type: ledger.OperatorPayable, Party: "op"}, 700)
	jf, _ = floatJSON(t, db)
	if l3 := jf.Issuer[0]; l3.LedgerFen != l.LedgerFen || *l3.BookDiffFen != -700 || l3.ShadowDiffFen != 0 || l3.Off != "book" {
		t.Errorf("after a forged load and a forged purchase: %+v", l3)
	}
	out, _, _ := runCLI(t, "float", "--db", db)
	for _, want := range []string{"ISSUER", own.String(), "-7.00", "NOT SOUND"} {
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}
	if _, _, err := runCLI(t, "float", "--db", "sqlite:"+filepath.Join(t.TempDir(), "none.db")); !citycard.IsKind(err, citycard.NotFound) {
		t.Errorf("float of no database: %v, want NotFound", err)
	}
}

// TestFloatGreyReleased: a city with torn taps and visiting cards, some of whose grey
// records were released or reversed (acquisition's credits to the
// float): the book agrees with the ledger, where it showed them as a
// book difference before (issue 10's known defect).
func TestFloatGreyReleased(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "citycard.db")
	if _, _, err := runCLI(t, "sim", "--seed", "3", "--cards", "60", "--days", "2", "--faults", "tear", "--db", db); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := openStores(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	own, err := ownIssuer(ctx, st.registry)
	if err != nil {
		t.Fatal(err)
	}
	greys, err := greyCredits(ctx, st.clearing)
	st.close()
	if err != nil || greys[own] == 0 {
		t.Fatalf("grey records released or reversed: %v %v, want some (the seed's tears)", greys, err)
	}
	jf, err := floatJSON(t, db)
	for _, l := range jf.Issuer {
		if l.Issuer == own.String() && (l.BookDiffFen == nil || *l.BookDiffFen != 0 || l.Off != "") {
			t.Errorf("our issuer's line %+v: want the book as the ledger, %d fen of greys released or reversed taken off its purchases", l, greys[own])
		}
	}
	// Per card product too (the city sells five): each sound, and our
	// products' figures summing to our issuer's.
	var sum [3]int64
	products := 0
	for _, l := range jf.Products {
		if l.Off != "" || l.Product == "" {
			t.Errorf("product line %+v: want a product, sound", l)
		}
		if l.Issuer == own.String() && l.BookFen != nil {
			sum[0], sum[1], sum[2] = sum[0]+l.LedgerFen, sum[1]+l.ShadowsFen, sum[2]+*l.BookFen
			products++
		}
	}
	for _, l := range jf.Issuer {
		if l.Issuer == own.String() && (sum != [3]int64{l.LedgerFen, l.ShadowsFen, *l.BookFen} || products < 2) {
			t.Errorf("our %d products sum to %v, our issuer's figures are %d, %d, %d", products, sum, l.LedgerFen, l.ShadowsFen, *l.BookFen)
		}
	}
	if !jf.Sound || err != nil {
		t.Errorf("sound %v, %v: want a sound report (another city's purchases pending their issuer are not the float's)", jf.Sound, err)
	}
	out, _, err := runCLI(t, "float", "--db", db, "--format", "csv")
	if err != nil || !strings.HasPrefix(out, "issuer,product,ledger_fen,shadows_fen,book_fen,shadows_diff_fen,book_diff_fen,off\n"+own.String()+",,") {
		t.Errorf("float --format csv: %v\n%s", err, out)
	}
	if _, _, err := runCLI(t, "float", "--db", db, "--format", "xml"); !errors.Is(err, errUsage) {
		t.Errorf("float --format xml: %v, want a usage error", err)
	}
}

// greyCredits sums, per issuer, the grey records the journal's grey
// decisions released or reversed: acquisition's credits to the float.
func greyCredits(ctx context.Context, j clearing.Journal) (map[citycard.IssuerCode]int64, error) {
	m := map[citycard.IssuerCode]int64{}
	err := j.Greys(ctx, clearing.Range{From: 0, To: math.MaxInt64}, func(g *acquire.GreyDecision) error {
		if g.Move == acquire.GreyReleased || g.Move == acquire.GreyReversed {
			m[g.Issuer] += g.AmountFen
		}
		return nil
	})
	return m, err
}
