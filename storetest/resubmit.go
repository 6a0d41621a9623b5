package storetest

import (
	"context"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
)

// testResubmit: rejections are queried by terminal and reason in bounded
// pages, and a rejection fixed by staff (its terminal registered late)
// books once when resubmitted, its second resubmission answered from the
// first, who asked kept in the journal.
func testResubmit(t *testing.T, s JournalStores) {
	ctx := context.Background()
	city, ups, ts := ingestCity(t)
	u := &ups[0]
	info := ts[u.Terminal.ID]
	delete(ts, u.Terminal.ID) // registered late
	a := openAcquirer(t, s, city, ts)
	defer a.Close()
	recs := u.Records[:5]
	ans, err := a.Submit(ctx, batch(u, "early", recs))
	if err != nil || ans.Rejected != 5 {
		t.Fatalf("unregistered terminal: %+v %v", ans, err)
	}
	// A forgery from another terminal: another reason.
	forged := append([]byte(nil), ups[1].Records[0]...)
	forged[30] ^= 1
	if ans, err := a.Submit(ctx, batch(&ups[1], "forged", [][]byte{forged})); err != nil || ans.Rejected != 1 {
		t.Fatalf("forgery: %+v %v", ans, err)
	}

	for _, bad := range []acquire.RejectionFilter{{Limit: 0}, {Limit: acquire.MaxRejectionsPage + 1}, {Limit: 1, After: -1}} {
		if _, err := s.Journal.QueryRejections(ctx, bad); !citycard.IsKind(err, citycard.Invalid) {
			t.Fatalf("filter %+v: %v, want Invalid", bad, err)
		}
	}
	unknown, err := s.Journal.QueryRejections(ctx, acquire.RejectionFilter{Reason: acquire.RejectUnknownTerminal, Limit: acquire.MaxRejectionsPage})
	if err != nil || len(unknown) != 5 {
		t.Fatalf("by reason: %d rejections (%v), want 5", len(unknown), err)
	}
	page, err := s.Journal.QueryRejections(ctx, acquire.RejectionFilter{Terminal: u.Terminal.ID, Reason: acquire.RejectUnknownTerminal, After: unknown[1].Pos, Limit: 2})
	if err != nil || len(page) != 2 || page[0].Pos != unknown[2].Pos || page[1].Pos != unknown[3].Pos {
		t.Fatalf("by terminal and reason, after %d: %+v (%v)", unknown[1].Pos, page, err)
	}
	if none, err := s.Journal.QueryRejections(ctx, acquire.RejectionFilter{Terminal: u.Terminal.ID, Reason: acquire.RejectRecordMAC, Limit: 10}); err != nil || len(none) != 0 {
		t.Fatalf("no forgery of this terminal: %+v (%v)", none, err)
	}

	ts[u.Terminal.ID] = info
	for _, r := range unknown {
		ans, err := a.Resubmit(ctx, r, "ann")
		if err != nil || ans.Accepted+ans.Flagged != 1 || ans.Repeat {
			t.Fatalf("resubmit %d: %+v %v", r.Pos, ans, err)
		}
	}
	for _, r := range unknown {
		ans, err := a.Resubmit(ctx, r, "bob")
		if err != nil || !ans.Repeat || ans.Resubmission == nil || ans.Resubmission.By != "ann" {
			t.Fatalf("resubmit %d again: %+v %v", r.Pos, ans, err)
		}
		got, ok, err := acquire.ResubmissionOf(ctx, s.Journal, &r)
		if err != nil || !ok || got.Resubmission.Rejection != r.Pos || got.Accepted+got.Flagged != 1 {
			t.Fatalf("resubmission of %d: %+v %v %v", r.Pos, got, ok, err)
		}
	}
	if st := a.Stats(); st.Accepted+st.Flagged != 5 {
		t.Fatalf("%d booked, want the 5 resubmitted", st.Accepted+st.Flagged)
	}
}
