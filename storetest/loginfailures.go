package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
)

// testStaffLoginFailures: failed logins are stored. LoginFailureMax-1
// failures still let the right password in (and it forgets them); the
// LoginFailureMax-th refuses the name, right password or not, until the
// window of the first ends; a new Staffing over the same store (a
// restart, a second process) still refuses it, and lets it in at the
// window's end. The swap writes only over what it was given, and a
// failure written drops the other names' failures whose window is over.
func testStaffLoginFailures(t *testing.T, s Stores) {
	ctx := context.Background()
	t0 := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	at := t0
	now := func() time.Time { return at }
	st := staffing(t, s, now)
	addStaff(t, st, "lf-ann", cms.RoleClerk)
	fail := func(st *cms.Staffing, name string) {
		t.Helper()
		if _, err := st.Check(ctx, name, "wrong password!!"); !citycard.IsKind(err, citycard.Unauthenticated) {
			t.Fatalf("a wrong password of %s: %v", name, err)
		}
		at = at.Add(time.Second)
	}
	for range cms.LoginFailureMax - 1 {
		fail(st, "lf-ann")
	}
	if _, err := staffing(t, s, now).Check(ctx, "lf-ann", staffPassword); err != nil {
		t.Fatalf("after %d failures, the right password in another process: %v", cms.LoginFailureMax-1, err)
	}
	if f, err := s.Staff.LoginFailures(ctx, "staff:lf-ann"); err != nil || f != (cms.LoginFailures{}) {
		t.Errorf("after a good login: %+v %v, want none", f, err)
	}
	first := at
	for range cms.LoginFailureMax {
		fail(st, "lf-ann")
	}
	f, err := s.Staff.LoginFailures(ctx, "staff:lf-ann")
	if err != nil || f.Count != cms.LoginFailureMax || !f.First.Equal(first) || !f.LockedUntil.Equal(first.Add(cms.LoginWindow)) {
		t.Fatalf("after %d failures: %+v %v", cms.LoginFailureMax, f, err)
	}
	// A restart: a new Staffing over the same store.
	again := staffing(t, s, now)
	_, err = again.Check(ctx, "lf-ann", staffPassword)
	if wantKind(t, "the right password, locked, after a restart", err, citycard.Throttled); citycard.RetryAfter(err) <= 0 {
		t.Errorf("the lock's wait: %v", citycard.RetryAfter(err))
	}
	at = first.Add(cms.LoginWindow - time.Nanosecond)
	_, err = again.Check(ctx, "lf-ann", staffPassword)
	wantKind(t, "one nanosecond before the lock ends", err, citycard.Throttled)
	at = first.Add(cms.LoginWindow)
	if _, err := again.Check(ctx, "lf-ann", staffPassword); err != nil {
		t.Errorf("at the lock's end: %v", err)
	}

	// The swap: over what it was given only.
	one := cms.LoginFailures{Count: 1, First: at}
	two := cms.NextLoginFailure(one, at.Add(time.Second))
	for _, c := range []struct {
		old, next cms.LoginFailures
		want      bool
	}{
		{cms.LoginFailures{}, one, true},
		{cms.LoginFailures{}, one, false}, // stored already
		{two, one, false},
		{one, two, true},
		{one, cms.LoginFailures{}, false},
		{two, cms.LoginFailures{}, true},
	} {
		ok, err := s.Staff.SwapLoginFailures(ctx, "staff:lf-bo", c.old, c.next, at.Add(-cms.LoginWindow))
		if err != nil || ok != c.want {
			t.Errorf("swap %+v for %+v: %v %v, want %v", c.old, c.next, ok, err, c.want)
		}
	}
	// Stale failures of other names go at the next failure written.
	fail(st, "lf-cy")
	at = at.Add(cms.LoginWindow)
	fail(st, "lf-dee")
	if f, err := s.Staff.LoginFailures(ctx, "staff:lf-cy"); err != nil || f.Count != 0 {
		t.Errorf("a name's failures a window old: %+v %v, want dropped", f, err)
	}
	if f, err := s.Staff.LoginFailures(ctx, "staff:lf-dee"); err != nil || f.Count != 1 {
		t.Errorf("the name failing now: %+v %v", f, err)
	}
}
