package cms

import (
	"context"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/citycard/citycard"
)

func TestRolesAndPoints(t *testing.T) {
	for r := RoleAuditor; r <= RoleAdmin; r++ {
		got, err := ParseRole(r.String())
		if err != nil || got != r {
			t.Errorf("ParseRole(%v) = %v, %v", r, got, err)
		}
	}
	for _, s := range []string{"", "operator", "Admin", "clerk "} {
		if _, err := ParseRole(s); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("ParseRole(%q): %v, want Invalid", s, err)
		}
	}
	for p := OwnCounter; p <= BankBranch; p++ {
		got, err := ParsePointType(p.String())
		if err != nil || got != p {
			t.Errorf("ParsePointType(%v) = %v, %v", p, got, err)
		}
	}
	if _, err := ParsePointType("kiosk"); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("kiosk: %v, want Invalid", err)
	}
}

func TestCheckStaffName(t *testing.T) {
	ok := []string{"a", "ann", "ann.lee-2_x", "abcdefghijklmnopqrstuvwxyz012345"} // 32: the limit
	bad := []string{"", "Ann", "ann lee", "张三", "abcdefghijklmnopqrstuvwxyz0123456", "ann:admin"}
	for _, n := range ok {
		if err := CheckStaffName(n); err != nil {
			t.Errorf("%q: %v", n, err)
		}
	}
	for _, n := range bad {
		if err := CheckStaffName(n); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("%q: %v, want Invalid", n, err)
		}
	}
}

// TestNextLoginFailure: LoginFailureMax-1 failures of a window refuse
// nothing; the LoginFailureMax-th refuses the subject until the window
// of the first has passed (one nanosecond before it still, at it not);
// a failure at the window's end begins a new one.
func TestNextLoginFailure(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	var f LoginFailures
	for i := range LoginFailureMax - 1 {
		f = NextLoginFailure(f, t0.Add(time.Duration(i)*time.Second))
	}
	if f.Count != LoginFailureMax-1 || !f.First.Equal(t0) || !f.LockedUntil.IsZero() {
		t.Fatalf("after %d failures: %+v, want no lock", LoginFailureMax-1, f)
	}
	f = NextLoginFailure(f, t0.Add(time.Minute))
	if f.Count != LoginFailureMax || !f.LockedUntil.Equal(t0.Add(LoginWindow)) {
		t.Errorf("after %d failures: %+v, want locked until %v", LoginFailureMax, f, t0.Add(LoginWindow))
	}
	if g := NextLoginFailure(f, t0.Add(LoginWindow-time.Nanosecond)); g.Count != LoginFailureMax+1 || !g.LockedUntil.Equal(f.LockedUntil) {
		t.Errorf("a failure just before the window ends: %+v, want the same window and lock", g)
	}
	if g := NextLoginFailure(f, t0.Add(LoginWindow)); g != (LoginFailures{Count: 1, First: t0.Add(LoginWindow)}) {
		t.Errorf("a failure at the window's end: %+v, want a new window", g)
	}
}

// memFailures is a LoginFailureStore in memory, failing when told.
type memFailures struct {
	StaffStore // nil: only what Check calls is here
	mu         sync.Mutex
	rows       map[string]LoginFailures
	members    map[string]StaffMember
	fail       string // the method to fail, kind IO
}

var errStore = citycard.E("test", citycard.IO, "the store is down")

func (m *memFailures) LoginFailures(_ context.Context, subject string) (LoginFailures, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail == "LoginFailures" {
		return LoginFailures{}, errStore
	}
	return m.rows[subject], nil
}

func (m *memFailures) SwapLoginFailures(_ context.Context, subject string, old, next LoginFailures, _ time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail == "SwapLoginFailures" {
		return false, errStore
	}
	if m.rows[subject] != old {
		return false, nil
	}
	if next.Count == 0 {
		delete(m.rows, subject)
	} else {
		m.rows[subject] = next
	}
	return true, nil
}

func (m *memFailures) StaffMember(_ context.Context, name string) (StaffMember, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail == "StaffMember" {
		return StaffMember{}, errStore
	}
	if sm, ok := m.members[name]; ok {
		return sm, nil
	}
	return StaffMember{}, citycard.E("test", citycard.NotFound, "no %q", name)
}

