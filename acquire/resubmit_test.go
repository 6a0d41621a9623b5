package acquire

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/terminal"
)

// lateKeys is a key store in which some keys are not loaded yet: the
// back office's view while a key ceremony is still to come.
type lateKeys struct {
	keys.Store
	mu     sync.Mutex
	absent map[keys.Ref]bool
}

func (s *lateKeys) DeriveInto(dst *[keys.KeyLen]byte, ref keys.Ref, path ...[]byte) (keys.Alg, error) {
	s.mu.Lock()
	absent := s.absent[ref]
	s.mu.Unlock()
	if absent {
		return 0, citycard.E("test.lateKeys", citycard.KeyMissing, "key %v not loaded yet", ref)
	}
	return s.Store.DeriveInto(dst, ref, path...)
}

func (s *lateKeys) load(ref keys.Ref) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.absent, ref)
}

// rejectionsOf returns the rejections kept for batch id.
func rejectionsOf(t *testing.T, a *Acquirer, j *MemJournal, id string) []PositionedRejection {
	t.Helper()
	rs, err := j.QueryRejections(context.Background(), RejectionFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []PositionedRejection
	for _, r := range rs {
		if r.BatchID == id {
			out = append(out, r)
		}
	}
	return out
}

// TestResubmitFixedRejections: records rejected for reasons staff fix
// later (a terminal registered late, a PSAM swapped in the registry, an
// operator's record key loaded late) are booked when resubmitted, once,
// however often and by whomever resubmitted; the answer keeps who did.
func TestResubmitFixedRejections(t *testing.T) {
	c := newCity(t)
	recordRef := keys.Ref{Issuer: citycard.IssuerCode{0x31, 0x50, 0x09, 0x77, 0xFF, 0xFF, 0xFF, 0xFF}, Type: keys.KeyRecord, Version: 1}
	k := make([]byte, keys.KeyLen)
	for i := range k {
		k[i] = byte(3*i + 1)
	}
	if _, err := c.store.Put(recordRef, keys.Alg3DES, k, "test", day0); err != nil {
		t.Fatal(err)
	}
	late := &lateKeys{Store: c.store, absent: map[keys.Ref]bool{recordRef: true}}
	j := NewMemJournal()
	a, err := Open(context.Background(), Config{Journal: j, Terminals: c.reg, Verifier: record.NewVerifier(late, ourIssuer), Now: c.clock, Shards: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()

	// 1. A terminal registered late.
	bus := c.device(terminal.ModeFlat, "bus")
	busInfo, _ := c.reg.Terminal(ctx, bus.id)
	c.reg.mu.Lock()
	delete(c.reg.terms, bus.id)
	c.reg.mu.Unlock()
	for i := 0; i < 3; i++ {
		c.tap(bus, c.card(uint32(120+i)), 0)
	}
	if ans := submit(t, a, batchOf(bus.id, "unregistered", bus.spool.take())); ans.Rejected != 3 {
		t.Fatalf("unregistered terminal: %v", verdicts(ans))
	}
	// 2. A PSAM swapped on the terminal, the registry not told yet.
	metro := c.device(terminal.ModeFlat, "metro")
	metroInfo, _ := c.reg.Terminal(ctx, metro.id)
	wrong := metroInfo
	wrong.PSAM = citycard.PSAMID{9, 9, 9}
	c.reg.set(wrong)
	c.tap(metro, c.card(130), 0)
	if ans := submit(t, a, batchOf(metro.id, "swapped", metro.spool.take())); ans.Rejected != 1 || ans.Records[0].Reasons[0] != RejectPSAM {
		t.Fatalf("swapped PSAM: %v", verdicts(ans))
	}
	// 3. A new operator whose record key is not loaded yet.
	ferry := c.deviceOf(terminal.ModeFlat, "ferry", recordRef.Issuer)
	c.tap(ferry, c.card(131), 0)
	if ans := submit(t, a, batchOf(ferry.id, "nokey", ferry.spool.take())); ans.Rejected != 1 || ans.Records[0].Reasons[0] != RejectKey {
		t.Fatalf("record key not loaded: %v", verdicts(ans))
	}

	// Nothing is booked; staff fix each cause.
	if got := booked(j); len(got) != 0 {
		t.Fatalf("booked before the fixes: %v", got)
	}
	c.reg.set(busInfo)
	c.reg.set(metroInfo)
	late.load(recordRef)

	var rejected []PositionedRejection
	for _, id := range []string{"unregistered", "swapped", "nokey"} {
		rejected = append(rejected, rejectionsOf(t, a, j, id)...)
	}
	if len(rejected) != 5 {
		t.Fatalf("%d rejections kept, want 5", len(rejected))
	}
	for _, r := range rejected {
		got, err := a.Rejection(ctx, r.Pos)
		if err != nil || got.Pos != r.Pos || string(got.Raw) != string(r.Raw) {
			t.Fatalf("rejection %d looked up: %+v %v", r.Pos, got, err)
		}
		ans, err := a.Resubmit(ctx, got, "ann")
		if err != nil {
			t.Fatalf("resubmit %d: %v", r.Pos, err)
		}
		if ans.Accepted+ans.Flagged != 1 || ans.Repeat || ans.Resubmission == nil || ans.Resubmission.By != "ann" || ans.Resubmission.Rejection != r.Pos {
			t.Fatalf("resubmit %d (%s): %v %+v", r.Pos, r.Reason, verdicts(ans), ans.Resubmission)
		}
	}
	want := map[string]int64{busPayable: 600, "operator_payable:metro": 200, "operator_payable:ferry": 200}
	got := booked(j)
	for acct, fen := range want {
		if got[acct] != fen {
			t.Fatalf("booked %v, want %v", got, want)
		}
	}

	// Again, by someone else, even at once from several goroutines: each
	// answered from the first resubmission, nothing booked twice.
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, r := range rejected {
				ans, err := a.Resubmit(ctx, r, fmt.Sprintf("bob%d", w))
				if err != nil || !ans.Repeat || ans.Resubmission.By != "ann" {
					t.Errorf("resubmit %d again: %+v %v", r.Pos, ans.Resubmission, err)
				}
			}
		}()
	}
	wg.Wait()
	if again := booked(j); again[busPayable] != 600 || again["operator_payable:metro"] != 200 {
		t.Fatalf("booked again: %v", again)
	}
	for _, r := range rejected {
		ans, ok, err := ResubmissionOf(ctx, j, &r)
		if err != nil || !ok || ans.Resubmission.By != "ann" {
			t.Fatalf("resubmission of %d: %+v %v %v", r.Pos, ans.Resubmission, ok, err)
		}
	}
}

// TestResubmitKeepsTheRules: a resubmitted forgery is rejected again (a
// new rejection, of the resubmission's batch); a rejected record whose
// copy was booked since is a duplicate; a rejection that holds no whole
// record cannot be resubmitted; a terminal cannot use the resubmission
// batch IDs.
func TestResubmitKeepsTheRules(t *testing.T) {
	c, j, a := newBackOffice(t)
	ctx := context.Background()
	bus := c.device(terminal.ModeFlat, "bus")
	c.tap(bus, c.card(140), 0)
	c.tap(bus, c.card(141), 0)
	recs := bus.spool.take()
	forged := flip(recs[0], 20)
	ans := submit(t, a, batchOf(bus.id, "f", [][]byte{forged}))
	if ans.Rejected != 1 {
		t.Fatalf("forgery: %v", verdicts(ans))
	}
	rf := rejectionsOf(t, a, j, "f")[0]
	ans, err := a.Resubmit(ctx, rf, "ann")
	if err != nil || ans.Rejected != 1 {
		t.Fatalf("resubmitted forgery: %v %v", verdicts(ans), err)
	}
	if again := rejectionsOf(t, a, j, ResubmitBatchID(rf.Pos)); len(again) != 1 || string(again[0].Raw) != string(forged) {
		t.Fatalf("the resubmitted forgery's new rejection: %+v", again)
	}

	// Rejected while the terminal was inactive, then uploaded again by the
	// terminal once active: the resubmission is a duplicate.
	info, _ := c.reg.Terminal(ctx, bus.id)
	info.Active = false
	c.reg.set(info)
	submit(t, a, batchOf(bus.id, "inactive", recs[1:]))
	info.Active = true
	c.reg.set(info)
	if ans := submit(t, a, batchOf(bus.id, "retry", recs[1:])); ans.Accepted != 1 {
		t.Fatalf("retry: %v", verdicts(ans))
	}
	ri := rejectionsOf(t, a, j, "inactive")[0]
	if ans, err := a.Resubmit(ctx, ri, "ann"); err != nil || ans.Duplicates != 1 {
		t.Fatalf("resubmitted copy of a booked record: %v %v", verdicts(ans), err)
	}
	if got := booked(j); got[busPayable] != 200 {
		t.Fatalf("booked %v, want 2.00 once", got)
	}

	short := PositionedRejection{Pos: 99, Rejection: Rejection{Terminal: bus.id, Raw: recs[0][:50]}}
	if _, err := a.Resubmit(ctx, short, "ann"); !citycard.IsKind(err, citycard.Invalid) {
		t.Fatalf("a truncated rejection: %v, want Invalid", err)
	}
	if _, err := a.Resubmit(ctx, ri, " "); !citycard.IsKind(err, citycard.Invalid) {
		t.Fatalf("nobody resubmits: %v, want Invalid", err)
	}
	if _, err := a.Resubmit(ctx, ri, strings.Repeat("a", MaxResubmitterLen+1)); !citycard.IsKind(err, citycard.Invalid) {
		t.Fatalf("a name past MaxResubmitterLen: %v, want Invalid", err)
	}
	if _, err := a.Resubmit(ctx, ri, strings.Repeat("a", MaxResubmitterLen)); err != nil {
		t.Fatalf("a name of MaxResubmitterLen: %v", err)
	}
	if _, err := a.Submit(ctx, batchOf(bus.id, ResubmitBatchID(1), recs[:1])); !citycard.IsKind(err, citycard.Invalid) {
		t.Fatalf("a terminal using a resubmission batch ID: %v, want Invalid", err)
	}
	if _, err := a.Rejection(ctx, 1000); !citycard.IsKind(err, citycard.NotFound) {
		t.Fatalf("no such rejection: %v, want NotFound", err)
	}
}
