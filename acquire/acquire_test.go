package acquire

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/terminal"
)

const (
	floatAcct    = "card_float:31500001FFFFFFFF"
	suspenseAcct = "suspense:31500001FFFFFFFF"
	busPayable   = "operator_payable:bus"
)

func TestGenuineBatchBookedOnce(t *testing.T) {
	c, j, a := newBackOffice(t)
	bus := c.device(terminal.ModeFlat, "bus")
	cards := []*card.Card{c.card(1), c.card(2), c.card(3)}
	for i := 0; i < 4; i++ {
		for _, cd := range cards {
			c.tap(bus, cd, 0)
		}
	}
	recs := bus.spool.take()
	if len(recs) != 12 {
		t.Fatalf("%d records spooled, want 12", len(recs))
	}
	ans := submit(t, a, batchOf(bus.id, "b1", recs))
	if ans.Accepted != 12 || ans.Flagged+ans.Duplicates+ans.Rejected != 0 {
		t.Fatalf("answer %v", verdicts(ans))
	}
	got := booked(j)
	if got[floatAcct] != -12*200 || got[busPayable] != 12*200 {
		t.Fatalf("booked %v, want 24.00 from the float to the bus operator", got)
	}
	sh, ok := a.Shadow(ourIssuer, cards[0].State().ASN)
	if !ok || sh.LastCounter != 3 || sh.ReportedFen != 100000-4*200 || sh.OpenGaps != 0 {
		t.Fatalf("shadow %+v", sh)
	}
	// The shadows' float is the ledger's: no load uploaded, 12 purchases
	// booked (issue 10, "Card float": reconciled three ways).
	if fl := a.Float(); len(fl) != 1 || fl[0].Issuer != ourIssuer || fl[0].Cards != 3 || fl[0].BookedFen != got[floatAcct] || fl[0].SuspenseFen != 0 {
		t.Fatalf("float %+v, want 3 cards booking %d", fl, got[floatAcct])
	}

	// The same batch again: the stored answer, nothing booked twice.
	again := submit(t, a, batchOf(bus.id, "b1", recs))
	if !again.Repeat || !reflect.DeepEqual(verdicts(again), verdicts(ans)) {
		t.Fatalf("repeat: %v %v", again.Repeat, verdicts(again))
	}
	// The same records under another batch ID: duplicates.
	dup := submit(t, a, batchOf(bus.id, "b2", recs))
	if dup.Duplicates != 12 {
		t.Fatalf("re-sent records: %v", verdicts(dup))
	}
	if got := booked(j); got[busPayable] != 12*200 {
		t.Fatalf("booked twice: %v", got)
	}
	if n := len(j.Records()); n != 24 {
		t.Fatalf("journal holds %d entries, want 12 booked + 12 duplicates", n)
	}
	// The batch ID with other content: refused.
	if _, err := a.Submit(context.Background(), batchOf(bus.id, "b1", recs[:3])); !citycard.IsKind(err, citycard.Conflict) {
		t.Fatalf("reused batch ID: %v, want Conflict", err)
	}
}

func TestReorderedUploadsFillGaps(t *testing.T) {
	c, j, a := newBackOffice(t)
	bus := c.device(terminal.ModeFlat, "bus")
	cd := c.card(7)
	for i := 0; i < 6; i++ {
		c.tap(bus, cd, 0)
	}
	recs := bus.spool.take()
	// Uploaded out of order: 0, then 4-5, then 1-3 late.
	ans0 := submit(t, a, batchOf(bus.id, "a", recs[:1]))
	ans1 := submit(t, a, batchOf(bus.id, "b", recs[4:]))
	if ans0.Accepted != 1 || ans1.Flagged != 1 || ans1.Accepted != 1 {
		t.Fatalf("first uploads: %v %v", verdicts(ans0), verdicts(ans1))
	}
	want := []string{"counter_gap", "terminal_sequence_gap"}
	if r := ans1.Records[0]; !slices.Equal(r.Reasons, want) {
		t.Fatalf("gap reasons %v, want %v", r.Reasons, want)
	}
	sh, _ := a.Shadow(ourIssuer, cd.State().ASN)
	if sh.OpenGaps != 3 {
		t.Fatalf("open gaps %d, want 3", sh.OpenGaps)
	}
	late := submit(t, a, batchOf(bus.id, "c", recs[1:4]))
	if late.Accepted != 3 {
		t.Fatalf("late records: %v", verdicts(late))
	}
	sh, _ = a.Shadow(ourIssuer, cd.State().ASN)
	if sh.OpenGaps != 0 || sh.LastCounter != 5 || sh.BookedFen != -1200 {
		t.Fatalf("after the late upload: %+v", sh)
	}
	if got := booked(j); got[busPayable] != 1200 {
		t.Fatalf("booked %v, want 12.00 once", got)
	}
	// A record of the gap sent once more is a duplicate.
	if d := submit(t, a, batchOf(bus.id, "d", recs[2:3])); d.Duplicates != 1 {
		t.Fatalf("re-sent gap record: %v", verdicts(d))
	}
}

