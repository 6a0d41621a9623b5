package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/citycard/citycard"
)

// closeTestDay runs, approves and closes clearTestDay's cycle in db.
func closeTestDay(t *testing.T, db string) {
	t.Helper()
	day := clearTestDay.String()
	for _, step := range [][]string{{"run", "carl"}, {"approve", "ann"}, {"approve", "bob"}, {"close", "dora"}} {
		if _, _, err := runCLI(t, "clear", step[0], "--date", day, "--db", db, "--by", step[1]); err != nil {
			t.Fatalf("%s: %v", step[0], err)
		}
	}
}

// TestClearAdjust corrects a closed cycle in the next one (the issue: "a
// closed cycle is immutable, and corrections go into a later cycle as
// adjustments"; the brief: approved by a second person, idempotency
// keys).
func TestClearAdjust(t *testing.T) {
	db := clearDB(t, 300)
	closeTestDay(t, db)
	day, next := clearTestDay.String(), (clearTestDay + 1).String()
	args := []string{"clear", "adjust", "--date", day, "--party", "op-012", "--amount-fen", "1234", "--reason", "tap lost in the depot", "--by", "ann", "--db", db, "--json"}
	var keys [2]string
	for i := range 2 {
		out, _, err := runCLI(t, args...)
		var as []jsonAdjustment
		if err != nil || json.Unmarshal([]byte(out), &as) != nil || len(as) != 1 || as[0].Payee != "op-012" || as[0].AmountFen != 1234 || as[0].ApprovedBy != "" {
			t.Fatalf("adjust (%d): %v\n%s", i, err, out)
		}
		keys[i] = as[0].Key
	}
	if keys[0] != keys[1] {
		t.Fatalf("the same command entered two adjustments: %v", keys)
	}
	if _, _, err := runCLI(t, "clear", "adjust", "--date", day, "--party", "op-012", "--amount-fen", "99", "--reason", "x", "--by", "ann", "--db", db, "--key", keys[0]); !citycard.IsKind(err, citycard.Exists) {
		t.Fatalf("the key with another amount: %v, want Exists", err)
	}
	if _, _, err := runCLI(t, "clear", "adjust", "--date", next, "--party", "op-012", "--amount-fen", "1", "--reason", "x", "--by", "ann", "--db", db); !citycard.IsKind(err, citycard.NotFound) {
		t.Fatalf("an adjustment of a cycle never run: %v, want NotFound", err)
	}
	if _, _, err := runCLI(t, "clear", "adjust", "approve", "--key", keys[0], "--by", "ann", "--db", db); !citycard.IsKind(err, citycard.Permission) {
		t.Fatalf("approved by who entered it: %v, want Permission", err)
	}
	if out, _, err := runCLI(t, "clear", "adjust", "approve", "--key", keys[0], "--by", "bob", "--db", db); err != nil || !strings.Contains(out, "approved by bob") {
		t.Fatalf("approve: %v\n%s", err, out)
	}
	if out, _, err := runCLI(t, "clear", "adjust", "list", "--db", db); err != nil || !strings.Contains(out, keys[0]) {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if _, _, err := runCLI(t, "clear", "run", "--date", next, "--db", db, "--by", "carl"); err != nil {
		t.Fatal(err)
	}
	nets := map[string]int64{}
	for _, p := range showJSON(t, db, clearTestDay+1).Positions {
		nets[p.Party] = p.NetFen
	}
	if nets["op-012"] != 1234 || nets["31500001FFFFFFFF"] != -1234 {
		t.Fatalf("the next cycle under the adjustment: %v", nets)
	}
}
