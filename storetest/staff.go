package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
)

const staffPassword = "correct horse battery"

func staffing(t *testing.T, s Stores, now func() time.Time) *cms.Staffing {
	t.Helper()
	return cms.NewStaffing(s.Staff, now, cms.StaffOptions{BcryptCost: bcrypt.MinCost})
}

func addStaff(t *testing.T, st *cms.Staffing, name string, role cms.Role) cms.StaffMember {
	t.Helper()
	m, err := st.Add(context.Background(), cms.Actor{Who: "bootstrap", ServicePoint: "cli"},
		cms.StaffMember{Name: name, Role: role, ServicePoint: "nb-counter-01", PointType: cms.OwnCounter}, staffPassword)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// testStaff: accounts stored with a bcrypt hash (never the password),
// a name once, sessions that end at their expiry or when the account is
// disabled, every change in the audit log, the chain intact.
func testStaff(t *testing.T, s Stores) {
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	now := func() time.Time { return at }
	st := staffing(t, s, now)
	ann := addStaff(t, st, "ann", cms.RoleClerk)
	addStaff(t, st, "bo", cms.RoleSupervisor)
	if _, err := st.Add(ctx, clerk, cms.StaffMember{Name: "ann", Role: cms.RoleAdmin, ServicePoint: "x", PointType: cms.AgentPoint}, staffPassword); !citycard.IsKind(err, citycard.Exists) {
		t.Fatalf("a second ann: %v, want Exists", err)
	}
	got, err := s.Staff.StaffMember(ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	if got.Role != cms.RoleClerk || got.ServicePoint != "nb-counter-01" || got.PointType != cms.OwnCounter || got.Disabled || !got.CreatedAt.Equal(ann.CreatedAt) {
		t.Errorf("stored %+v", got)
	}
	if string(got.PasswordHash) == staffPassword || bcrypt.CompareHashAndPassword(got.PasswordHash, []byte(staffPassword)) != nil {
		t.Errorf("stored hash %q does not verify the password (or is it)", got.PasswordHash)
	}
	addStaff(t, st, "ann.b", cms.RoleAuditor)
	addStaff(t, st, "ann_c", cms.RoleAuditor)
	l, err := st.List(ctx, "", cms.StaffPageMax)
	if err != nil || len(l) != 4 || l[0].Name != "ann" || l[1].Name != "ann.b" || l[2].Name != "ann_c" || l[3].Name != "bo" {
		t.Fatalf("list: %v, %v", l, err)
	}
	// Pages by name, bytewise ('.' before '_'), on both stores.
	var names []string
	for after := ""; ; {
		page, err := st.List(ctx, after, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		names = append(names, page[0].Name)
		after = page[0].Name
	}
	if strings.Join(names, " ") != "ann ann.b ann_c bo" {
		t.Errorf("pages of one: %q", names)
	}
	for _, n := range []int{0, cms.StaffPageMax + 1} {
		if _, err := st.List(ctx, "", n); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("limit %d: %v, want Invalid", n, err)
		}
	}
	if _, err := s.Staff.StaffMember(ctx, "cy"); !citycard.IsKind(err, citycard.NotFound) {
		t.Errorf("cy: %v, want NotFound", err)
	}

	sess, err := st.Login(ctx, "ann", staffPassword)
	if err != nil {
		t.Fatal(err)
	}
	if !sess.Expires.Equal(at.Add(cms.DefaultSessionTTL)) {
		t.Errorf("expires %v", sess.Expires)
	}
	if m, err := st.Authenticate(ctx, sess.Token); err != nil || m.Name != "ann" {
		t.Fatalf("authenticate: %v, %v", m.Name, err)
	}
	// The session's last instant is before its expiry.
	at = sess.Expires.Add(-time.Nanosecond)
	if _, err := st.Authenticate(ctx, sess.Token); err != nil {
		t.Errorf("a nanosecond before the end: %v", err)
	}
	at = sess.Expires
	if _, err := st.Authenticate(ctx, sess.Token); !citycard.IsKind(err, citycard.Unauthenticated) {
		t.Errorf("at its end: %v, want Unauthenticated", err)
	}
	at = at.Add(time.Hour)
	sess, err = st.Login(ctx, "ann", staffPassword)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetDisabled(ctx, clerk, "ann", true); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Authenticate(ctx, sess.Token); !citycard.IsKind(err, citycard.Unauthenticated) {
		t.Errorf("disabled: %v, want Unauthenticated", err)
	}
	if _, err := st.Login(ctx, "ann", staffPassword); !citycard.IsKind(err, citycard.Unauthenticated) {
		t.Errorf("disabled login: %v, want Unauthenticated", err)
	}
	if err := st.SetDisabled(ctx, clerk, "cy", true); !citycard.IsKind(err, citycard.NotFound) {
		t.Errorf("disable cy: %v, want NotFound", err)
	}
	if err := st.SetDisabled(ctx, clerk, "ann", false); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Authenticate(ctx, sess.Token); err != nil {
		t.Errorf("enabled again: %v", err)
	}
	if err := st.Logout(ctx, sess.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Authenticate(ctx, sess.Token); !citycard.IsKind(err, citycard.Unauthenticated) {
		t.Errorf("logged out: %v, want Unauthenticated", err)
	}

	var actions []string
	if err := s.CMS.AuditLog(ctx, 0, func(a *cms.AuditRecord) error {
		actions = append(actions, a.Subject+" "+a.Action)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"staff:ann add", "staff:bo add", "staff:ann.b add", "staff:ann_c add", "staff:ann disable", "staff:ann enable"}
	if len(actions) != len(want) {
		t.Fatalf("audit %q, want %q", actions, want)
	}
	for i := range want {
		if actions[i] != want[i] {
			t.Errorf("audit %d: %q, want %q", i, actions[i], want[i])
		}
	}
	if n, err := cms.VerifyAudit(ctx, s.CMS); err != nil || n != 6 {
		t.Errorf("verify: %d, %v", n, err)
	}
}

// testStaffApprovals: a request for approval stored with its ID from 1,
// decided once by a supervisor who is not the requester.
func testStaffApprovals(t *testing.T, s Stores) {
	ctx := context.Background()
	st := staffing(t, s, clock())
	ann := addStaff(t, st, "ann", cms.RoleClerk)
	bo := addStaff(t, st, "bo", cms.RoleSupervisor)
	cy := addStaff(t, st, "cy", cms.RoleClerk)
	a, err := st.RequestApproval(ctx, &ann, "refund", "card:31500001FFFFFFFF/00000000000000000001", `{"key":"r1"}`, 60000)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != 1 || a.State != cms.ApprovalPending {
		t.Fatalf("request %+v", a)
	}
	got, err := st.Approval(ctx, 1)
	if err != nil || got.Request != `{"key":"r1"}` || got.AmountFen != 60000 || got.RequestedBy != "ann" || !got.RequestedAt.Equal(a.RequestedAt) {
		t.Fatalf("stored %+v, %v", got, err)
	}
	for _, who := range []*cms.StaffMember{&ann, &cy} {
		if _, err := st.Decide(ctx, who, 1, true); !citycard.IsKind(err, citycard.Permission) {
			t.Errorf("%s approves: %v, want Permission", who.Name, err)
		}
	}
	d, err := st.Decide(ctx, &bo, 1, true)
	if err != nil || d.State != cms.ApprovalApproved || d.DecidedBy != "bo" {
		t.Fatalf("bo approves: %+v, %v", d, err)
	}
	if _, err := st.Decide(ctx, &bo, 1, false); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("decided twice: %v, want Conflict", err)
	}
	got, err = st.Approval(ctx, 1)
	if err != nil || got.State != cms.ApprovalApproved || got.DecidedBy != "bo" || got.DecidedAt.IsZero() {
		t.Errorf("stored after: %+v, %v", got, err)
	}
	if _, err := st.Approval(ctx, 2); !citycard.IsKind(err, citycard.NotFound) {
		t.Errorf("approval 2: %v, want NotFound", err)
	}
	if _, err := cms.VerifyAudit(ctx, s.CMS); err != nil {
		t.Error(err)
	}
}

// testSelfService: a cardholder's self-service account on the store: it
// needs their card and their document, opens sessions, shows only their
// own cards; the hash is bcrypt's, never the password.
func testSelfService(t *testing.T, s Stores) {
	ctx := context.Background()
	ha, ok := s.Staff.(cms.HolderAccountStore)
	if !ok {
		t.Fatalf("%T keeps no cardholder accounts", s.Staff)
	}
	m := manager(t, s, 1)
	ann, bo := register(t, m)
	mine, theirs := cmsASN(t, "0123456789ABCDEF"), cmsASN(t, "0123456789ABCDEE")
	if _, err := m.Apply(ctx, clerk, cmsIssuer, mine, "citizen", ann.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Apply(ctx, clerk, cmsIssuer, theirs, "citizen", bo.ID); err != nil {
		t.Fatal(err)
	}
	ss := cms.NewSelfService(m, ha, clock(), cms.StaffOptions{BcryptCost: bcrypt.MinCost})
	if _, err := ss.Register(ctx, cmsIssuer, theirs, cms.ResidentID, idAnn, staffPassword); !citycard.IsKind(err, citycard.Permission) {
		t.Errorf("register with another's card: %v, want Permission", err)
	}
	id, err := ss.Register(ctx, cmsIssuer, mine, cms.ResidentID, idAnn, staffPassword)
	if err != nil || id != ann.ID {
		t.Fatalf("register: %d, %v", id, err)
	}
	if _, err := ss.Register(ctx, cmsIssuer, mine, cms.ResidentID, idAnn, staffPassword); !citycard.IsKind(err, citycard.Exists) {
		t.Errorf("register twice: %v, want Exists", err)
	}
	if h, err := ha.HolderPassword(ctx, ann.ID); err != nil || bcrypt.CompareHashAndPassword(h, []byte(staffPassword)) != nil {
		t.Errorf("the stored hash: %v", err)
	}
	if _, _, _, err := ss.Login(ctx, cms.ResidentID, idAnn, "not the password"); !citycard.IsKind(err, citycard.Unauthenticated) {
		t.Errorf("a wrong password: %v", err)
	}
	tok, holder, _, err := ss.Login(ctx, cms.ResidentID, idAnn, staffPassword)
	if err != nil || holder != ann.ID {
		t.Fatalf("login: %v", err)
	}
	if got, err := ss.Authenticate(ctx, tok); err != nil || got != ann.ID {
		t.Fatalf("authenticate: %d, %v", got, err)
	}
	if _, err := ss.OwnCard(ctx, ann.ID, cmsIssuer, theirs); !citycard.IsKind(err, citycard.NotFound) {
		t.Errorf("another's card: %v, want NotFound", err)
	}
	if cards, err := ss.Cards(ctx, ann.ID); err != nil || len(cards) != 1 || cards[0].ASN != mine {
		t.Errorf("own cards: %v, %v", cards, err)
	}
	if _, err := cms.VerifyAudit(ctx, s.CMS); err != nil {
		t.Error(err)
	}
}