// flip returns a copy of rec with one field changed.
func flip(rec []byte, off int) []byte {
	b := slices.Clone(rec)
	b[off] ^= 0x01
	return b
}

func TestAlteredRecordsRejected(t *testing.T) {
	c, j, a := newBackOffice(t)
	bus := c.device(terminal.ModePOS, "bus")
	cd := c.card(8)
	c.tap(bus, cd, 250)
	rec := bus.spool.take()[0]
	// Every field the layout has, each altered in its last byte.
	fields := map[string]int{
		"issuer": 12, "asn": 22, "card_type": 23, "rider_category": 24, "key_version": 26,
		"counter": 28, "balance_before": 32, "amount": 36, "terminal_id": 42, "psam_id": 52,
		"terminal_seq": 56, "date": 60, "time": 63, "network": 65, "line": 69, "station": 73,
		"entry_line": 77, "entry_station": 81, "product": 90, "fare_full": 94, "tac": 98,
		"record_key_version": 99, "record_mac": 103,
	}
	var bad [][]byte
	var names []string
	for name, off := range fields {
		bad = append(bad, flip(rec, off))
		names = append(names, name)
	}
	ans := submit(t, a, batchOf(bus.id, "forged", bad))
	if ans.Rejected != len(bad) {
		for i, r := range ans.Records {
			if r.Status != "rejected" {
				t.Errorf("altered %s: %s %v", names[i], r.Status, r.Reasons)
			}
		}
		t.Fatalf("%d of %d altered records rejected", ans.Rejected, len(bad))
	}
	if got := len(j.Rejections()); got != len(bad) {
		t.Fatalf("rejection journal holds %d, want %d", got, len(bad))
	}
	if got := booked(j); len(got) != 0 {
		t.Fatalf("forgeries booked: %v", got)
	}
	// The genuine record still books: nothing of it was taken by the forgeries.
	if ok := submit(t, a, batchOf(bus.id, "genuine", [][]byte{rec})); ok.Accepted != 1 {
		t.Fatalf("genuine after forgeries: %v", verdicts(ok))
	}
}

func TestBatchRefusedWhole(t *testing.T) {
	c, j, a := newBackOffice(t)
	bus := c.device(terminal.ModeFlat, "bus")
	cd := c.card(9)
	c.tap(bus, cd, 0)
	c.tap(bus, cd, 0)
	recs := bus.spool.take()
	for name, b := range map[string]Batch{
		"count":     func() Batch { b := batchOf(bus.id, "x", recs); b.Count = 3; return b }(),
		"amount":    func() Batch { b := batchOf(bus.id, "x", recs); b.AmountFen++; return b }(),
		"truncated": func() Batch { b := batchOf(bus.id, "x", recs); b.Body = b.Body[:len(b.Body)-7]; return b }(),
		"no id":     batchOf(bus.id, "", recs),
		"empty":     batchOf(bus.id, "e", nil),
		"too many": func() Batch {
			var many [][]byte
			for len(many) <= MaxBatchRecords {
				many = append(many, recs[0])
			}
			return batchOf(bus.id, "m", many)
		}(),
	} {
		if _, err := a.Submit(context.Background(), b); !citycard.IsKind(err, citycard.Invalid) {
			t.Fatalf("%s: %v, want Invalid", name, err)
		}
	}
	if n := len(j.Records()) + len(j.Rejections()); n != 0 {
		t.Fatalf("a refused batch left %d journal rows", n)
	}
	if ans := submit(t, a, batchOf(bus.id, "x", recs)); ans.Accepted != 2 {
		t.Fatalf("the corrected batch: %v", verdicts(ans))
	}
}

func TestTerminalChecks(t *testing.T) {
	c, _, a := newBackOffice(t)
	bus := c.device(terminal.ModeFlat, "bus")
	other := c.device(terminal.ModeFlat, "bus")
	cd := c.card(10)
	c.tap(bus, cd, 0)
	recs := bus.spool.take()

	if ans := submit(t, a, batchOf(other.id, "o", recs)); ans.Records[0].Reasons[0] != RejectWrongTerminal {
		t.Fatalf("another terminal's records: %v", verdicts(ans))
	}
	info, _ := c.reg.Terminal(context.Background(), bus.id)
	info.Active = false
	c.reg.set(info)
	if ans := submit(t, a, batchOf(bus.id, "i", recs)); ans.Records[0].Reasons[0] != RejectInactive {
		t.Fatalf("inactive terminal: %v", verdicts(ans))
	}
	info.Active, info.PSAM = true, other.psam
	c.reg.set(info)
	if ans := submit(t, a, batchOf(bus.id, "p", recs)); ans.Records[0].Reasons[0] != RejectPSAM {
		t.Fatalf("PSAM not the terminal's: %v", verdicts(ans))
	}
	info.PSAM = bus.psam
	c.reg.set(info)
	if ans := submit(t, a, batchOf(bus.id, "ok", recs)); ans.Accepted != 1 {
		t.Fatalf("registered again: %v", verdicts(ans))
	}
}

