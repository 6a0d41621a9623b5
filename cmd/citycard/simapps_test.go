package main

import (
	"context"
	crand "crypto/rand"
	"os"
	"slices"
	"strings"
	"testing"

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
