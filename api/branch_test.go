package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/citycard/citycard/cms"
)

// TestBankBranchScope: a partner bank's clerk sells and tops up only
// through their own bank and reads only their bank's statement; a clerk
// of another bank cannot serve the first bank's co-branded card; each
// refusal is 403 naming the service point and the role, and changes
// nothing. An account at a bank branch whose point names no bank is
// refused.
func TestBankBranchScope(t *testing.T) {
	x := withCMS(t, newFixture(t))
	withTopUps(t, x, false)
	ctx := context.Background()
	for name, point := range map[string]string{"icbc": "icbc-ningbo/haishu-03", "boc": "boc-ningbo/jiangbei-01"} {
		if _, err := x.st.Add(ctx, cms.Actor{Who: "bootstrap", ServicePoint: "cli"}, cms.StaffMember{Name: name, Role: cms.RoleClerk, ServicePoint: point, PointType: cms.BankBranch}, staffPass); err != nil {
			t.Fatal(err)
		}
		s, err := x.st.Login(ctx, name, staffPass)
		if err != nil {
			t.Fatal(err)
		}
		x.tokens[name] = s.Token
	}
	a := asnOf(t, "31500000000000000701")
	if code, v := x.call(t, "POST", "/v1/cards", "icbc", `{"issuer":"`+testIssuer.String()+`","asn":"`+a.String()+`","product":"citizen","holder_id":`+strconv.FormatInt(x.holder(t), 10)+`}`); code != http.StatusCreated {
		t.Fatalf("apply at the bank's branch: %d %v", code, v)
	}
	issue := func(name, channel, party string) (int, map[string]any) {
		t.Helper()
		return x.call(t, "POST", cardURL(a, "issue"), name, `{"key":"sell-701-`+name+party+`","channel":"`+channel+`","channel_party":"`+party+`","channel_reference":"","load_fen":5000}`)
	}
	before := x.auditLen(t)
	for _, tc := range []struct{ name, channel, party, point string }{
		{"icbc", "partner_bank", "boc-ningbo", "icbc-ningbo/haishu-03"}, // a load through the other bank
		{"icbc", "cash", testParty, "icbc-ningbo/haishu-03"},            // cash at the issuer's counter
		{"boc", "partner_bank", "boc-ningbo", "boc-ningbo/jiangbei-01"}, // the other bank's clerk, icbc's card
	} {
		code, v := issue(tc.name, tc.channel, tc.party)
		msg, _ := v["error"].(string)
		if code != http.StatusForbidden || !strings.Contains(msg, tc.point) || !strings.Contains(msg, "clerk at bank_branch") {
			t.Errorf("%s selling through %s %s: %d %v, want 403 naming %s and the role", tc.name, tc.channel, tc.party, code, v, tc.point)
		}
	}
	if n := x.auditLen(t); n != before || x.card(t, a).State != cms.Applied {
		t.Errorf("the refusals changed something: %d audit records, was %d; card %v", n, before, x.card(t, a).State)
	}
	if code, v := issue("icbc", "partner_bank", "icbc-ningbo"); code != http.StatusOK {
		t.Fatalf("the sale through the clerk's own bank: %d %v", code, v)
	}
	topUp := func(name, party string) int {
		t.Helper()
		code, _ := x.call(t, "POST", cardURL(a, "topups"), name, `{"key":"tu-701-`+name+party+`","amount_fen":1000,"payer":"partner_bank","payer_party":"`+party+`","payer_reference":""}`)
		return code
	}
	if code := topUp("icbc", "boc-ningbo"); code != http.StatusForbidden {
		t.Errorf("a top-up through the other bank: %d, want 403", code)
	}
	if code := topUp("boc", "boc-ningbo"); code != http.StatusForbidden {
		t.Errorf("the other bank's clerk topping up icbc's card: %d, want 403", code)
	}
	if code := topUp("icbc", "icbc-ningbo"); code != http.StatusOK {
		t.Errorf("a top-up through the clerk's own bank: %d, want 200", code)
	}
	if code := topUp("clerk", "boc-ningbo"); code != http.StatusOK {
		t.Errorf("a counter clerk's top-up through a bank: %d, want 200 (not limited)", code)
	}
	// Clearing: the bank's own statement only.
	for _, tc := range []struct {
		path string
		deny bool
	}{
		{"/v1/clearing/cycles/20261201/statements/boc-ningbo", true},
		{"/v1/clearing/cycles/20261201", true},
		{"/v1/clearing/cycles", true},
		{"/v1/clearing/cycles/20261201/statements/icbc-ningbo", false},
	} {
		code, v := x.call(t, "GET", tc.path, "icbc", "")
		if msg, _ := v["error"].(string); tc.deny != (code == http.StatusForbidden) || tc.deny && !strings.Contains(msg, "icbc-ningbo/haishu-03") {
			t.Errorf("GET %s as icbc's clerk: %d %v, want 403: %v", tc.path, code, v, tc.deny)
		}
	}
	if code, v := x.call(t, "POST", "/v1/staff", "admin", `{"name":"cy","role":"clerk","service_point":"icbc-nb-branch-3","point_type":"bank_branch","password":"`+staffPass+`"}`); code/100 != 4 {
		t.Errorf("a bank branch's point naming no bank: %d %v, want 4xx", code, v)
	}
}