func TestForeignCardPendingIssuer(t *testing.T) {
	c, j, a := newBackOffice(t)
	pos := c.device(terminal.ModePOS, "shop")
	cd := c.foreignCard(3)
	c.tap(pos, cd, 300)
	ans := submit(t, a, batchOf(pos.id, "f", pos.spool.take()))
	if ans.Flagged != 1 || ans.Records[0].Reasons[0] != "pending_issuer_verification" {
		t.Fatalf("foreign card: %v", verdicts(ans))
	}
	got := booked(j)
	if got["interconnect_receivable:21000007FFFFFFFF"] != -300 || got["operator_payable:shop"] != 300 {
		t.Fatalf("booked %v", got)
	}
}

// TestMixedIssuersInOneBatch books each record of a batch mixing our
// cards and another city's under its own issuer's accounts, whichever
// came before it in the batch.
func TestMixedIssuersInOneBatch(t *testing.T) {
	c, j, a := newBackOffice(t)
	pos := c.device(terminal.ModePOS, "shop")
	ours, theirs := c.card(1), c.foreignCard(3)
	c.tap(pos, ours, 100)
	c.tap(pos, theirs, 300)
	c.tap(pos, ours, 100)
	c.tap(pos, theirs, 300)
	ans := submit(t, a, batchOf(pos.id, "mixed", pos.spool.take()))
	if ans.Accepted != 2 || ans.Flagged != 2 {
		t.Fatalf("mixed batch: %v", verdicts(ans))
	}
	got := booked(j)
	if got[floatAcct] != -200 || got["interconnect_receivable:21000007FFFFFFFF"] != -600 || got["operator_payable:shop"] != 800 || len(got) != 3 {
		t.Fatalf("booked %v, want 2.00 from our float and 6.00 from the other city's receivable to the shop", got)
	}
}

func TestGreyRecovered(t *testing.T) {
	c, j, a := newBackOffice(t)
	bus := c.device(terminal.ModePOS, "bus")
	cd := c.card(11)
	cd.Tear(card.TearAfterCommit)
	c.now = c.now.Add(time.Minute)
	if r, _ := bus.Tap(cd, 150); !r.Grey {
		t.Fatal("no grey record")
	}
	grey := bus.spool.take()
	ans := submit(t, a, batchOf(bus.id, "g", grey))
	if ans.Flagged != 1 || ans.Records[0].Reasons[0] != "grey_in_suspense" {
		t.Fatalf("grey: %v", verdicts(ans))
	}
	if got := booked(j); got[suspenseAcct] != 150 || got[floatAcct] != -150 {
		t.Fatalf("grey booked %v, want 1.50 in suspense", got)
	}
	// The rider taps again: the terminal recovers the TAC.
	r := c.tap(bus, cd, 150)
	if r.Recovered == nil {
		t.Fatal("not recovered")
	}
	rec := bus.spool.take()
	ans = submit(t, a, batchOf(bus.id, "r", rec))
	if ans.Accepted != 1 {
		t.Fatalf("recovered: %v", verdicts(ans))
	}
	got := booked(j)
	if got[suspenseAcct] != 0 || got[busPayable] != 150 || got[floatAcct] != -150 {
		t.Fatalf("after recovery: %v, want 1.50 to the operator and suspense empty", got)
	}
	// The grey record uploaded again (the terminal had not yet acked it)
	// is a duplicate.
	if d := submit(t, a, batchOf(bus.id, "g2", grey)); d.Duplicates != 1 {
		t.Fatalf("grey again: %v", verdicts(d))
	}
	sh, _ := a.Shadow(ourIssuer, cd.State().ASN)
	if sh.GreysPending != 0 || sh.BookedFen != -150 {
		t.Fatalf("shadow %+v", sh)
	}
}

