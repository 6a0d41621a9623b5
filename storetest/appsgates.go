package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
)

// meetingStore holds each PutGrant until n of them have come, so that n
// grants are in flight at once: each has done what it does before it
// writes (an Office that read the card's grants outside the store's
// transaction has read them all before any is written).
type meetingStore struct {
	apps.Store
	n       int
	mu      sync.Mutex
	arrived int
	all     chan struct{}
}

func (m *meetingStore) PutGrant(ctx context.Context, g *apps.Grant, check func([]apps.Grant) error) (uint32, error) {
	m.mu.Lock()
	m.arrived++
	if m.arrived == m.n {
		close(m.all)
	}
	m.mu.Unlock()
	select {
	case <-m.all:
	case <-time.After(10 * time.Second): // a bound, not a wait for time: the test fails below if the grants did not meet
	}
	return m.Store.PutGrant(ctx, g, check)
}

// schools are card.EntitlementsMax+1 applications of one kind at scopes
// 1, 2, ...: more than a card's file holds.
func schools(t *testing.T, o *apps.Office) []apps.App {
	t.Helper()
	var out []apps.App
	for i := 1; i <= card.EntitlementsMax+1; i++ {
		a, _, err := o.Add(context.Background(), apps.App{ID: fmt.Sprintf("school-%d", i), Name: fmt.Sprintf("School %d", i), Kind: card.AppCampus, Scope: uint32(i), Party: "nb-edu"})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

// testGrantRace: two applications' grants racing for the last slot of a
// card's file (card.EntitlementsMax-1 taken): one takes it, the other is
// refused Conflict, and the file holds card.EntitlementsMax slots, never
// more. The slot check runs in the store's transaction; read before it,
// both grants would see a slot free.
func testGrantRace(t *testing.T, s apps.Store) {
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	o := appsOffice(s, &at)
	list := schools(t, o)
	c, _ := apps.ParseCard("3301000000000000/33010000000000000001")
	terms := apps.Terms{ValidFrom: date(t, "20250301"), ValidTo: date(t, "20260228")}
	for _, a := range list[:card.EntitlementsMax-1] {
		if _, _, err := o.Grant(ctx, a.ID, c, terms); err != nil {
			t.Fatal(err)
		}
	}
	m := &meetingStore{Store: s, n: 2, all: make(chan struct{})}
	racing := apps.NewOffice(m, func() time.Time { return at }, strings.NewReader(""))
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, a := range list[card.EntitlementsMax-1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = racing.Grant(ctx, a.ID, c, terms)
		}()
	}
	wg.Wait()
	ok, refused := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case citycard.IsKind(err, citycard.Conflict):
			refused++
		}
	}
	f, err := o.File(ctx, c, 1)
	if err != nil || ok != 1 || refused != 1 || len(f.Slots) != card.EntitlementsMax {
		t.Fatalf("two grants for the last slot: %v; the file holds %d slots (%v); want one granted, one conflict, %d slots", errs, len(f.Slots), err, card.EntitlementsMax)
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
}

