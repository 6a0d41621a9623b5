package main

import (
	"context"
	crand "crypto/rand"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/sim/city"
)

// The application checks bite: a back office that loses one check-in
// when it files the school's records (its event for the parents kept)
// breaks app_records_kept, the class's attendance and app_parents_told, and one that never follows card management's
// audit log leaves a lost pupil's grants on the old card, breaking
// app_lifecycle_carried; the report names the card and the seed.
func TestSimCatchesBrokenApps(t *testing.T) {
	dropped := 0
	o := &simOptions{cards: 200, days: 2, alg: "3des", quiet: true, parsedFaults: []city.Fault{city.FaultLost},
		wrap: func(bo city.BackOffice) city.BackOffice { return brokenApps{bo.(*simBackOffice), &dropped} }}
	rep, err := simOnce(context.Background(), env{stderr: os.Stderr}, o, 1)
	if err != nil {
		t.Fatal(err)
	}
	if dropped != 1 {
		t.Fatalf("dropped %d check-ins, want 1", dropped)
	}
	for _, inv := range []string{city.InvAppRecordsKept, city.InvAppAttendance, city.InvAppLifecycle, city.InvAppParentsTold} {
		if ok, found := rep.Invariants[inv]; ok || !found {
			t.Errorf("%s: %v (reported %v)", inv, ok, found)
		}
	}
	if !rep.Invariants[city.InvAppNoFalseDuplicates] {
		t.Errorf("%s broke too", city.InvAppNoFalseDuplicates)
	}
	v := strings.Join(rep.Violations, "\n")
	for _, want := range []string{"app_records_kept: nb-school-101: ", "app_attendance: class ", "app_lifecycle_carried: card 3150", "(seed 1)"} {
		if !strings.Contains(v, want) {
			t.Errorf("violations lack %q:\n%s", want, v)
		}
	}
}

// brokenApps is the back office with its application office over a
// store that drops the first check-in it is given to file, and a
// lifecycle log that is always empty.
type brokenApps struct {
	*simBackOffice
	dropped *int
}

func (b brokenApps) Apps() (*apps.Office, apps.Lifecycle) {
	st := droppingApps{b.st.apps, b.dropped}
	return apps.NewOffice(st, b.now, crand.Reader).WithCards(api.CMSCards{Store: b.st.cms}), emptyAudit{}
}

type droppingApps struct {
	apps.Store
	dropped *int
}

func (s droppingApps) ApplyRecords(ctx context.Context, pos int64, ids []string, recs []apps.AppRecord, events []apps.Event) error {
	if i := slices.IndexFunc(recs, func(r apps.AppRecord) bool { return r.Action == apps.CheckIn }); i >= 0 && *s.dropped == 0 {
		*s.dropped++
		recs = slices.Delete(slices.Clone(recs), i, i+1)
	}
	return s.Store.ApplyRecords(ctx, pos, ids, recs, events)
}

type emptyAudit struct{}

func (emptyAudit) AuditLog(context.Context, int64, func(apps.AuditEntry) error) error { return nil }

// The applications' fault checks bite: a back office that files an
// application record under another card than its gate stamped (as one
// that filed an altered record would) breaks app_forged_refused, and one
// that forgets it delivered an event, so that the receiver gets it a
// second time with no answer lost, breaks app_webhooks_delivered; each
// names the record or the event and the seed.
func TestSimCatchesForgedAppRecordsAndDuplicateWebhooks(t *testing.T) {
	var altered, forgot int
	o := &simOptions{cards: 200, days: 2, alg: "3des", quiet: true,
		wrap: func(bo city.BackOffice) city.BackOffice {
			return forgingApps{bo.(*simBackOffice), &altered, &forgot}
		}}
	rep, err := simOnce(context.Background(), env{stderr: os.Stderr}, o, 1)
	if err != nil {
		t.Fatal(err)
	}
	if altered != 1 || forgot != 1 {
		t.Fatalf("altered %d records, forgot %d deliveries: want 1 each", altered, forgot)
	}
	for _, inv := range []string{city.InvAppForgedRefused, city.InvAppWebhooks} {
		if ok, found := rep.Invariants[inv]; ok || !found {
			t.Errorf("%s: %v (reported %v)", inv, ok, found)
		}
	}
	v := strings.Join(rep.Violations, "\n")
	for _, want := range []string{"app_forged_refused: nb-school-101: a record filed (terminal ", "its gate stamped card ",
		"app_webhooks_delivered: nb-", "delivered 2 times, 0 answers lost", "(seed 1)"} {
		if !strings.Contains(v, want) {
			t.Errorf("violations lack %q:\n%s", want, v)
		}
	}
}

// forgingApps is the back office with its application office over a
// store that files the first check-in under another card, and forgets
// the first delivery of an event it stores.
type forgingApps struct {
	*simBackOffice
	altered, forgot *int
}

func (b forgingApps) Apps() (*apps.Office, apps.Lifecycle) {
	st := forgingStore{b.st.apps, b.altered, b.forgot}
	return apps.NewOffice(st, b.now, crand.Reader).WithCards(api.CMSCards{Store: b.st.cms}), api.CMSLifecycle{Store: b.st.cms}
}

type forgingStore struct {
	apps.Store
	altered, forgot *int
}

func (s forgingStore) ApplyRecords(ctx context.Context, pos int64, ids []string, recs []apps.AppRecord, events []apps.Event) error {
	if i := slices.IndexFunc(recs, func(r apps.AppRecord) bool { return r.Action == apps.CheckIn }); i >= 0 && *s.altered == 0 {
		*s.altered++
		recs = slices.Clone(recs)
		recs[i].Card.ASN[7] ^= 1
	}
	return s.Store.ApplyRecords(ctx, pos, ids, recs, events)
}

func (s forgingStore) UpdateEvent(ctx context.Context, e *apps.Event) error {
	if !e.DeliveredAt.IsZero() && *s.forgot == 0 {
		*s.forgot++
		f := *e
		f.DeliveredAt = time.Time{}
		return s.Store.UpdateEvent(ctx, &f)
	}
	return s.Store.UpdateEvent(ctx, e)
}