func TestGreyConfirmedAndReleased(t *testing.T) {
	c, j, a := newBackOffice(t)
	bus := c.device(terminal.ModePOS, "bus")
	metro := c.device(terminal.ModePOS, "metro")

	// Torn after the debit, never recovered: the card's next record
	// elsewhere, with the next counter, confirms the debit.
	cd := c.card(12)
	cd.Tear(card.TearAfterCommit)
	bus.Tap(cd, 100)
	c.tap(metro, cd, 300)
	submit(t, a, batchOf(bus.id, "g", bus.spool.take()))
	ans := submit(t, a, batchOf(metro.id, "m", metro.spool.take()))
	if ans.Accepted != 1 {
		t.Fatalf("next record: %v", verdicts(ans))
	}
	got := booked(j)
	if got[suspenseAcct] != 0 || got[busPayable] != 100 || got["operator_payable:metro"] != 300 || got[floatAcct] != -400 {
		t.Fatalf("confirmed: %v", got)
	}

	// Torn before the debit: the card's next record reuses the counter,
	// which releases the grey record back to the float.
	cd2 := c.card(13)
	cd2.Tear(card.TearBeforeCommit)
	bus.Tap(cd2, 100)
	c.tap(metro, cd2, 300)
	submit(t, a, batchOf(bus.id, "g2", bus.spool.take()))
	ans = submit(t, a, batchOf(metro.id, "m2", metro.spool.take()))
	if ans.Accepted != 1 {
		t.Fatalf("same-counter record: %v", verdicts(ans))
	}
	got = booked(j)
	if got[suspenseAcct] != 0 || got[busPayable] != 100 || got["operator_payable:metro"] != 600 || got[floatAcct] != -700 {
		t.Fatalf("released: %v", got)
	}
	sh, _ := a.Shadow(ourIssuer, cd2.State().ASN)
	if sh.GreysPending != 0 || sh.ReportedFen != int64(cd2.State().BalanceFen) {
		t.Fatalf("shadow %+v, card holds %d", sh, cd2.State().BalanceFen)
	}
	// Each move is in the journal once, at the metro's entry that made it.
	gs, entries := j.Greys(), j.Records()
	if len(gs) != 2 || gs[0].Move != GreyConfirmed || gs[1].Move != GreyReleased ||
		entries[gs[0].Pos-1].BatchID != "m" || entries[gs[1].Pos-1].BatchID != "m2" || gs[0].AmountFen != 100 || gs[1].Terminal != bus.id {
		t.Fatalf("grey decisions %+v", gs)
	}
}

func TestRestartReplaysToTheSameState(t *testing.T) {
	c := newCity(t)
	j := NewMemJournal()
	a := c.open(j)
	bus := c.device(terminal.ModeFlat, "bus")
	var cards []*card.Card
	for n := uint32(0); n < 20; n++ {
		cards = append(cards, c.card(100+n))
	}
	upload := func(a *Acquirer, id string) {
		for _, cd := range cards {
			c.tap(bus, cd, 0)
		}
		recs := bus.spool.take()
		slices.Reverse(recs)
		submit(t, a, batchOf(bus.id, id, recs[:len(recs)/2]))
		submit(t, a, batchOf(bus.id, id+"'", recs[len(recs)/2:]))
	}
	upload(a, "1")
	upload(a, "2")
	before := encodeAll(a.st)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// From the checkpoint Close wrote.
	a2 := c.open(j)
	if got := encodeAll(a2.st); !slices.Equal(got, before) {
		t.Fatal("state from the checkpoint differs")
	}
	upload(a2, "3")
	after := encodeAll(a2.st)
	a2.st = nil // as a kill -9 would: no checkpoint of batch 3
	// From the old checkpoint plus the journal after it.
	a3 := c.open(j)
	if got := encodeAll(a3.st); !slices.Equal(got, after) {
		t.Fatal("state from checkpoint + replay differs")
	}
	if a3.Stats().Replayed != 20 {
		t.Fatalf("replayed %d entries, want 20", a3.Stats().Replayed)
	}
	a3.Close()
	// A checkpoint past the journal's end is refused: the journal lost
	// entries the state counts.
	saved := j.checkpoints[0]
	past := saved
	past.Pos = int64(len(j.entries)) + 5
	j.checkpoints[0] = past
	if _, err := Open(context.Background(), Config{Journal: j, Terminals: c.reg, Verifier: record.NewVerifier(c.store, ourIssuer), Shards: 4}); !citycard.IsKind(err, citycard.Invalid) {
		t.Fatalf("checkpoint past the journal: %v, want Invalid", err)
	}
	j.checkpoints[0] = saved
	// From the journal alone.
	j.checkpoints = nil
	a4 := c.open(j)
	if got := encodeAll(a4.st); !slices.Equal(got, after) {
		t.Fatal("state from the whole journal differs")
	}
	a4.Close()
	// With another shard count the checkpoints (a4's, of 4 shards) do not
	// fit: dropped, and the whole journal replayed.
	a5, err := Open(context.Background(), Config{Journal: j, Terminals: c.reg, Verifier: record.NewVerifier(c.store, ourIssuer), Shards: 7})
	if err != nil || a5.Stats().Replayed != 60 {
		t.Fatalf("other shard count: %v, replayed %d of 60", err, a5.Stats().Replayed)
	}
	a5.Close()
}