// testGateVersions: each application's gates are told the file version
// at which its own grant on a card last changed, numbered in commit
// order: another application's grant on the card moves the card's file
// version, not the first application's gates' version; a revocation and
// a loss move it; pages by number; the gate's terminal's operator sees
// its own application only; a page out of bounds is refused.
func testGateVersions(t *testing.T, s apps.Store) {
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	o := appsOffice(s, &at)
	addApps(t, o, library, campus)
	c1, _ := apps.ParseCard("3301000000000000/33010000000000000001")
	c2, _ := apps.ParseCard("3301000000000000/33010000000000000002")
	year := apps.Terms{ValidFrom: date(t, "20250301"), ValidTo: date(t, "20260228"), Limit: 5}
	pupil := apps.Terms{ValidFrom: date(t, "20240901"), ValidTo: date(t, "20250731"), Class: 3}
	lib := func(after int64, limit int) []apps.GateVersion {
		t.Helper()
		vs, err := o.GateVersions(ctx, library.Party, card.AppLibrary, library.Scope, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		return vs
	}
	if vs := lib(0, 10); len(vs) != 0 {
		t.Fatalf("versions before any grant: %+v", vs)
	}
	if _, _, err := o.Grant(ctx, library.ID, c1, year); err != nil {
		t.Fatal(err)
	}
	if _, _, err := o.Grant(ctx, library.ID, c2, year); err != nil {
		t.Fatal(err)
	}
	if _, v, err := o.Grant(ctx, campus.ID, c1, pupil); err != nil || v != 2 {
		t.Fatalf("the school's grant: version %d, %v", v, err)
	}
	vs := lib(0, 10)
	if len(vs) != 2 || vs[0].Card != c1 || vs[0].Version != 1 || vs[1].Card != c2 || vs[1].Version != 1 || vs[0].Seq >= vs[1].Seq {
		t.Fatalf("the library's versions: %+v; want card 1 at 1, card 2 at 1 (the school's grant is not the library's)", vs)
	}
	school, err := o.GateVersions(ctx, campus.Party, card.AppCampus, campus.Scope, 0, 10)
	if err != nil || len(school) != 1 || school[0].Card != c1 || school[0].Version != 2 || school[0].Seq <= vs[1].Seq {
		t.Fatalf("the school's versions: %+v, %v; want card 1 at 2, numbered after the library's", school, err)
	}
	held := vs[1].Seq
	if _, v, err := o.Revoke(ctx, library.ID, c1); err != nil || v != 3 {
		t.Fatalf("Revoke: version %d, %v", v, err)
	}
	if vs := lib(held, 10); len(vs) != 1 || vs[0].Card != c1 || vs[0].Version != 3 {
		t.Fatalf("the library's versions after %d: %+v; want card 1 at 3", held, vs)
	}
	if vs := lib(0, 1); len(vs) != 1 || vs[0].Card != c2 {
		t.Fatalf("a page of 1: %+v; want card 2 (card 1 renumbered after it)", vs)
	}
	// A loss: both applications' gates require the file after it.
	log := lifecycleLog{{Seq: 1, At: at, Subject: "card:" + c2.String(), Action: "report loss", After: `{"state":"lost"}`}}
	if _, _, err := o.Follow(ctx, log); err != nil {
		t.Fatal(err)
	}
	if vs := lib(held, 10); len(vs) != 2 || vs[1].Card != c2 || vs[1].Version != 2 {
		t.Fatalf("after the loss: %+v; want card 2 at 2 last", vs)
	}
	for _, c := range []struct {
		name  string
		party string
		kind  card.Application
		scope uint32
		after int64
		limit int
		want  citycard.Kind
	}{
		{"another operator's terminal", campus.Party, card.AppLibrary, library.Scope, 0, 10, citycard.NotFound},
		{"no application of that scope", library.Party, card.AppLibrary, 99, 0, 10, citycard.NotFound},
		{"a page of 0", library.Party, card.AppLibrary, library.Scope, 0, 0, citycard.Invalid},
		{"a page over the bound", library.Party, card.AppLibrary, library.Scope, 0, apps.GateVersionsPageMax + 1, citycard.Invalid},
		{"a negative number", library.Party, card.AppLibrary, library.Scope, -1, 10, citycard.Invalid},
	} {
		if _, err := o.GateVersions(ctx, c.party, c.kind, c.scope, c.after, c.limit); citycard.KindOf(err) != c.want {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if vs := lib(0, apps.GateVersionsPageMax); len(vs) != 2 {
		t.Errorf("a page at the bound: %d versions, want 2", len(vs))
	}
}

// testQuarantine: an audit record Follow cannot read (a subject that is
// no card, a replacement whose snapshot does not parse) is kept with its
// reason and passed over, and the records after it are applied: the
// lifecycle of every other card goes on. Following again quarantines
// nothing twice.
func testQuarantine(t *testing.T, s apps.Store) {
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	o := appsOffice(s, &at)
	if _, _, err := o.Add(ctx, library); err != nil {
		t.Fatal(err)
	}
	c, _ := apps.ParseCard("3301000000000000/33010000000000000001")
	if _, _, err := o.Grant(ctx, library.ID, c, apps.Terms{ValidFrom: date(t, "20250301"), ValidTo: date(t, "20260228"), Limit: 5}); err != nil {
		t.Fatal(err)
	}
	log := lifecycleLog{
		{Seq: 1, At: at, Subject: "card:not-a-card", Action: "report loss", After: `{}`},
		{Seq: 2, At: at, Subject: "card:" + c.String(), Action: "replace", After: `{"replaced_by":`},
		{Seq: 3, At: at, Subject: "card:" + c.String(), Action: "report loss", After: `{"state":"lost"}`},
	}
	cur, q, err := o.Follow(ctx, log)
	if err != nil || cur != 3 || q != 2 {
		t.Fatalf("Follow = %d, %d quarantined, %v; want 3, 2", cur, q, err)
	}
	if g, err := o.Entitlement(ctx, library.ID, c); err != nil || g.State != apps.Blocked {
		t.Fatalf("the loss after the bad records: %+v, %v; want blocked", g, err)
	}
	kept, err := o.Quarantine(ctx, 0, 10)
	if err != nil || len(kept) != 2 || kept[0].Seq != 1 || kept[0].Subject != "card:not-a-card" || kept[0].Action != "report loss" ||
		!strings.Contains(kept[0].Reason, "audit record 1") || kept[1].Seq != 2 || !strings.Contains(kept[1].Reason, "snapshot") || !kept[0].At.Equal(at) {
		t.Fatalf("Quarantine = %+v, %v", kept, err)
	}
	if cur, q, err := o.Follow(ctx, log); err != nil || cur != 3 || q != 0 {
		t.Fatalf("Follow again = %d, %d, %v; want 3, none quarantined", cur, q, err)
	}
	if kept, err := o.Quarantine(ctx, 1, 10); err != nil || len(kept) != 1 || kept[0].Seq != 2 {
		t.Fatalf("Quarantine after 1 = %+v, %v", kept, err)
	}
	if err := s.Quarantine(ctx, apps.Quarantined{Seq: 3, Subject: "x", Action: "y", Reason: "z", At: at}); citycard.KindOf(err) != citycard.Conflict {
		t.Errorf("quarantining a record passed already: %v, want conflict", err)
	}
	for _, n := range []int{0, apps.QuarantinePageMax + 1} {
		if _, err := o.Quarantine(ctx, 0, n); citycard.KindOf(err) != citycard.Invalid {
			t.Errorf("a page of %d: %v, want invalid", n, err)
		}
	}
}

// testRecordsCursors: one reader of the journal files every
// application's records, each application's position kept in the
// store: a new Office (a restart) files nothing twice; an application
// added later gets its gates' records journaled before it existed,
// once; the position reached is the lowest of the applications'.
func testRecordsCursors(t *testing.T, s apps.Store) {
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	o := appsOffice(s, &at)
	if _, _, err := o.Add(ctx, library); err != nil {
		t.Fatal(err)
	}
	venue := apps.App{ID: "nb-gym", Name: "Ningbo Gymnasium", Kind: card.AppVenue, Scope: 3, Party: "nb-sports"}
	j := journal{
		appEntry(t, 1, card.AppLibrary, 1, 1, apps.Loan, "20250301", true),
		appEntry(t, 2, card.AppVenue, 3, 2, apps.Admit, "20250301", true), // before the venue is added
		appEntry(t, 3, card.AppLibrary, 1, 1, apps.Return, "20250301", true),
		appEntry(t, 4, card.AppVenue, 3, 2, apps.Admit, "20250301", true),
		appEntry(t, 5, card.AppLibrary, 1, 3, apps.Loan, "20250301", true),
		appEntry(t, 6, card.AppVenue, 3, 4, apps.Admit, "20250302", true),
	}
	if cur, err := o.IndexRecords(ctx, j[:4]); err != nil || cur != 4 {
		t.Fatalf("IndexRecords = %d, %v; want 4", cur, err)
	}
	// The venue added, then a restart: another Office over the store.
	if _, _, err := o.Add(ctx, venue); err != nil {
		t.Fatal(err)
	}
	o = appsOffice(s, &at)
	if cur, err := o.IndexRecords(ctx, j[:5]); err != nil || cur != 5 {
		t.Fatalf("IndexRecords after the restart = %d, %v; want 5", cur, err)
	}
	cursors, err := s.RecordsCursors(ctx)
	if err != nil || cursors[library.ID] != 5 || cursors[venue.ID] != 5 {
		t.Fatalf("cursors %v, %v; want both at 5", cursors, err)
	}
	o = appsOffice(s, &at)
	if cur, err := o.IndexRecords(ctx, j); err != nil || cur != 6 {
		t.Fatalf("IndexRecords after a second restart = %d, %v; want 6", cur, err)
	}
	positions := func(app string) []int64 {
		t.Helper()
		recs, err := o.Records(ctx, app, 0, apps.RecordsPageMax)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, r := range recs {
			out = append(out, r.Pos)
		}
		return out
	}
	if got := fmt.Sprint(positions(library.ID)); got != "[1 3 5]" {
		t.Errorf("the library's records at %s, want [1 3 5], each once", got)
	}
	if got := fmt.Sprint(positions(venue.ID)); got != "[2 4 6]" {
		t.Errorf("the venue's records at %s, want [2 4 6]: those before it was added too", got)
	}
	if err := s.ApplyRecords(ctx, 6, []string{venue.ID}, nil, nil); citycard.KindOf(err) != citycard.Conflict {
		t.Errorf("the venue's position filed twice: %v, want conflict", err)
	}
}

// testNotifications (issue 11: campus "gate check-in and check-out with
// the parent told in the app within a minute (a notification outbox the
// app polls or receives by webhook)"): filing a school's check-ins and
// check-outs queues one event each in the same transaction, due at once
// for a school with a webhook (delivered signed, once per key), for
// polling only for one without; filing again queues nothing twice; a
// library's loans are not notified; the poll pages by outbox ID within
// its bounds, an application's own events only.
func testNotifications(t *testing.T, s apps.Store) {
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	o := appsOffice(s, &at)
	hooked := apps.App{ID: "nb-school-8", Name: "No. 8 School", Kind: card.AppCampus, Scope: 8, Party: "nb-edu", WebhookURL: "https://school8.example/citycard"}
	school8, _, err := o.Add(ctx, hooked)
	if err != nil {
		t.Fatal(err)
	}
	addApps(t, o, library, campus)
	j := journal{
		appEntry(t, 1, card.AppCampus, 8, 1, apps.CheckIn, "20250301", true),
		appEntry(t, 2, card.AppCampus, 7, 2, apps.CheckIn, "20250301", true), // school 7: no webhook
		appEntry(t, 3, card.AppLibrary, 1, 3, apps.Loan, "20250301", true),
		appEntry(t, 4, card.AppCampus, 8, 1, apps.CheckOut, "20250301", true),
	}
	for range 2 {
		if _, err := o.IndexRecords(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	rcv := &receiver{secret: school8.WebhookSecret, handled: map[string]string{}, now: func() time.Time { return at }}
	if d, f, err := o.Deliver(ctx, rcv, 100); err != nil || d != 2 || f != 0 {
		t.Fatalf("Deliver = %d, %d, %v; want school 8's two events", d, f, err)
	}
	in, out := rcv.handled["record-1"], rcv.handled["record-4"]
	if !strings.Contains(in, `"type":"campus.check_in"`) || !strings.Contains(in, `"action":"check-in"`) || !strings.Contains(in, `"asn":"0000000000000001"`) ||
		!strings.Contains(out, `"type":"campus.check_out"`) || len(rcv.handled) != 2 {
		t.Fatalf("school 8 was told %v", rcv.handled)
	}
	polled, err := o.Events(ctx, campus.ID, 0, 10)
	if err != nil || len(polled) != 1 || polled[0].Key != "record-2" || polled[0].Type != apps.EventCheckIn || !polled[0].DeliveredAt.IsZero() || !polled[0].NextAt.Equal(apps.PollOnly) {
		t.Fatalf("school 7's events: %+v, %v; want record-2, for polling", polled, err)
	}
	if evs, err := o.Events(ctx, library.ID, 0, 10); err != nil || len(evs) != 0 {
		t.Fatalf("the library's events: %+v, %v; want none (loans are not notified)", evs, err)
	}
	mine, err := o.Events(ctx, school8.ID, 0, 1)
	if err != nil || len(mine) != 1 || mine[0].Key != "record-1" || mine[0].DeliveredAt.IsZero() {
		t.Fatalf("school 8's first event: %+v, %v", mine, err)
	}
	if next, err := o.Events(ctx, school8.ID, mine[0].ID, apps.EventsPageMax); err != nil || len(next) != 1 || next[0].Key != "record-4" {
		t.Fatalf("school 8's events after %d: %+v, %v", mine[0].ID, next, err)
	}
	for _, c := range []struct {
		after int64
		limit int
	}{{0, 0}, {0, apps.EventsPageMax + 1}, {-1, 10}} {
		if _, err := o.Events(ctx, school8.ID, c.after, c.limit); citycard.KindOf(err) != citycard.Invalid {
			t.Errorf("Events(after %d, limit %d): %v, want invalid", c.after, c.limit, err)
		}
	}
}