// TestLoginStoreFaults: a store that fails while a login is checked is
// kind IO (503), never a wrong password, whether the password is right
// or wrong; nothing is counted; the same login succeeds once the store
// is back. A name no account can have is wrong without a count.
func TestLoginStoreFaults(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	st := &memFailures{rows: map[string]LoginFailures{}, members: map[string]StaffMember{}}
	s := NewStaffing(st, func() time.Time { return now }, StaffOptions{BcryptCost: bcrypt.MinCost})
	h, err := bcrypt.GenerateFromPassword([]byte("right password!"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	st.members["ann"] = StaffMember{Name: "ann", Role: RoleClerk, ServicePoint: "p", PointType: OwnCounter, PasswordHash: h}
	// One failure first, so that a right password has a count to forget.
	if _, err := s.Check(ctx, "ann", "wrong password!"); !citycard.IsKind(err, citycard.Unauthenticated) {
		t.Fatalf("a wrong password: %v", err)
	}
	for _, fail := range []string{"LoginFailures", "SwapLoginFailures", "StaffMember"} {
		for _, pw := range []string{"right password!", "wrong password!"} {
			st.fail = fail
			_, err := s.Check(ctx, "ann", pw)
			st.fail = ""
			if !citycard.IsKind(err, citycard.IO) || citycard.IsKind(err, citycard.Unauthenticated) {
				t.Errorf("%s failing, %q: %v, want kind IO", fail, pw, err)
			}
		}
	}
	if f := st.rows["staff:ann"]; f.Count != 1 {
		t.Errorf("after the faults: %+v, want the one failure", f)
	}
	if _, err := s.Check(ctx, "ann", "right password!"); err != nil {
		t.Fatalf("the store back: %v", err)
	}
	if len(st.rows) != 0 {
		t.Errorf("a good login kept %+v", st.rows)
	}
	if _, err := s.Check(ctx, "Not A Name!", "wrong password!"); !citycard.IsKind(err, citycard.Unauthenticated) || len(st.rows) != 0 {
		t.Errorf("a name no account can have: %v, %+v counted", err, st.rows)
	}
}

// TestApprovalDecide follows issue 9: a supervisor approves, a second
// person, never the requester; a clerk cannot approve.
func TestApprovalDecide(t *testing.T) {
	at := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	a := Approval{ID: 1, Action: "refund", Subject: "card:X", Request: "{}", RequestedBy: "ann", State: ApprovalPending}
	tests := []struct {
		who  StaffMember
		kind citycard.Kind
	}{
		{StaffMember{Name: "cy", Role: RoleClerk}, citycard.Permission},
		{StaffMember{Name: "dee", Role: RoleAuditor}, citycard.Permission},
		{StaffMember{Name: "ann", Role: RoleSupervisor}, citycard.Permission}, // her own request
		{StaffMember{Name: "bo", Role: RoleSupervisor}, citycard.Other},
		{StaffMember{Name: "eve", Role: RoleAdmin}, citycard.Other},
	}
	for _, tt := range tests {
		got, err := a.Decide(&tt.who, true, at)
		if tt.kind != citycard.Other {
			if !citycard.IsKind(err, tt.kind) || got.State != ApprovalPending {
				t.Errorf("%s (%v): %v, state %v; want %v", tt.who.Name, tt.who.Role, err, got.State, tt.kind)
			}
			continue
		}
		if err != nil || got.State != ApprovalApproved || got.DecidedBy != tt.who.Name || !got.DecidedAt.Equal(at) {
			t.Errorf("%s: %+v, %v", tt.who.Name, got, err)
		}
		if _, err := got.Decide(&tt.who, false, at); !citycard.IsKind(err, citycard.Conflict) {
			t.Errorf("decided twice: %v", err)
		}
	}
	bo := StaffMember{Name: "bo", Role: RoleSupervisor}
	if r, err := a.Decide(&bo, false, at); err != nil || r.State != ApprovalRejected {
		t.Errorf("reject: %v, %v", r.State, err)
	}
}

func TestApprovalGrants(t *testing.T) {
	a := Approval{ID: 1, Action: "refund", Subject: "card:X", Request: `{"k":1}`, RequestedBy: "ann", State: ApprovalApproved, DecidedBy: "sue"}
	if err := a.Grants("ann", "refund", "card:X", `{"k":1}`); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][4]string{
		{"cy", "refund", "card:X", `{"k":1}`},
		{"ann", "replace", "card:X", `{"k":1}`},
		{"ann", "refund", "card:Y", `{"k":1}`},
		{"ann", "refund", "card:X", `{"k":2}`},
	} {
		if err := a.Grants(c[0], c[1], c[2], c[3]); !citycard.IsKind(err, citycard.Permission) {
			t.Errorf("%q: %v, want Permission", c, err)
		}
	}
	for _, by := range []string{"", "ann"} {
		self := a
		self.DecidedBy = by
		if err := self.Grants("ann", "refund", "card:X", `{"k":1}`); !citycard.IsKind(err, citycard.Permission) {
			t.Errorf("decided by %q: %v, want Permission", by, err)
		}
	}
	a.State = ApprovalPending
	if err := a.Grants("ann", "refund", "card:X", `{"k":1}`); !citycard.IsKind(err, citycard.Permission) {
		t.Errorf("pending: %v", err)
	}
}

// TestLoginsAtOnce: with LoginsAtOnce checks running, one more is
// refused at once (kind Unavailable) and counts as no failure; a slot
// freed takes the next.
func TestLoginsAtOnce(t *testing.T) {
	st := &memFailures{rows: map[string]LoginFailures{}}
	s := &Staffing{store: st, slots: make(chan struct{}, LoginsAtOnce), now: time.Now, limit: loginGuard{st}}
	for range LoginsAtOnce {
		s.slots <- struct{}{}
	}
	if _, err := s.Check(t.Context(), "ann", "whatever password"); !citycard.IsKind(err, citycard.Unavailable) {
		t.Fatalf("with %d checks running: %v, want Unavailable", LoginsAtOnce, err)
	}
	if len(st.rows) != 0 {
		t.Error("a refused check counted as a failure")
	}
}