func TestCommitFailureLosesNothing(t *testing.T) {
	c, j, a := newBackOffice(t)
	bus := c.device(terminal.ModeFlat, "bus")
	cd := c.card(30)
	for i := 0; i < 3; i++ {
		c.tap(bus, cd, 0)
	}
	recs := bus.spool.take()
	j.FailNext = errors.New("disk full")
	if _, err := a.Submit(context.Background(), batchOf(bus.id, "x", recs)); !citycard.IsKind(err, citycard.IO) || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("failed commit: %v, want IO", err)
	}
	if _, ok := a.Shadow(ourIssuer, cd.State().ASN); ok {
		t.Fatal("a failed commit left the card in the state")
	}
	ans := submit(t, a, batchOf(bus.id, "x", recs))
	if ans.Accepted != 3 || ans.Repeat {
		t.Fatalf("retry: %v", verdicts(ans))
	}
	if got := booked(j); got[busPayable] != 600 {
		t.Fatalf("booked %v", got)
	}
}

// TestExactlyOnceProperty uploads a city's records in random batches,
// orders and repetitions, and checks that every genuine record is booked
// once and the books match the cards.
func TestExactlyOnceProperty(t *testing.T) {
	c, j, a := newBackOffice(t)
	devs := []*device{c.device(terminal.ModeFlat, "bus"), c.device(terminal.ModeFlat, "bus"), c.device(terminal.ModePOS, "shop")}
	var cards []*card.Card
	for n := uint32(0); n < 30; n++ {
		cards = append(cards, c.card(200+n))
	}
	var all []struct {
		dev *device
		rec []byte
	}
	var spent int64
	for i := 0; i < 600; i++ {
		d := devs[i%len(devs)]
		cd := cards[(i*7)%len(cards)]
		r := c.tap(d, cd, uint32(50+i%300))
		spent += int64(r.Record.Amount)
		for _, rec := range d.spool.take() {
			all = append(all, struct {
				dev *device
				rec []byte
			}{d, rec})
		}
	}
	// Upload each terminal's records in shuffled batches, each record 1 to
	// 3 times.
	rng := newRand(42)
	for round := 0; round < 3; round++ {
		for _, d := range devs {
			var mine [][]byte
			for _, x := range all {
				if x.dev == d && (round == 0 || rng.IntN(3) == 0) {
					mine = append(mine, x.rec)
				}
			}
			rng.Shuffle(len(mine), func(i, k int) { mine[i], mine[k] = mine[k], mine[i] })
			for k := 0; k < len(mine); k += 37 {
				submit(t, a, batchOf(d.id, d.id.String()+"-"+string(rune('a'+round))+"-"+itoa(k), mine[k:min(k+37, len(mine))]))
			}
		}
	}
	got := booked(j)
	st := a.Stats()
	t.Logf("stats %+v", st)
	if got[floatAcct] != -spent {
		t.Fatalf("float moved %d, cards spent %d", -got[floatAcct], spent)
	}
	var payable int64
	for k, v := range got {
		if strings.HasPrefix(k, "operator_payable:") {
			payable += v
		}
	}
	if payable != spent {
		t.Fatalf("operators owed %d, cards spent %d", payable, spent)
	}
	var booked int
	for _, e := range j.Records() {
		if e.Class == ClassBooked {
			booked++
		}
	}
	if booked != len(all) {
		t.Fatalf("%d records booked, %d genuine", booked, len(all))
	}
	for _, cd := range cards {
		sh, _ := a.Shadow(ourIssuer, cd.State().ASN)
		if sh.ReportedFen != cd.State().BalanceFen || sh.OpenGaps != 0 || sh.BookedFen != cd.State().BalanceFen-100000 {
			t.Fatalf("card %v: shadow %+v, card balance %d", cd.State().ASN, sh, cd.State().BalanceFen)
		}
	}
	_ = record.Size
}

type listed map[citycard.ASN]bool

func (l listed) Contains(_ citycard.IssuerCode, asn citycard.ASN) bool { return l[asn] }

