package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
)

func adjustBody(key, direction string, fen, approval int64) string {
	b, _ := json.Marshal(map[string]any{"key": key, "direction": direction, "amount_fen": fen, "reason": "fare charged twice", "approval_id": approval})
	return string(b)
}

// damaged is a card sold with loadFen, active, then reported damaged:
// the back office holds its balance.
func (x *cmsFix) damaged(t testing.TB, asn string, loadFen int64) citycard.ASN {
	t.Helper()
	a := x.issued(t, asn, loadFen)
	if _, err := x.m.Move(context.Background(), cms.Actor{Who: "clerk", ServicePoint: "nb-counter-01"}, testIssuer, a, cms.ReportDamaged); err != nil {
		t.Fatal(err)
	}
	return a
}

func (x *cmsFix) book(t testing.TB, a citycard.ASN) int64 {
	t.Helper()
	b, err := x.m.BookBalance(context.Background(), testIssuer, a)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// adjustments lists a card's adjustments as the auditor.
func (x *cmsFix) adjustments(t testing.TB, a citycard.ASN) []map[string]any {
	t.Helper()
	code, b := x.do(t, "GET", cardURL(a, "adjustments"), x.tokens["auditor"], "", nil, nil)
	var l []map[string]any
	if code != http.StatusOK || json.Unmarshal(b, &l) != nil {
		t.Fatalf("GET adjustments: %d %s", code, b)
	}
	return l
}

func approvalOf(t testing.TB, ans map[string]any) string {
	t.Helper()
	a, ok := ans["approval"].(map[string]any)
	if !ok {
		t.Fatalf("no approval in %v", ans)
	}
	return strconv.FormatInt(int64(a["id"].(float64)), 10)
}

// TestAdjustApproval follows issue 9 over the API: a manual adjustment
// always waits for a supervisor (202, nothing moved); a clerk cannot
// approve, nor a supervisor their own request; the approval makes only
// its request, for its requester (201), once (a retry answers the
// same); a card in use is credited by a remote top-up and never debited.
func TestAdjustApproval(t *testing.T) {
	x := withCMS(t, newFixture(t))
	u := withTopUps(t, x, true)
	a := x.damaged(t, "31500000000000000701", 4000)
	before := x.card(t, a)
	n := x.auditLen(t)
	code, ans := x.call(t, "POST", cardURL(a, "adjustments"), "clerk", adjustBody("adj-a", "credit", 700, 0))
	if code != http.StatusAccepted || ans["adjustment"].(map[string]any)["made"] != false {
		t.Fatalf("asked: %d %v", code, ans)
	}
	id := approvalOf(t, ans)
	if got := x.card(t, a); got.Version != before.Version || x.book(t, a) != 4000 || x.auditLen(t) != n+1 {
		t.Fatalf("an adjustment waiting moved the card: version %d, book %d", got.Version, x.book(t, a))
	}
	path := "/v1/approvals/" + id
	if code, _ := x.call(t, "POST", path+"/approve", "clerk2", ""); code != http.StatusForbidden {
		t.Errorf("a clerk approves: %d, want 403", code)
	}
	if code, _ := x.call(t, "POST", path+"/approve", "auditor", ""); code != http.StatusForbidden {
		t.Errorf("an auditor approves: %d, want 403", code)
	}
	if code, _ := x.call(t, "POST", cardURL(a, "adjustments"), "clerk", adjustBody("adj-a", "credit", 700, mustInt(id))); code != http.StatusForbidden {
		t.Errorf("made on a pending approval: %d, want 403", code)
	}
	if code, got := x.call(t, "POST", path+"/approve", "super", ""); code != 200 || got["state"] != "approved" {
		t.Fatalf("a supervisor approves: %d %v", code, got)
	}
	for what, b := range map[string]string{
		"another amount":    adjustBody("adj-a", "credit", 701, mustInt(id)),
		"another direction": adjustBody("adj-a", "debit", 700, mustInt(id)),
		"another key":       adjustBody("adj-b", "credit", 700, mustInt(id)),
	} {
		if code, _ := x.call(t, "POST", cardURL(a, "adjustments"), "clerk", b); code != http.StatusForbidden {
			t.Errorf("%s on the approval: %d, want 403", what, code)
		}
	}
	if code, _ := x.call(t, "POST", cardURL(a, "adjustments"), "clerk2", adjustBody("adj-a", "credit", 700, mustInt(id))); code != http.StatusForbidden {
		t.Errorf("another clerk on the approval: %d, want 403", code)
	}
	if x.book(t, a) != 4000 {
		t.Fatalf("the refusals moved the book: %d", x.book(t, a))
	}
	code, got := x.call(t, "POST", cardURL(a, "adjustments"), "clerk", adjustBody("adj-a", "credit", 700, mustInt(id)))
	if code != http.StatusCreated || got["replayed"] != false || x.book(t, a) != 4700 {
		t.Fatalf("the approved adjustment: %d %v, book %d", code, got, x.book(t, a))
	}
	code, got = x.call(t, "POST", cardURL(a, "adjustments"), "clerk", adjustBody("adj-a", "credit", 700, mustInt(id)))
	if code != http.StatusCreated || got["replayed"] != true || x.book(t, a) != 4700 {
		t.Fatalf("the retry: %d %v, book %d", code, got, x.book(t, a))
	}
	if code, _ := x.call(t, "POST", cardURL(a, "adjustments"), "clerk", adjustBody("adj-a", "credit", 700, 0)); code != http.StatusConflict {
		t.Errorf("the key again without its approval: %d, want 409", code)
	}

	// A supervisor's own request: another supervisor decides it.
	_, ans = x.call(t, "POST", cardURL(a, "adjustments"), "super", adjustBody("adj-c", "debit", 4700, 0))
	id = approvalOf(t, ans)
	if code, _ := x.call(t, "POST", "/v1/approvals/"+id+"/approve", "super", ""); code != http.StatusForbidden {
		t.Errorf("a supervisor approves their own: %d, want 403", code)
	}
	if code, _ := x.call(t, "POST", "/v1/approvals/"+id+"/approve", "super2", ""); code != 200 {
		t.Fatalf("another supervisor approves: %d", code)
	}
	if code, got := x.call(t, "POST", cardURL(a, "adjustments"), "super", adjustBody("adj-c", "debit", 4700, mustInt(id))); code != http.StatusCreated || x.book(t, a) != 0 {
		t.Fatalf("the debit to 0: %d %v, book %d", code, got, x.book(t, a))
	}
	l := x.adjustments(t, a)
	if len(l) != 2 || l[0]["key"] != "adj-c" || l[0]["made"] != true || l[1]["key"] != "adj-a" || l[1]["reason"] != "fare charged twice" || l[1]["decided_by"] != "super" {
		t.Errorf("the card's adjustments: %v", l)
	}

	// A card in use: a credit is a remote top-up, a debit refused.
	c := x.issued(t, "31500000000000000702", 1000)
	_, ans = x.call(t, "POST", cardURL(c, "adjustments"), "clerk", adjustBody("adj-d", "credit", 500, 0))
	id = approvalOf(t, ans)
	x.call(t, "POST", "/v1/approvals/"+id+"/approve", "super", "")
	code, got = x.call(t, "POST", cardURL(c, "adjustments"), "clerk", adjustBody("adj-d", "credit", 500, mustInt(id)))
	tu, _ := got["topup"].(map[string]any)
	if code != http.StatusCreated || tu == nil || tu["payer"] != "adjustment" || tu["state"] != "pending" || x.book(t, c) != 1000 {
		t.Fatalf("a credit of a card in use: %d %v", code, got)
	}
	if p, err := u.tu.Pending(t.Context(), testIssuer, c); err != nil || len(p) != 1 || p[0].AmountFen != 500 {
		t.Errorf("claimable: %+v %v", p, err)
	}
	// What cannot be made is refused before a supervisor is asked: a
	// debit of a card in use, a lost card's, a debit past what the card
	// is owed.
	lost := x.lost(t, "31500000000000000703")
	for what, rq := range map[string]struct {
		card citycard.ASN
		body string
	}{
		"a debit of a card in use": {c, adjustBody("adj-e", "debit", 500, 0)},
		"a lost card's":            {lost, adjustBody("adj-f", "credit", 500, 0)},
		"a debit past the book":    {a, adjustBody("adj-g", "debit", 1, 0)},
	} {
		n := x.auditLen(t)
		code, got = x.call(t, "POST", cardURL(rq.card, "adjustments"), "clerk", rq.body)
		if msg, _ := got["error"].(string); code != http.StatusConflict || msg == "" || x.auditLen(t) != n {
			t.Errorf("%s: %d %v", what, code, got)
		}
	}
	if l := x.adjustments(t, c); len(l) != 1 || l[0]["topup_id"] != tu["id"] || l[0]["made"] != true {
		t.Errorf("the card's adjustments: %v", l)
	}
}

func mustInt(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		panic(err)
	}
	return n
}

