package cms

import (
	"testing"
	"time"

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

// TestLoginLimiter: LoginFailureMax failures of a name within
// LoginWindow refuse it until the window of the first has passed; other
// names are not affected; a success forgets the failures.
func TestLoginLimiter(t *testing.T) {
	l := loginLimiter{failures: map[string][]time.Time{}}
	t0 := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	for i := range LoginFailureMax - 1 {
		l.failed("ann", t0.Add(time.Duration(i)*time.Second))
	}
	if w := l.blocked("ann", t0.Add(time.Minute)); w != 0 {
		t.Fatalf("after %d failures: blocked %v", LoginFailureMax-1, w)
	}
	l.failed("ann", t0.Add(time.Minute))
	if w := l.blocked("ann", t0.Add(time.Minute)); w != LoginWindow-time.Minute {
		t.Errorf("after %d failures: blocked %v, want %v", LoginFailureMax, w, LoginWindow-time.Minute)
	}
	if w := l.blocked("bo", t0.Add(time.Minute)); w != 0 {
		t.Errorf("bo blocked %v", w)
	}
	// The first failure leaves the window at t0+LoginWindow: one
	// nanosecond before it the name is still refused, at it not.
	if w := l.blocked("ann", t0.Add(LoginWindow-time.Nanosecond)); w != time.Nanosecond {
		t.Errorf("just before the window: %v", w)
	}
	if w := l.blocked("ann", t0.Add(LoginWindow)); w != 0 {
		t.Errorf("at the window's end: %v", w)
	}
	l.failed("cy", t0)
	l.succeeded("cy")
	if _, ok := l.failures["cy"]; ok {
		t.Error("a success kept cy's failures")
	}
}

func TestLoginLimiterBounded(t *testing.T) {
	l := loginLimiter{failures: map[string][]time.Time{}}
	t0 := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	for i := range loginNamesMax + 10 {
		l.failed(string(rune('a'+i%26))+time.Duration(i).String(), t0.Add(time.Duration(i)))
	}
	if len(l.failures) != loginNamesMax {
		t.Errorf("%d names remembered, want %d", len(l.failures), loginNamesMax)
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
	a := Approval{ID: 1, Action: "refund", Subject: "card:X", Request: `{"k":1}`, RequestedBy: "ann", State: ApprovalApproved}
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
	a.State = ApprovalPending
	if err := a.Grants("ann", "refund", "card:X", `{"k":1}`); !citycard.IsKind(err, citycard.Permission) {
		t.Errorf("pending: %v", err)
	}
}

// TestLoginsAtOnce: with LoginsAtOnce checks running, one more is
// refused at once (kind Unavailable) and counts as no failure; a slot
// freed takes the next.
func TestLoginsAtOnce(t *testing.T) {
	s := &Staffing{slots: make(chan struct{}, LoginsAtOnce), now: time.Now, limit: loginLimiter{failures: map[string][]time.Time{}}}
	for range LoginsAtOnce {
		s.slots <- struct{}{}
	}
	if _, err := s.Check(t.Context(), "ann", "whatever password"); !citycard.IsKind(err, citycard.Unavailable) {
		t.Fatalf("with %d checks running: %v, want Unavailable", LoginsAtOnce, err)
	}
	if len(s.limit.failures) != 0 {
		t.Error("a refused check counted as a failure")
	}
}