func TestFlagsBlacklistClockUnknownTerminal(t *testing.T) {
	c := newCity(t)
	j := NewMemJournal()
	bl := listed{}
	a, err := Open(context.Background(), Config{
		Journal: j, Terminals: c.reg, Verifier: record.NewVerifier(c.store, ourIssuer), Blacklist: bl,
		Now: func() time.Time { return c.now }, Shards: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	bus := c.device(terminal.ModePOS, "bus")
	listedCard, okCard := c.card(40), c.card(41)
	bl[listedCard.State().ASN] = true
	c.tap(bus, listedCard, 100)
	c.tap(bus, okCard, 100)
	recs := bus.spool.take()

	// Uploaded 50 days later: the records' clock is far from the upload.
	c.now = c.now.Add(50 * 24 * time.Hour)
	ans := submit(t, a, batchOf(bus.id, "late", recs))
	want := [][]string{{"blacklisted", "clock"}, {"clock"}}
	for i, w := range want {
		if !slices.Equal(ans.Records[i].Reasons, w) || ans.Records[i].Status != "flagged" {
			t.Fatalf("record %d: %s %v, want flagged %v", i, ans.Records[i].Status, ans.Records[i].Reasons, w)
		}
	}
	// Flagged records are booked.
	if got := booked(j); got[busPayable] != 200 {
		t.Fatalf("booked %v", got)
	}

	// A terminal the registry does not know: every record rejected, kept.
	c.reg.mu.Lock()
	delete(c.reg.terms, bus.id)
	c.reg.mu.Unlock()
	c.tap(bus, okCard, 100)
	ans = submit(t, a, batchOf(bus.id, "unknown", bus.spool.take()))
	if ans.Rejected != 1 || ans.Records[0].Reasons[0] != RejectUnknownTerminal {
		t.Fatalf("unknown terminal: %v", verdicts(ans))
	}
	if n := len(j.Rejections()); n != 1 {
		t.Fatalf("%d rejections kept, want 1", n)
	}
}

// encodeAll encodes every part of the state, to compare states.
func encodeAll(s *state) []byte {
	var b []byte
	for p := 0; p < s.parts(); p++ {
		b = append(b, s.encodePart(p)...)
	}
	return b
}

func TestCheckpointDecodeRefusesGarbage(t *testing.T) {
	s := newState(2)
	id := cardID{asn: citycard.ASN{9: 1}}
	s.shardOf(&id).cards[id] = newShadow()
	wrongShard := s.encodePart(Shard(id.issuer, id.asn, 2))
	wrongShard[6] ^= 1 // the part number: the card is then in a shard not its own
	for name, b := range map[string][]byte{
		"empty": nil, "magic only": []byte("CCKP"), "version 1": []byte("CCKP\x01\x00\x00"),
		"part beyond": []byte("CCKP\x02\x05\x03\x00\x00"), "other shard count": []byte("CCKP\x02\x00\x05\x00\x00"),
		"terminal in a card part": append([]byte("CCKP\x02\x00\x03\x01"), make([]byte, 9)...),
		"card not of its shard":   wrongShard,
	} {
		if _, err := newState(2).decode(b); !citycard.IsKind(err, citycard.Invalid) {
			t.Fatalf("decode %s: %v, want Invalid", name, err)
		}
	}
}

// TestRollingCheckpoints: parts checkpointed in turn at different
// positions, then a kill -9 (no checkpoint at close): the state comes back
// from the parts and the journal replayed from the oldest of them, each
// entry applied only to the parts behind it.
func TestRollingCheckpoints(t *testing.T) {
	c := newCity(t)
	j := NewMemJournal()
	a, err := Open(context.Background(), Config{Journal: j, Terminals: c.reg, Verifier: record.NewVerifier(c.store, ourIssuer),
		Now: func() time.Time { return c.now }, Shards: 4, CheckpointEvery: 10}) // a part every 2 records
	if err != nil {
		t.Fatal(err)
	}
	buses := []*device{c.device(terminal.ModeFlat, "bus"), c.device(terminal.ModeFlat, "bus")}
	var cards []*card.Card
	for n := uint32(0); n < 9; n++ {
		cards = append(cards, c.card(300+n))
	}
	for round := 0; round < 7; round++ {
		for i, cd := range cards {
			c.tap(buses[(i+round)%2], cd, 0)
		}
		for k, b := range buses {
			recs := b.spool.take()
			slices.Reverse(recs) // out of order: gaps opened and filled
			submit(t, a, batchOf(b.id, fmt.Sprintf("r%d-%d", round, k), recs))
		}
	}
	want := encodeAll(a.st)
	var positions []int64
	for _, cp := range j.checkpoints {
		positions = append(positions, cp.Pos)
	}
	slices.Sort(positions)
	if len(positions) != 5 || positions[0] == positions[4] {
		t.Fatalf("part checkpoints at %v: want 5 parts at different positions", positions)
	}
	a.st = nil // kill -9: no checkpoint at close
	b, err := Open(context.Background(), Config{Journal: j, Terminals: c.reg, Verifier: record.NewVerifier(c.store, ourIssuer), Shards: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := encodeAll(b.st); !slices.Equal(got, want) {
		t.Fatal("the state from rolling checkpoints and the journal differs")
	}
	if r := b.Stats().Replayed; r == 0 || r >= int64(len(j.entries)) {
		t.Fatalf("replayed %d of %d entries: want only those after the oldest part", r, len(j.entries))
	}
}

func FuzzCheckpointDecode(f *testing.F) {
	s := newState(2)
	for i := 0; i < 5; i++ {
		id := cardID{asn: citycard.ASN{9: byte(i)}}
		c := newShadow()
		c.offline.see(uint32(i*3), int64(i))
		c.offline.see(uint32(i*3+2), int64(i)) // a gap, when i > 0
		s.shardOf(&id).cards[id] = c
		a := newTrack() // its application counter, with a gap when i > 1
		a.see(0, noBalance)
		a.see(uint32(i), noBalance)
		s.shardOf(&id).apps[id] = &a
		s.terminal(citycard.TerminalID{5: byte(i)}).see(uint32(i), noBalance)
	}
	for p := 0; p < s.parts(); p++ {
		f.Add(s.encodePart(p))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		st := newState(2)
		p, err := st.decode(b)
		if err != nil {
			return
		}
		// What decodes encodes to a checkpoint that decodes to the same
		// part: nothing is lost or invented on the way.
		e1 := st.encodePart(p)
		st2 := newState(2)
		if p2, err := st2.decode(e1); err != nil || p2 != p {
			t.Fatalf("re-decoding an encoded part: %v (part %d, want %d)", err, p2, p)
		}
		if e2 := st2.encodePart(p); !slices.Equal(e1, e2) {
			t.Fatalf("encode, decode, encode changed the checkpoint")
		}
	})
}

// fares says every composite purchase of more than 3.00 is mispriced,
// and one of exactly 2.00 has a time that cannot be right.
type fares struct{}

func (fares) Recheck(r *record.Record) FareVerdict {
	switch {
	case r.Amount > 300:
		return FareMismatch
	case r.Amount == 200:
		return FareClockWrong
	}
	return FareMatch
}

func TestFareMismatchFlagged(t *testing.T) {
	c := newCity(t)
	j := NewMemJournal()
	a, err := Open(context.Background(), Config{
		Journal: j, Terminals: c.reg, Verifier: record.NewVerifier(c.store, ourIssuer), Fares: fares{},
		Now: func() time.Time { return c.now }, Shards: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	in, out := c.device(terminal.ModeTapOn, "metro"), c.device(terminal.ModeTapOff, "metro")
	cd := c.card(50)
	c.tap(in, cd, 0)
	c.tap(in, cd, 0)  // the first leg never tapped off: the maximum fare, 7.00
	c.tap(out, cd, 0) // from station 1 to 2: 2.00
	ans := submit(t, a, batchOf(in.id, "in", in.spool.take()))
	if ans.Records[0].Status != "accepted" || !slices.Equal(ans.Records[1].Reasons, []string{"fare_mismatch"}) {
		t.Fatalf("tap-ons: %v", verdicts(ans))
	}
	if ans := submit(t, a, batchOf(out.id, "out", out.spool.take())); !slices.Equal(ans.Records[0].Reasons, []string{"clock"}) {
		t.Fatalf("tap-off whose times cannot be right: %v, want flagged clock, not fare_mismatch", verdicts(ans))
	}
}

func TestSubmitRacesClose(t *testing.T) {
	c := newCity(t)
	a := c.open(NewMemJournal())
	bus := c.device(terminal.ModeFlat, "bus")
	c.tap(bus, c.card(60), 0)
	recs := bus.spool.take()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 50; k++ {
				_, err := a.Submit(context.Background(), batchOf(bus.id, fmt.Sprintf("g%d-%d", i, k), recs))
				if err != nil && !citycard.IsKind(err, citycard.Unavailable) {
					t.Errorf("submit: %v", err)
					return
				}
			}
		}()
	}
	a.Close()
	wg.Wait()
}

// TestPoisonBatchFailsAlone: a batch whose commit always fails is split
// from its group, so the other batches of the group commit.
func TestPoisonBatchFailsAlone(t *testing.T) {
	c, j, a := newBackOffice(t)
	bus := c.device(terminal.ModeFlat, "bus")
	var jobs []*job
	for i, id := range []string{"good1", "poison", "good2"} {
		c.tap(bus, c.card(uint32(70+i)), 0)
		b := batchOf(bus.id, id, bus.spool.take())
		jobs = append(jobs, c.job(a, b))
	}
	j.FailBatch = "poison"
	a.process(jobs) // one group, as the sequencer would make it
	for i, want := range []bool{true, false, true} {
		r := <-jobs[i].reply
		// good2 is flagged: the poison batch's sequence is missing.
		if (r.err == nil) != want || (want && r.ans.Accepted+r.ans.Flagged != 1) {
			t.Fatalf("batch %s: %+v %v", jobs[i].b.ID, r.ans, r.err)
		}
	}
	if n := len(j.Records()); n != 2 {
		t.Fatalf("journal holds %d entries, want the 2 good batches' records", n)
	}
	// The state is the journal's: the poison batch's card is unknown.
	if _, ok := a.Shadow(ourIssuer, c.card(71).State().ASN); ok {
		t.Fatal("the failed batch's card has a shadow")
	}
}

// TestGreyArrivingLateIsConfirmed: the card's next record (from another
// terminal) is uploaded before the grey one; the grey record then books
// at once, since the card's counter had already moved past it.
func TestGreyArrivingLateIsConfirmed(t *testing.T) {
	c, j, a := newBackOffice(t)
	bus := c.device(terminal.ModePOS, "bus")
	metro := c.device(terminal.ModePOS, "metro")
	cd := c.card(80)
	c.tap(bus, cd, 50) // counter 0
	submit(t, a, batchOf(bus.id, "b0", bus.spool.take()))
	cd.Tear(card.TearAfterCommit)
	bus.Tap(cd, 100)     // counter 1, torn: a grey record
	c.tap(metro, cd, 30) // counter 2, elsewhere
	if ans := submit(t, a, batchOf(metro.id, "m", metro.spool.take())); ans.Flagged != 1 || ans.Records[0].Reasons[0] != "counter_gap" {
		t.Fatalf("metro first: %v (want a counter gap)", verdicts(ans))
	}
	ans := submit(t, a, batchOf(bus.id, "b1", bus.spool.take()))
	if ans.Flagged != 1 || ans.Records[0].Reasons[0] != "grey_in_suspense" {
		t.Fatalf("bus's grey record: %v", verdicts(ans))
	}
	got := booked(j)
	if got[suspenseAcct] != 0 || got[busPayable] != 150 || got[floatAcct] != -180 {
		t.Fatalf("booked %v: the late grey record should be confirmed at once", got)
	}
	if sh, _ := a.Shadow(ourIssuer, cd.State().ASN); sh.GreysPending != 0 || sh.OpenGaps != 0 || sh.BookedFen != -180 {
		t.Fatalf("shadow %+v", sh)
	}
}

// TestShardIsStable pins the shard function, a stored fact (the routing
// of a card's uploads), to the standard library's FNV-1a.
func TestShardIsStable(t *testing.T) {
	issuer := citycard.IssuerCode{0x31, 0x50, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF}
	asn := citycard.ASN{0, 0, 0x31, 0x50, 0, 0, 0x12, 0x34, 0x56, 0x78}
	f := fnv.New64a()
	f.Write(issuer[:])
	f.Write(asn[:])
	h := f.Sum64()
	for _, n := range []int{1, 7, 16, 1024} {
		if got := Shard(issuer, asn, n); got != int(h%uint64(n)) {
			t.Fatalf("Shard mod %d = %d, want %d", n, got, h%uint64(n))
		}
	}
	counts := make([]int, 16)
	for i := 0; i < 16000; i++ {
		counts[Shard(issuer, citycard.ASN{8: byte(i >> 8), 9: byte(i)}, 16)]++
	}
	for s, n := range counts {
		if n < 800 || n > 1200 {
			t.Fatalf("shard %d holds %d of 16000 cards: the hash spreads badly", s, n)
		}
	}
}

// unpriced is a fare table that can price nothing.
type unpriced struct{}

func (unpriced) Recheck(*record.Record) FareVerdict { return FareUnchecked }

// TestFaresUncheckedCounted: a composite purchase the fare rules cannot
// re-price is not flagged, but counted, never dropped silently.
func TestFaresUncheckedCounted(t *testing.T) {
	c := newCity(t)
	a, err := Open(context.Background(), Config{Journal: NewMemJournal(), Terminals: c.reg, Verifier: c.verifier(), Fares: unpriced{}, Now: c.clock, Shards: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	in, out := c.device(terminal.ModeTapOn, "metro"), c.device(terminal.ModeTapOff, "metro")
	cd := c.card(51)
	c.tap(in, cd, 0)
	c.tap(out, cd, 0)
	c.tap(in, cd, 0)
	if ans := submit(t, a, batchOf(in.id, "in", in.spool.take())); ans.Accepted+ans.Flagged != 2 {
		t.Fatalf("tap-ons: %v", verdicts(ans))
	}
	if ans := submit(t, a, batchOf(out.id, "out", out.spool.take())); ans.Accepted != 1 {
		t.Fatalf("tap-off: %v", verdicts(ans))
	}
	if n := a.Stats().FaresUnchecked; n != 3 {
		t.Fatalf("%d records counted unchecked, want 3", n)
	}
}
