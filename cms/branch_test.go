package cms

import (
	"strings"
	"testing"

	"github.com/citycard/citycard"
)

// TestBranchScope: a partner bank's clerk moves money only through their
// own bank and serves no other bank's co-branded card, and reads only
// their bank's statement; each refusal is Permission naming the service
// point and the role. Staff at other points are not limited.
func TestBranchScope(t *testing.T) {
	icbc := StaffMember{Name: "ann", Role: RoleClerk, ServicePoint: "icbc-ningbo/haishu-03", PointType: BankBranch}
	counter := StaffMember{Name: "bo", Role: RoleClerk, ServicePoint: "nb-counter-01", PointType: OwnCounter}
	citizen, err := DefaultProducts().Product("citizen") // co-branded with icbc-ningbo
	if err != nil {
		t.Fatal(err)
	}
	transit, _ := DefaultProducts().Product("transit")
	boCard := *citizen
	boCard.PartnerBank = "boc-ningbo"
	own := Channel{Type: PartnerBank, Party: "icbc-ningbo"}
	other := Channel{Type: PartnerBank, Party: "boc-ningbo"}
	cash := Channel{Type: Cash, Party: "nb-card"}
	if b := icbc.BranchBank(); b != "icbc-ningbo" || counter.BranchBank() != "" {
		t.Errorf("branch banks %q %q", b, counter.BranchBank())
	}
	for _, tc := range []struct {
		name string
		m    StaffMember
		p    *Product
		ch   *Channel
		ok   bool
	}{
		{"its bank's card through its bank", icbc, citizen, &own, true},
		{"a transit card through its bank", icbc, transit, &own, true},
		{"a card, no money", icbc, citizen, nil, true},
		{"through another bank", icbc, citizen, &other, false},
		{"cash at the issuer's counter", icbc, transit, &cash, false},
		{"another bank's card", icbc, &boCard, nil, false},
		{"another bank's card through its own", icbc, &boCard, &own, false},
		{"a counter clerk through a bank", counter, &boCard, &other, true},
	} {
		err := tc.m.MayServe(tc.p, tc.ch)
		if tc.ok != (err == nil) || !tc.ok && (!citycard.IsKind(err, citycard.Permission) ||
			!strings.Contains(err.Error(), "icbc-ningbo/haishu-03") || !strings.Contains(err.Error(), "clerk at bank_branch")) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if err := icbc.MayRead("icbc-ningbo"); err != nil {
		t.Errorf("its own statement: %v", err)
	}
	for _, party := range []string{"boc-ningbo", ""} {
		if err := icbc.MayRead(party); !citycard.IsKind(err, citycard.Permission) || !strings.Contains(err.Error(), "clerk at bank_branch icbc-ningbo/haishu-03") {
			t.Errorf("reading %q: %v", party, err)
		}
		if err := counter.MayRead(party); err != nil {
			t.Errorf("a counter clerk reading %q: %v", party, err)
		}
	}
	// A branch that names no bank reads and serves nothing.
	bad := StaffMember{Name: "cy", Role: RoleClerk, ServicePoint: "haishu-03", PointType: BankBranch}
	if err := bad.MayServe(nil, &own); err == nil {
		t.Error("a branch of no bank moved money")
	}
	if err := bad.MayRead(""); err == nil {
		t.Error("a branch of no bank read clearing")
	}
	for _, point := range []string{"icbc-nb-branch-3", "icbc-ningbo/", "/haishu-03", "ICBC NINGBO/x"} {
		if err := checkBranchPoint("test", &StaffMember{Name: "cy", ServicePoint: point}); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("a branch's point %q: %v, want Invalid", point, err)
		}
	}
	if err := checkBranchPoint("test", &icbc); err != nil {
		t.Error(err)
	}
}
