package apps_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
)

// followStore holds one card's grants and counts the cursor writes; the
// rest of apps.Store is not called.
type followStore struct {
	apps.Store
	cursor  int64
	grants  map[apps.CardRef][]apps.Grant
	writes  []int64 // the seq of each ApplyLifecycle
	failAt  int64   // ApplyLifecycle of this seq fails (transiently)
	applied int     // grants changed
}

func (s *followStore) Cursor(context.Context) (int64, error) { return s.cursor, nil }

func (s *followStore) CardGrants(_ context.Context, c apps.CardRef) ([]apps.Grant, uint32, error) {
	return s.grants[c], 1, nil
}

func (s *followStore) App(_ context.Context, id string) (apps.App, error) {
	return apps.App{ID: id}, nil
}

func (s *followStore) ApplyLifecycle(_ context.Context, seq int64, grants []apps.Grant, _ []apps.Event) error {
	if seq == s.failAt {
		return citycard.E("followStore", citycard.Unavailable, "database is locked")
	}
	if seq <= s.cursor {
		return citycard.E("followStore", citycard.Conflict, "audit record %d: applied already", seq)
	}
	s.writes = append(s.writes, seq)
	s.cursor = seq
	s.applied += len(grants)
	return nil
}

type auditLog []apps.AuditEntry

func (l auditLog) AuditLog(_ context.Context, after int64, fn func(apps.AuditEntry) error) error {
	for _, a := range l {
		if a.Seq > after {
			if err := fn(a); err != nil {
				return err
			}
		}
	}
	return nil
}

// TestFollowStoresIdleRunsOnce: the records that concern no application
// (a sale, a load; a loss of a card without grants) store the cursor once,
// at the end or with the next record that changes a grant, not in a
// transaction each (after a bulk sale Follow made one per card sold); the
// cursor still ends at the last record, and a fault on the last write is
// returned, so the next round reads the idle run again.
func TestFollowStoresIdleRunsOnce(t *testing.T) {
	ctx := context.Background()
	held, _ := apps.ParseCard("3301000000000000/00000000000000000001")
	bare, _ := apps.ParseCard("3301000000000000/00000000000000000002")
	var log auditLog
	add := func(action string, c apps.CardRef) {
		log = append(log, apps.AuditEntry{Seq: int64(len(log) + 1), At: time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC), Subject: "card:" + c.String(), Action: action})
	}
	for range 500 {
		add("issue", bare)
	}
	add("report loss", bare) // no grants: nothing to change
	add("report loss", held) // 502: a grant blocked
	for range 300 {
		add("load", held)
	}
	newStore := func() *followStore {
		return &followStore{grants: map[apps.CardRef][]apps.Grant{held: {{App: "nb-library", Card: held, State: apps.Active}}}}
	}
	s := newStore()
	o := apps.NewOffice(s, time.Now, nil)
	cursor, q, err := o.Follow(ctx, log)
	if err != nil || q != 0 {
		t.Fatalf("Follow: %d quarantined, %v", q, err)
	}
	if want := []int64{502, 802}; fmt.Sprint(s.writes) != fmt.Sprint(want) || cursor != 802 || s.cursor != 802 || s.applied != 1 {
		t.Fatalf("writes %v (want %v), cursor %d, stored %d, grants changed %d (want 1)", s.writes, want, cursor, s.cursor, s.applied)
	}
	// Nothing new: nothing written.
	if _, _, err := o.Follow(ctx, log); err != nil || len(s.writes) != 2 {
		t.Fatalf("a second round: writes %v, %v", s.writes, err)
	}
	// The idle run's write fails: the fault is returned, the cursor stays
	// where the last change left it, and the next round stores it.
	s = newStore()
	s.failAt = 802
	o = apps.NewOffice(s, time.Now, nil)
	if _, _, err := o.Follow(ctx, log); citycard.KindOf(err) != citycard.Unavailable || s.cursor != 502 {
		t.Fatalf("a failed idle write: stored %d, %v; want 502 and Unavailable", s.cursor, err)
	}
	s.failAt = 0
	if _, _, err := o.Follow(ctx, log); err != nil || s.cursor != 802 || s.applied != 1 {
		t.Fatalf("the round after: stored %d, grants changed %d, %v", s.cursor, s.applied, err)
	}
}
