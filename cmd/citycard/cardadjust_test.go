package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/citycard/citycard/api"
)

// TestCardAdjustCLI runs manual adjustments through the CLI against a
// real serve: a lost card refused, its replaced one asked (nothing moved), approved by a supervisor and not by
// the clerk who asked, made, made again (replayed), listed as a table
// and as JSON; a card in use credited by a remote top-up; a usage error
// for no amount or two.
func TestCardAdjustCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	srv, as, admin := staffServe(t)
	mustCLI(t, as(admin), "staff", "add", "--name", "ann", "--role", "clerk", "--point", "nb-counter-01", "--point-type", "own_counter")
	mustCLI(t, as(admin), "staff", "add", "--name", "sue", "--role", "supervisor", "--point", "nb-counter-01", "--point-type", "own_counter")
	ann, sue := staffLoginCLI(t, srv.addr, "ann"), staffLoginCLI(t, srv.addr, "sue")
	mustCLI(t, as(ann), "card", "register", "--name", "张三丰", "--doc-number", "330203199001011236", "--born", "1990-01-01")
	card := "31500001FFFFFFFF/31500000000000000021"
	mustCLI(t, as(ann), "card", "apply", card, "--product", "citizen", "--holder", "1")
	mustCLI(t, as(ann), "card", "issue", card, "--key", "sell-21", "--party", "nb-card", "--load-fen", "3000")
	mustCLI(t, as(ann), "card", "loss", card)
	if _, _, err := tryCLI(as(ann), "card", "adjust", card, "--credit", "700", "--reason", "fare charged twice", "--key", "adj-0"); err == nil || !strings.Contains(err.Error(), "409") {
		t.Fatalf("a lost card's adjustment asked: %v, want 409", err)
	}
	mustCLI(t, as(ann), "card", "replace", card, "--new-asn", "31500000000000000029", "--key", "replace-21", "--party", "nb-card")

	adjust := []string{"card", "adjust", card, "--credit", "700", "--reason", "fare charged twice", "--key", "adj-1"}
	out, errOut, err := tryCLI(as(ann), adjust...)
	if err != nil || !strings.Contains(errOut, "approves the request") {
		t.Fatalf("adjust asked: %v\n%s%s", err, out, errOut)
	}
	var ans struct {
		Approval struct{ ID int64 }
		Card     struct{ Version int64 }
	}
	if err := json.Unmarshal([]byte(out), &ans); err != nil || ans.Approval.ID == 0 {
		t.Fatalf("adjust's answer: %v\n%s", err, out)
	}
	id := jsonNumber(ans.Approval.ID)
	if _, _, err := tryCLI(as(ann), "card", "approve", id); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("the clerk approves their own: %v", err)
	}
	mustCLI(t, as(sue), "card", "approve", id)
	if out := mustCLI(t, as(ann), append(adjust, "--approval", id)...); !strings.Contains(out, `"made": true`) || !strings.Contains(out, `"replayed": false`) {
		t.Fatalf("the approved adjustment: %s", out)
	}
	if out := mustCLI(t, as(ann), append(adjust, "--approval", id)...); !strings.Contains(out, `"replayed": true`) {
		t.Fatalf("the adjustment again: %s", out)
	}
	if out := mustCLI(t, as(ann), "card", "show", card); !strings.Contains(out, `"book_balance_fen": 3700`) {
		t.Fatalf("show after the credit: %s", out)
	}
	table := mustCLI(t, as(ann), "card", "adjustments", card)
	if !strings.Contains(table, "APPROVAL") || !strings.Contains(table, "credit") || !strings.Contains(table, "yes") || !strings.Contains(table, `"fare charged twice"`) {
		t.Fatalf("adjustments: %s", table)
	}
	var rows []api.AdjustmentJSON
	if err := json.Unmarshal([]byte(mustCLI(t, as(ann), "card", "adjustments", card, "--json")), &rows); err != nil || len(rows) != 1 || !rows[0].Made || rows[0].DecidedBy != "sue" {
		t.Fatalf("adjustments --json: %+v %v", rows, err)
	}

	// A card in use: a credit is a remote top-up.
	other := "31500001FFFFFFFF/31500000000000000022"
	mustCLI(t, as(ann), "card", "apply", other, "--product", "citizen", "--holder", "1")
	mustCLI(t, as(ann), "card", "issue", other, "--key", "sell-22", "--party", "nb-card")
	credit := []string{"card", "adjust", other, "--credit", "500", "--reason", "gate charged twice", "--key", "adj-2"}
	out, _, _ = tryCLI(as(ann), credit...)
	json.Unmarshal([]byte(out), &ans)
	mustCLI(t, as(sue), "card", "approve", jsonNumber(ans.Approval.ID))
	if out := mustCLI(t, as(ann), append(credit, "--approval", jsonNumber(ans.Approval.ID))...); !strings.Contains(out, `"payer": "adjustment"`) {
		t.Fatalf("a card in use credited: %s", out)
	}
	if out := mustCLI(t, as(ann), "card", "topup", "list", other); !strings.Contains(out, `"payer": "adjustment"`) {
		t.Fatalf("its top-ups: %s", out)
	}
	for _, bad := range [][]string{
		{"card", "adjust", card, "--reason", "r", "--key", "k"},
		{"card", "adjust", card, "--credit", "1", "--debit", "1", "--reason", "r", "--key", "k"},
	} {
		if _, _, err := tryCLI(as(ann), bad...); !errors.Is(err, errUsage) {
			t.Errorf("%v: %v, want a usage error", bad, err)
		}
	}
	srv.stop(t)
}

// staffServe starts a serve over a fresh back office whose first admin
// is root, and returns it, the environment of a session token for the
// CLI (as) and root's token.
func staffServe(t *testing.T) (*backOffice, func(token string) []string, string) {
	t.Helper()
	b := newBackOfficeFiles(t, "")
	b.addStaff(t, "root", "admin")
	srv := startServe(t, b.env(), "--db", b.db, "--store", b.store, "--addr", "127.0.0.1:0")
	server := "http://" + srv.addr
	as := func(token string) []string {
		return []string{envServer + "=" + server, envToken + "=" + token, envPassword + "=" + testPassword}
	}
	return srv, as, staffLoginCLI(t, srv.addr, "root")
}

// TestWriteAdjustments prints the table, and says so when there is none.
func TestWriteAdjustments(t *testing.T) {
	var b strings.Builder
	if err := writeAdjustments(&b, nil); err != nil || !strings.Contains(b.String(), "(no adjustments)") {
		t.Fatalf("none: %q %v", b.String(), err)
	}
	b.Reset()
	rows := []api.AdjustmentJSON{{ApprovalID: 3, State: "pending", Key: "k", Direction: "debit", AmountFen: 250, Reason: "a\tb", RequestedBy: "ann", RequestedAt: "2026-03-02T01:00:00Z"}}
	if err := writeAdjustments(&b, rows); err != nil || !strings.Contains(b.String(), "debit") || !strings.Contains(b.String(), `"a\tb"`) || !strings.Contains(b.String(), " no ") {
		t.Fatalf("a row: %q %v", b.String(), err)
	}
}