// TestAdjustBadInput: malformed JSON, missing fields, wrong types, a
// huge body, bad IDs, a zero, negative or over-limit amount, an unknown
// direction, a reason empty or too long, an approval that is none: each
// a 4xx with a message, nothing changed (no approval asked, the audit
// log's length and the card's version kept).
func TestAdjustBadInput(t *testing.T) {
	x := withCMS(t, newFixture(t))
	a := x.damaged(t, "31500000000000000711", 3000)
	good := []kv{{"key", `"bad-adj"`}, {"direction", `"credit"`}, {"amount_fen", "100"}, {"reason", `"fare charged twice"`}, {"approval_id", "0"}}
	bad := variants(good)
	for what, b := range map[string]string{
		"zero amount":       with(good, "amount_fen", "0"),
		"negative amount":   with(good, "amount_fen", "-1"),
		"over the limit":    with(good, "amount_fen", strconv.Itoa(cms.AdjustFenMax+1)),
		"fractional amount": with(good, "amount_fen", "1.5"),
		"unknown direction": with(good, "direction", `"sideways"`),
		"empty direction":   with(good, "direction", `""`),
		"empty reason":      with(good, "reason", `""`),
		"long reason":       with(good, "reason", `"`+strings.Repeat("r", cms.AdjustReasonLenMax+1)+`"`),
		"empty key":         with(good, "key", `""`),
		"long key":          with(good, "key", `"`+strings.Repeat("k", 129)+`"`),
		"unknown approval":  with(good, "approval_id", "7"),
		"negative approval": with(good, "approval_id", "-1"),
	} {
		bad[what] = b
	}
	n, v := x.auditLen(t), x.card(t, a).Version
	check := func(where string, code int, ans map[string]any) {
		t.Helper()
		if msg, _ := ans["error"].(string); code < 400 || code >= 500 || msg == "" {
			t.Errorf("%s: %d %v, want a 4xx with a message", where, code, ans)
		}
	}
	for what, b := range bad {
		code, ans := x.call(t, "POST", cardURL(a, "adjustments"), "clerk", b)
		check(what, code, ans)
	}
	if code, raw := x.do(t, "POST", cardURL(a, "adjustments"), x.tokens["clerk"], "text/plain", []byte(body(good)), nil); code != http.StatusUnprocessableEntity {
		t.Errorf("as text/plain: %d %s", code, raw)
	}
	for _, p := range []string{"/v1/cards/3150/" + a.String(), "/v1/cards/" + testIssuer.String() + "/12",
		"/v1/cards/" + testIssuer.String() + "/31500000000000000G01", "/v1/cards/" + testIssuer.String() + "/31500000000000000799"} {
		code, ans := x.call(t, "POST", p+"/adjustments", "clerk", body(good))
		check("POST "+p, code, ans)
		code, ans = x.call(t, "GET", p+"/adjustments", "auditor", "")
		check("GET "+p, code, ans)
	}
	if code, _ := x.call(t, "POST", cardURL(a, "adjustments"), "auditor", body(good)); code != http.StatusForbidden {
		t.Errorf("an auditor asks: %d, want 403", code)
	}
	if got := x.auditLen(t); got != n {
		t.Errorf("the audit log has %d records, had %d: a refused request changed something", got, n)
	}
	if got := x.card(t, a).Version; got != v || x.book(t, a) != 3000 || len(x.adjustments(t, a)) != 0 {
		t.Errorf("card at version %d (was %d), book %d", got, v, x.book(t, a))
	}
}
