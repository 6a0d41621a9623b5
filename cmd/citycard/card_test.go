package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/sqlite"
)

// TestCardCLI runs a service point's day through the CLI against a real
// serve: the first admin added on the store, staff added, listed and
// disabled through the API, logins, a cardholder and a card's life
// (apply, issue, show, loss, unloss, replace), a refund over the
// approval limit approved by a supervisor who is not its requester, and
// the audit log verified, then tampered with and caught.
func TestCardCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	b := newBackOfficeFiles(t, "")
	b.addStaff(t, "root", "admin")
	srv := startServe(t, b.env(), "--db", b.db, "--store", b.store, "--addr", "127.0.0.1:0")
	server := "http://" + srv.addr
	admin := staffLoginCLI(t, srv.addr, "root")
	as := func(token string) []string {
		return []string{envServer + "=" + server, envToken + "=" + token, envPassword + "=" + testPassword}
	}
	for name, role := range map[string]string{"ann": "clerk", "sue": "supervisor", "tom": "supervisor", "aud": "auditor"} {
		out := mustCLI(t, as(admin), "staff", "add", "--name", name, "--role", role, "--point", "nb-counter-02", "--point-type", "agent")
		if !strings.Contains(out, `"role": "`+role+`"`) {
			t.Fatalf("staff add %s: %s", name, out)
		}
	}
	if out := mustCLI(t, as(admin), "staff", "list"); strings.Count(out, `"name"`) != 5 {
		t.Fatalf("staff list: %s", out)
	}
	ann, sue, aud := staffLoginCLI(t, srv.addr, "ann"), staffLoginCLI(t, srv.addr, "sue"), staffLoginCLI(t, srv.addr, "aud")
	tom := staffLoginCLI(t, srv.addr, "tom")

	out := mustCLI(t, as(ann), "card", "register", "--name", "张三丰", "--doc-number", "330203199001011236", "--born", "1990-01-01", "--phone", "13812345678")
	if !strings.Contains(out, "3302**********1236") || strings.Contains(out, "330203199001011236") {
		t.Fatalf("register: %s", out)
	}
	card := "31500001FFFFFFFF/31500000000000000001"
	mustCLI(t, as(ann), "card", "apply", card, "--product", "citizen", "--holder", "1")
	issue := []string{"card", "issue", card, "--key", "sell-1", "--party", "nb-card", "--load-fen", "50000"}
	mustCLI(t, as(ann), issue...)
	if out := mustCLI(t, as(ann), issue...); !strings.Contains(out, `"replayed": true`) {
		t.Fatalf("issue again with the same key: %s", out)
	}
	if out := mustCLI(t, as(aud), "card", "show", card); !strings.Contains(out, `"book_balance_fen": 50000`) || !strings.Contains(out, `"state": "issued"`) {
		t.Fatalf("show: %s", out)
	}
	if _, _, err := tryCLI(as(aud), "card", "loss", card); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("an auditor reports a loss: %v", err)
	}
	mustCLI(t, as(ann), "card", "loss", card)
	mustCLI(t, as(ann), "card", "unloss", card)
	mustCLI(t, as(ann), "card", "activate", card)

	// A refund of 500 yuan and the 10-yuan deposit, less a 5-yuan fee:
	// over the 500-yuan limit.
	refund := []string{"card", "refund", card, "--key", "refund-1", "--party", "nb-card"}
	out, errOut, err := tryCLI(as(ann), refund...)
	if err != nil || !strings.Contains(errOut, "approval") {
		t.Fatalf("refund over the limit: %v\n%s%s", err, out, errOut)
	}
	var ans struct {
		Approval struct{ ID int64 }
	}
	if err := json.Unmarshal([]byte(out), &ans); err != nil || ans.Approval.ID == 0 {
		t.Fatalf("refund's answer: %v\n%s", err, out)
	}
	id := jsonNumber(ans.Approval.ID)
	if _, _, err := tryCLI(as(ann), "card", "approve", id); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("a clerk approves: %v", err)
	}
	mustCLI(t, as(sue), "card", "approve", id)
	if out := mustCLI(t, as(ann), append(refund, "--approval", id)...); !strings.Contains(out, `"state": "closed"`) {
		t.Fatalf("the approved refund: %s", out)
	}

	// A supervisor's own refund request: not theirs to approve.
	other := "31500001FFFFFFFF/31500000000000000002"
	mustCLI(t, as(ann), "card", "apply", other, "--product", "citizen", "--holder", "1")
	mustCLI(t, as(ann), "card", "issue", other, "--key", "sell-2", "--party", "nb-card", "--load-fen", "50000")
	mustCLI(t, as(ann), "card", "activate", other)
	out, _, _ = tryCLI(as(sue), "card", "refund", other, "--key", "refund-2", "--party", "nb-card")
	json.Unmarshal([]byte(out), &ans)
	if _, _, err := tryCLI(as(sue), "card", "approve", jsonNumber(ans.Approval.ID)); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("a supervisor approves their own request: %v", err)
	}
	mustCLI(t, as(tom), "card", "reject", jsonNumber(ans.Approval.ID))

	// Replacement of a lost card.
	mustCLI(t, as(ann), "card", "loss", other)
	if out := mustCLI(t, as(ann), "card", "replace", other, "--new-asn", "31500000000000000003", "--key", "replace-1", "--party", "nb-card"); !strings.Contains(out, `"replaces": "31500000000000000002"`) {
		t.Fatalf("replace: %s", out)
	}

	// The replacement is not issued and its cooling period runs: the
	// balance does not move yet.
	if _, _, err := tryCLI(as(ann), "card", "move-balance", other, "--key", "move-1"); err == nil || !strings.Contains(err.Error(), "409") {
		t.Fatalf("move-balance within the cooling period: %v", err)
	}
	// The dormancy report: the cards were all issued today.
	if out := mustCLI(t, as(aud), "card", "dormant", "--format", "json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("dormant: %s", out)
	}
	if out := mustCLI(t, as(aud), "card", "dormant"); !strings.Contains(out, "0 dormant cards, 0.00 yuan") {
		t.Fatalf("dormant, a table: %s", out)
	}
	if _, _, err := tryCLI(as(aud), "card", "dormant", "--format", "xml"); err == nil || !strings.Contains(err.Error(), "--format") {
		t.Fatalf("dormant --format xml: %v", err)
	}

	// The annual review, expiry and renewal: a citizen card has no
	// review, nor does it expire before its last day; a senior's card
	// is reviewed, a card renewed; the clock's run is a supervisor's.
	if _, _, err := tryCLI(as(ann), "card", "review", other); err == nil || !strings.Contains(err.Error(), "422") {
		t.Fatalf("review of a citizen card: %v", err)
	}
	if _, _, err := tryCLI(as(ann), "card", "expire", card); err == nil || !strings.Contains(err.Error(), "409") {
		t.Fatalf("expire before the expiry: %v", err)
	}
	mustCLI(t, as(ann), "card", "register", "--name", "周老", "--doc-number", "11010519491231002X", "--born", "1949-12-31")
	senior := "31500001FFFFFFFF/31500000000000000004"
	mustCLI(t, as(ann), "card", "apply", senior, "--product", "senior", "--holder", "2")
	mustCLI(t, as(ann), "card", "issue", senior, "--key", "sell-4", "--party", "nb-card")
	nextYear := time.Now().In(citycard.ChinaTime).AddDate(1, 0, 0).Format(time.DateOnly)
	if out := mustCLI(t, as(ann), "card", "review", senior); !strings.Contains(out, `"review_due": "`+nextYear+`"`) {
		t.Fatalf("review: %s", out)
	}
	if _, _, err := tryCLI(as(ann), "card", "renew", senior); err == nil || !strings.Contains(err.Error(), "is issued: renew is allowed only from active or expired") {
		t.Fatalf("renew of a card issued: %v", err)
	}
	mustCLI(t, as(ann), "card", "activate", senior)
	if out := mustCLI(t, as(ann), "card", "renew", senior); !strings.Contains(out, `"state": "active"`) || !strings.Contains(out, `"expiry": "`) {
		t.Fatalf("renew: %s", out)
	}
	if _, _, err := tryCLI(as(ann), "card", "expire-due"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("a clerk runs the expiry: %v", err)
	}
	if out := mustCLI(t, as(sue), "card", "expire-due"); !strings.Contains(out, `"expired": 0`) {
		t.Fatalf("expire-due: %s", out)
	}

	// A disabled account's session ends.
	mustCLI(t, as(admin), "staff", "disable", "ann")
	if _, _, err := tryCLI(as(ann), "card", "show", card); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("a disabled clerk's session: %v", err)
	}
	if _, _, err := tryCLI(as(""), "card", "show", card); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("no token: %v", err)
	}
	srv.stop(t)

	out = mustCLI(t, nil, "audit", "verify", "--db", b.db)
	m := regexp.MustCompile(`audit log: (\d+) records, the hash chain intact`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("audit verify: %s", out)
	}
	if n, _ := strconv.Atoi(m[1]); n < 20 { // 5 accounts, a cardholder, 3 cards' lives, 2 approvals and their decisions
		t.Fatalf("audit verify: %d records, want 20 or more", n)
	}
	// Someone with write access edits a record: verify names it.
	db, err := sqlite.Open(context.Background(), b.db)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"DROP TRIGGER cms_audit_no_update", "UPDATE cms_audit SET actor = 'eve' WHERE seq = 3"} {
		if err := db.Exec(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	if _, _, err := tryCLI(nil, "audit", "verify", "--db", b.db); err == nil || !strings.Contains(err.Error(), "audit record 3") {
		t.Fatalf("audit verify of a tampered log: %v", err)
	}
}

func jsonNumber(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestStaffCLIUsage: the staff and card commands refuse what they cannot
// read with a usage error, before any request.
func TestStaffCLIUsage(t *testing.T) {
	for _, args := range [][]string{
		{"staff"}, {"staff", "fire", "ann"}, {"staff", "disable"}, {"staff", "add", "--db", "sqlite:x.db", "--role", "boss"},
		{"card"}, {"card", "show"}, {"card", "show", "31500001FFFFFFFF"}, {"card", "show", "XX/YY"}, {"card", "holder", "one"},
		{"card", "approve", "x"}, {"card", "frobnicate", "31500001FFFFFFFF/31500000000000000001"}, {"audit", "check"},
		{"card", "topup"}, {"card", "topup", "pay"}, {"card", "topup", "pay", "XX/YY"}, {"card", "topup", "show", "12"},
		{"card", "topup", "refund", "not-hex-not-hex!"}, {"card", "topup", "sweep", "now"}, {"card", "topup", "claim", "0000000000000001"},
		{"card", "review"}, {"card", "renew", "XX/YY"}, {"card", "expire-due", "now"},
	} {
		_, _, err := tryCLI([]string{envPassword + "=" + testPassword, envServer + "=http://127.0.0.1:1"}, args...)
		if err == nil || !strings.Contains(err.Error(), "usage") {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}

// TestCardTopUpCLI pays a remote top-up for a card at a partner bank's
// counter through the CLI against a real serve, lists and shows it,
// refunds it, and sweeps (a supervisor's).
func TestCardTopUpCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	srv, as, admin := staffServe(t)
	mustCLI(t, as(admin), "staff", "add", "--name", "ann", "--role", "clerk", "--point", "icbc-ningbo/nb-branch-3", "--point-type", "bank_branch")
	mustCLI(t, as(admin), "staff", "add", "--name", "sue", "--role", "supervisor", "--point", "nb-counter-01", "--point-type", "own_counter")
	ann, sue := staffLoginCLI(t, srv.addr, "ann"), staffLoginCLI(t, srv.addr, "sue")
	card := "31500001FFFFFFFF/31500000000000000011"
	mustCLI(t, as(ann), "card", "apply", card, "--product", "transit")
	mustCLI(t, as(ann), "card", "issue", card, "--key", "sell-11", "--channel", "partner_bank", "--party", "icbc-ningbo") // a bank clerk: through the bank
	pay := []string{"card", "topup", "pay", card, "--key", "bank-1", "--amount-fen", "5000", "--channel", "partner_bank", "--party", "icbc-ningbo"}
	out := mustCLI(t, as(ann), pay...)
	var v struct {
		TopUp map[string]any `json:"topup"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("topup pay: %v\n%s", err, out)
	}
	id, _ := v.TopUp["id"].(string)
	if v.TopUp["state"] != "pending" || v.TopUp["service_point"] != "icbc-ningbo/nb-branch-3" || len(id) != 16 {
		t.Fatalf("topup pay: %s", out)
	}
	if out := mustCLI(t, as(ann), pay...); !strings.Contains(out, `"replayed": true`) {
		t.Fatalf("topup pay again: %s", out)
	}
	if _, _, err := tryCLI(as(sue), "card", "topup", "pay", card, "--key", "cash-1", "--amount-fen", "100", "--party", "nb-card"); err == nil || !strings.Contains(err.Error(), "422") {
		t.Fatalf("a top-up paid in cash: %v, want 422", err)
	}
	if _, _, err := tryCLI(as(ann), "card", "topup", "pay", card, "--key", "boc-1", "--amount-fen", "100", "--channel", "partner_bank", "--party", "boc-ningbo"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("a bank clerk's top-up through another bank: %v, want 403", err)
	}
	if out := mustCLI(t, as(ann), "card", "topup", "list", card); strings.Count(out, `"id"`) != 1 {
		t.Fatalf("topup list: %s", out)
	}
	if out := mustCLI(t, as(ann), "card", "topup", "show", id); !strings.Contains(out, `"payer": "partner_bank"`) {
		t.Fatalf("topup show: %s", out)
	}
	if out := mustCLI(t, as(ann), "card", "topup", "refund", id); !strings.Contains(out, `"state": "refunded"`) {
		t.Fatalf("topup refund: %s", out)
	}
	if _, _, err := tryCLI(as(ann), "card", "topup", "sweep"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("a clerk's sweep: %v", err)
	}
	if out := mustCLI(t, as(sue), "card", "topup", "sweep"); !strings.Contains(out, `"expired": 0`) {
		t.Fatalf("topup sweep: %s", out)
	}
	srv.stop(t)
}

// TestWriteDormant prints the dormancy report's three formats.
func TestWriteDormant(t *testing.T) {
	rows := []dormantRow{
		{Issuer: "31500001FFFFFFFF", ASN: "31500000000000000001", Product: "citizen", HolderID: 7, State: "active", IssuedAt: "2021-03-01T00:00:00Z", DormantSince: "2024-03-01T00:00:00Z", BookBalanceFen: 1250},
		{Issuer: "31500001FFFFFFFF", ASN: "31500000000000000002", Product: "senior", HolderID: 8, State: "issued", IssuedAt: "2020-01-01T00:00:00Z", LastUse: "2021-05-02T08:00:00Z", DormantSince: "2024-05-02T08:00:00Z", BookBalanceFen: 50},
	}
	var b strings.Builder
	if err := writeDormant(&b, "table", rows); err != nil || !strings.Contains(b.String(), "2 dormant cards, 13.00 yuan") || !strings.Contains(b.String(), "never") ||
		!strings.Contains(b.String(), "31500001FFFFFFFF/31500000000000000002") {
		t.Fatalf("table: %v\n%s", err, b.String())
	}
	b.Reset()
	if err := writeDormant(&b, "csv", rows); err != nil || strings.Count(b.String(), "\n") != 3 || !strings.HasPrefix(b.String(), "issuer,asn,product,holder_id,state,issued_at,last_use,dormant_since,book_balance_fen\n") {
		t.Fatalf("csv: %v\n%s", err, b.String())
	}
	b.Reset()
	var back []dormantRow
	if err := writeDormant(&b, "json", rows); err != nil || json.Unmarshal([]byte(b.String()), &back) != nil || len(back) != 2 || back[1] != rows[1] {
		t.Fatalf("json: %v\n%s", err, b.String())
	}
}
