package storetest

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/record"
)

// RunApps runs the suite of apps.Store, each test in parallel on the
// store open returns (its own cleanup registered).
func RunApps(t *testing.T, open func(t *testing.T) apps.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s apps.Store)
	}{
		{"Apps", testApps},
		{"Grants", testGrants},
		{"Lifecycle", testLifecycle},
		{"Records", testRecords},
		{"GrantRace", testGrantRace},
		{"GateVersions", testGateVersions},
		{"Quarantine", testQuarantine},
		{"RecordsCursors", testRecordsCursors},
		{"Notifications", testNotifications},
		{"Attendance", testAttendance},
		{"CanteenLimit", testCanteenLimit},
		{"Periods", testPeriods},
		{"Classes", testClasses},
		{"Calendar", testCalendar},
		{"ReplacedLoans", testReplacedLoans},
		{"ReplacedBike", testReplacedBike},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

func appsOffice(s apps.Store, at *time.Time) *apps.Office {
	// A counter as randomness: each credential differs, tests repeat.
	var n byte
	return apps.NewOffice(s, func() time.Time { return *at }, readerFunc(func(p []byte) (int, error) {
		n++
		for i := range p {
			p[i] = n
		}
		return len(p), nil
	}))
}

// addApps adds each of list through o.
func addApps(t *testing.T, o *apps.Office, list ...apps.App) {
	t.Helper()
	for _, a := range list {
		if _, _, err := o.Add(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

var (
	library = apps.App{ID: "nb-library", Name: "Ningbo Library", Kind: card.AppLibrary, Scope: 1, Party: "nb-library", WebhookURL: "https://library.example/citycard"}
	campus  = apps.App{ID: "nb-school-7", Name: "No. 7 Middle School", Kind: card.AppCampus, Scope: 7, Party: "nb-edu"}
)

// testApps: an application stored with the SHA-256 of its token (never
// the token), found by it, one an ID and one a kind and scope, listed by
// ID.
func testApps(t *testing.T, s apps.Store) {
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	o := appsOffice(s, &at)
	lib, token, err := o.Add(ctx, library)
	if err != nil {
		t.Fatal(err)
	}
	if len(token) != 2*apps.CredentialBytes || lib.Credential != apps.HashToken(token) {
		t.Fatalf("token %q, credential %X: want 64 hex digits, credential its SHA-256", token, lib.Credential)
	}
	got, err := o.Authenticate(ctx, token)
	if err != nil || got.ID != lib.ID || !got.CreatedAt.Equal(at) || got.Kind != card.AppLibrary || got.Scope != 1 || got.Party != "nb-library" {
		t.Fatalf("Authenticate = %+v, %v; want %+v", got, err, lib)
	}
	for _, tok := range []string{"", token[1:], token + "0"} {
		if _, err := o.Authenticate(ctx, tok); citycard.KindOf(err) != citycard.Unauthenticated {
			t.Errorf("Authenticate(%q): %v, want unauthenticated", tok, err)
		}
	}
	if _, _, err := o.Add(ctx, library); citycard.KindOf(err) != citycard.Exists {
		t.Errorf("the same ID again: %v, want exists", err)
	}
	other := library
	other.ID = "nb-library-2"
	if _, _, err := o.Add(ctx, other); citycard.KindOf(err) != citycard.Exists {
		t.Errorf("the same kind and scope again: %v, want exists", err)
	}
	if _, _, err := o.Add(ctx, campus); err != nil {
		t.Fatal(err)
	}
	list, err := o.Apps(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "nb-library" || list[1].ID != "nb-school-7" {
		t.Fatalf("Apps = %+v, %v; want nb-library, nb-school-7", list, err)
	}
	if _, err := s.App(ctx, "nb-none"); citycard.KindOf(err) != citycard.NotFound {
		t.Errorf("App(nb-none): %v, want not found", err)
	}
}

func date(t *testing.T, s string) citycard.BCDDate {
	t.Helper()
	d, err := apps.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// testGrants: a grant and a revocation each move the card's file version
// by one; the file holds the active grants only; an application sees its
// own grants, not another's (not found); terms the slot refuses change
// nothing.
func testGrants(t *testing.T, s apps.Store) {
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	o := appsOffice(s, &at)
	addApps(t, o, library, campus)
	c, err := apps.ParseCard("3301000000000000/33010000000000000001")
	if err != nil {
		t.Fatal(err)
	}
	year := apps.Terms{ValidFrom: date(t, "20250301"), ValidTo: date(t, "20260228"), Limit: 10}
	g, v, err := o.Grant(ctx, library.ID, c, year)
	if err != nil || v != 1 || g.State != apps.Active || g.Slot.Limit != 10 || g.Slot.App != card.AppLibrary {
		t.Fatalf("Grant = %+v, %d, %v; want active, version 1", g, v, err)
	}
	if _, err := o.Entitlement(ctx, campus.ID, c); citycard.KindOf(err) != citycard.NotFound {
		t.Errorf("the school's view of a library card: %v, want not found", err)
	}
	if _, _, err := o.Revoke(ctx, campus.ID, c); citycard.KindOf(err) != citycard.NotFound {
		t.Errorf("the school revokes the library's grant: %v, want not found", err)
	}
	// card.Entitlement.Validate: a class on a library entitlement is refused.
	bad := year
	bad.Class = 3
	if _, _, err := o.Grant(ctx, library.ID, c, bad); citycard.KindOf(err) != citycard.Invalid {
		t.Errorf("a class on a library grant: %v, want invalid", err)
	}
	if _, _, err := o.Grant(ctx, "nb-none", c, year); citycard.KindOf(err) != citycard.NotFound {
		t.Errorf("a grant of no application: %v, want not found", err)
	}
	pupil := apps.Terms{ValidFrom: date(t, "20240901"), ValidTo: date(t, "20250731"), Class: 3}
	at = at.Add(time.Hour)
	if _, v, err := o.Grant(ctx, campus.ID, c, pupil); err != nil || v != 2 {
		t.Fatalf("the school's grant: version %d, %v; want 2", v, err)
	}
	f, err := o.File(ctx, c, 1)
	if err != nil || f.Version != 2 || len(f.Slots) != 2 || f.Slots[0].App != card.AppLibrary || f.Slots[1].App != card.AppCampus || f.Slots[1].Class != 3 {
		t.Fatalf("File = %+v, %v; want version 2, library then campus", f, err)
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	r, _, err := o.Revoke(ctx, library.ID, c)
	if err != nil || r.State != apps.Revoked {
		t.Fatalf("Revoke = %+v, %v", r, err)
	}
	if _, _, err := o.Revoke(ctx, library.ID, c); citycard.KindOf(err) != citycard.Conflict {
		t.Errorf("a second revocation: %v, want conflict", err)
	}
	f, err = o.File(ctx, c, 1)
	if err != nil || f.Version != 3 || len(f.Slots) != 1 || f.Slots[0].App != card.AppCampus {
		t.Fatalf("File after the revocation = %+v, %v; want version 3, campus alone", f, err)
	}
	g, err = o.Entitlement(ctx, library.ID, c)
	if err != nil || g.State != apps.Revoked || !g.ChangedAt.Equal(at) || !bytes.Equal(g.Slot.ValidTo[:], year.ValidTo[:]) {
		t.Fatalf("Entitlement after the revocation = %+v, %v", g, err)
	}
	// Another card has no file yet: version 0, no slots.
	c2 := c
	c2.ASN[9] = 2
	if f, err := o.File(ctx, c2, 1); err != nil || f.Version != 0 || len(f.Slots) != 0 {
		t.Fatalf("File of a card without grants = %+v, %v", f, err)
	}
}

// lifecycleLog is card management's audit log as Follow reads it.
type lifecycleLog []apps.AuditEntry

func (l lifecycleLog) AuditLog(ctx context.Context, after int64, fn func(a apps.AuditEntry) error) error {
	for _, a := range l {
		if a.Seq > after {
			if err := fn(a); err != nil {
				return err
			}
		}
	}
	return nil
}

// receiver is an idempotent webhook handler that fails its first fails
// calls: it handles each idempotency key once.
type receiver struct {
	secret  string
	fails   int
	calls   int
	handled map[string]string // key: body
	now     func() time.Time
}

func (r *receiver) Send(ctx context.Context, url string, h map[string]string, body []byte) error {
	r.calls++
	if !apps.VerifySignature(r.secret, h[apps.HeaderSignature], body, r.now(), 5*time.Minute) {
		return citycard.E("receiver", citycard.Crypto, "signature %q does not verify", h[apps.HeaderSignature])
	}
	if r.calls <= r.fails {
		return citycard.E("receiver", citycard.Unavailable, "503")
	}
	if _, ok := r.handled[h[apps.HeaderIdempotencyKey]]; !ok {
		r.handled[h[apps.HeaderIdempotencyKey]] = string(body)
	}
	return nil
}

// testLifecycle (issue 11: "A card's loss or replacement carries to
// every application"): a loss blocks the card's grants (its file empty,
// a grant refused), a replacement moves them to the new card, active;
// each queues a signed webhook in the outbox with the grants and the
// cursor, so that following the log again changes nothing; a receiver
// that fails at first gets each event after the back-off (1 s, then
// 2 s), once per idempotency key; the school, without a webhook, is told
// nothing and its grant moves all the same.
func testLifecycle(t *testing.T, s apps.Store) {
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	o := appsOffice(s, &at)
	lib, _, err := o.Add(ctx, library)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := o.Add(ctx, campus); err != nil {
		t.Fatal(err)
	}
	old, _ := apps.ParseCard("3301000000000000/33010000000000000001")
	nu, _ := apps.ParseCard("3301000000000000/33010000000000000009")
	if _, _, err := o.Grant(ctx, library.ID, old, apps.Terms{ValidFrom: date(t, "20250301"), ValidTo: date(t, "20260228"), Limit: 10}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := o.Grant(ctx, campus.ID, old, apps.Terms{ValidFrom: date(t, "20240901"), ValidTo: date(t, "20250731"), Class: 3}); err != nil {
		t.Fatal(err)
	}
	log := lifecycleLog{
		{Seq: 1, At: at, Subject: "card:" + old.String(), Action: "activate", After: `{"state":"active"}`},
		{Seq: 2, At: at.Add(time.Minute), Subject: "card:" + old.String(), Action: "report loss", After: `{"state":"lost"}`},
	}
	if cur, _, err := o.Follow(ctx, log); err != nil || cur != 2 {
		t.Fatalf("Follow = %d, %v; want 2", cur, err)
	}
	f, err := o.File(ctx, old, 1)
	if err != nil || len(f.Slots) != 0 || f.Version != 3 {
		t.Fatalf("the lost card's file: %+v, %v; want no slot, version 3 (two grants, one loss)", f, err)
	}
	if r, _, err := o.Check(ctx, library.ID, old, apps.Loan, date(t, "20250302")); err != nil || r != apps.Blacklisted {
		t.Errorf("a loan on the lost card: %v, %v; want blacklisted", r, err)
	}
	if _, _, err := o.Grant(ctx, library.ID, old, apps.Terms{ValidFrom: date(t, "20250301"), ValidTo: date(t, "20260228")}); citycard.KindOf(err) != citycard.Conflict {
		t.Errorf("a grant on the lost card: %v, want conflict", err)
	}
	log = append(log, apps.AuditEntry{Seq: 3, At: at.Add(time.Hour), Subject: "card:" + old.String(), Action: "replace", After: `{"state":"replaced","replaced_by":"` + nu.ASN.String() + `"}`})
	if cur, _, err := o.Follow(ctx, log); err != nil || cur != 3 {
		t.Fatalf("Follow = %d, %v; want 3", cur, err)
	}
	if cur, _, err := o.Follow(ctx, log); err != nil || cur != 3 {
		t.Fatalf("Follow again = %d, %v; want 3, nothing new", cur, err)
	}
	f, err = o.File(ctx, nu, 1)
	if err != nil || len(f.Slots) != 2 || f.Version != 1 || f.Slots[0].Limit != 10 || f.Slots[1].Class != 3 {
		t.Fatalf("the new card's file: %+v, %v; want both grants, version 1", f, err)
	}
	if g, err := o.Entitlement(ctx, library.ID, old); err != nil || g.State != apps.Revoked {
		t.Errorf("the old card's grant: %+v, %v; want revoked", g, err)
	}
	// The outbox: the library's two events (the school has no webhook).
	// Round 0 fails both (the next attempts in 1 s); at +1 s the first
	// fails again (next in 2 s), the second is delivered; at +2 s the
	// first is not due; at +3 s it is delivered.
	rcv := &receiver{secret: lib.WebhookSecret, fails: 3, handled: map[string]string{}, now: func() time.Time { return at }}
	for i, want := range []struct {
		after     time.Duration
		delivered int
	}{{0, 0}, {time.Second, 1}, {time.Second, 0}, {time.Second, 1}, {time.Hour, 0}} {
		at = at.Add(want.after)
		d, failed, err := o.Deliver(ctx, rcv, 100)
		if err != nil || d != want.delivered || failed != 0 {
			t.Fatalf("round %d (+%v): delivered %d, failed %d, %v; want %d", i, want.after, d, failed, err, want.delivered)
		}
	}
	if len(rcv.handled) != 2 {
		t.Fatalf("handled %d events, want 2: %v", len(rcv.handled), rcv.handled)
	}
	lost := rcv.handled["cms-audit-2-nb-library"]
	replaced := rcv.handled["cms-audit-3-nb-library"]
	if !strings.Contains(lost, `"type":"card.lost"`) || !strings.Contains(lost, `"state":"blocked"`) ||
		!strings.Contains(replaced, `"type":"card.replaced"`) || !strings.Contains(replaced, `"new_asn":"`+nu.ASN.String()+`"`) {
		t.Errorf("bodies: %s, %s", lost, replaced)
	}
	if err := s.ApplyLifecycle(ctx, 3, nil, nil); citycard.KindOf(err) != citycard.Conflict {
		t.Errorf("an audit record applied twice: %v, want conflict", err)
	}
	// A receiver that never answers: the event fails at its
	// DeliveryAttemptsMax-th attempt, kept, and is tried no more.
	log = append(log, apps.AuditEntry{Seq: 4, At: at, Subject: "card:" + nu.String(), Action: "report loss", After: `{"state":"lost"}`})
	if _, _, err := o.Follow(ctx, log); err != nil {
		t.Fatal(err)
	}
	down := &receiver{secret: lib.WebhookSecret, fails: 1 << 30, handled: map[string]string{}, now: func() time.Time { return at }}
	for i := 1; i <= apps.DeliveryAttemptsMax; i++ {
		_, failed, err := o.Deliver(ctx, down, 100)
		if err != nil || failed != map[bool]int{true: 1}[i == apps.DeliveryAttemptsMax] || down.calls != i {
			t.Fatalf("attempt %d: failed %d, calls %d, %v", i, failed, down.calls, err)
		}
		at = at.Add(apps.DeliveryBackoffMax)
	}
	if due, err := s.DueEvents(ctx, at.Add(24*time.Hour), 100); err != nil || len(due) != 0 {
		t.Errorf("due after the last attempt: %v, %v; want none", due, err)
	}
}

// journal is an acquisition journal as IndexRecords reads it.
type journal []apps.JournalEntry

func (j journal) Replay(ctx context.Context, from int64, fn func(e apps.JournalEntry) error) error {
	for i := range j {
		if j[i].Pos > from {
			if err := fn(j[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// appEntry is a journaled application record of kind at scope: action by
// card asn on day.
func appEntry(t *testing.T, pos int64, kind card.Application, scope uint32, asn byte, action apps.Action, day string, accepted bool) apps.JournalEntry {
	t.Helper()
	r := record.Record{Type: citycard.TxApplication, Issuer: citycard.IssuerCode{0x33, 0x01}, ASN: citycard.ASN{9: asn}, Counter: uint16(pos),
		TerminalID: citycard.TerminalID{5: 1}, PSAMID: citycard.PSAMID{9: 1}, KeyVersion: 1, Status: record.StatusComplete, TerminalSeq: uint32(pos), Date: date(t, day), Time: citycard.BCDTime{0x08}, Network: uint16(kind), Line: scope,
		Station: 3, EntryStation: 1, Product: uint16(action)}
	return apps.JournalEntry{Pos: pos, Application: accepted, Raw: r.AppendBinary(nil)}
}

// testRecords: the journal's accepted application records filed under
// their application by kind and scope (another school's, a duplicate, a
// purchase passed over), in pages by position, the cursor moved with them
// so that indexing again files nothing twice; the daily report counts an
// application's taps and distinct cards by action, its own only.
func testRecords(t *testing.T, s apps.Store) {
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	o := appsOffice(s, &at)
	addApps(t, o, library, campus)
	j := journal{
		appEntry(t, 1, card.AppLibrary, 1, 1, apps.Loan, "20250301", true),
		appEntry(t, 2, card.AppLibrary, 1, 1, apps.Loan, "20250301", true),
		appEntry(t, 3, card.AppLibrary, 1, 2, apps.Loan, "20250301", true),
		appEntry(t, 4, card.AppLibrary, 1, 2, apps.Return, "20250301", true),
		appEntry(t, 5, card.AppLibrary, 1, 2, apps.Loan, "20250301", false),  // a copy: not filed
		appEntry(t, 6, card.AppCampus, 8, 3, apps.CheckIn, "20250301", true), // school 8: no application here
		appEntry(t, 7, card.AppCampus, 7, 3, apps.CheckIn, "20250301", true),
		appEntry(t, 8, card.AppLibrary, 1, 1, apps.Return, "20250302", true),
	}
	if cur, err := o.IndexRecords(ctx, j[:5]); err != nil || cur != 5 {
		t.Fatalf("IndexRecords = %d, %v; want 5", cur, err)
	}
	if cur, err := o.IndexRecords(ctx, j); err != nil || cur != 8 {
		t.Fatalf("IndexRecords again = %d, %v; want 8", cur, err)
	}
	if cur, err := o.IndexRecords(ctx, j); err != nil || cur != 8 {
		t.Fatalf("IndexRecords a third time = %d, %v; want 8, nothing new", cur, err)
	}
	page, err := o.Records(ctx, library.ID, 0, 3)
	if err != nil || len(page) != 3 || page[0].Pos != 1 || page[2].Pos != 3 || page[0].Action != apps.Loan || page[0].Counter != 1 || page[0].Uses != 1 || page[0].Place != 3 {
		t.Fatalf("the library's first page: %+v, %v", page, err)
	}
	page, err = o.Records(ctx, library.ID, 3, apps.RecordsPageMax)
	if err != nil || len(page) != 2 || page[0].Pos != 4 || page[1].Pos != 8 {
		t.Fatalf("the library's second page: %+v, %v; want positions 4 and 8", page, err)
	}
	if school, err := o.Records(ctx, campus.ID, 0, 10); err != nil || len(school) != 1 || school[0].Pos != 7 || school[0].Action != apps.CheckIn {
		t.Fatalf("the school's records: %+v, %v; want position 7 alone", school, err)
	}
	for _, n := range []int{0, apps.RecordsPageMax + 1} {
		if _, err := o.Records(ctx, library.ID, 0, n); citycard.KindOf(err) != citycard.Invalid {
			t.Errorf("a page of %d: %v, want invalid", n, err)
		}
	}
	rep, err := o.Report(ctx, library.ID, date(t, "20250301"))
	want := []apps.ActionCount{{Action: apps.Loan, Taps: 3, Cards: 2}, {Action: apps.Return, Taps: 1, Cards: 1}}
	if err != nil || len(rep) != 2 || rep[0] != want[0] || rep[1] != want[1] {
		t.Fatalf("the library's report of 1 March: %+v, %v; want %+v", rep, err, want)
	}
	if err := s.ApplyRecords(ctx, 8, []string{library.ID}, nil, nil); citycard.KindOf(err) != citycard.Conflict {
		t.Errorf("a position filed twice: %v, want conflict", err)
	}
}
