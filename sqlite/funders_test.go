package sqlite

import (
	"context"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/registry"
)

// TestFundersMigration upgrades a store migrated before 0028, holding an
// operator and its terminal: both are there after it (the tables rebuilt
// to take the funder type), a funder party can be added, and a terminal
// of no registered operator is still refused (the foreign key carried
// over).
func TestFundersMigration(t *testing.T) {
	ctx := context.Background()
	path, raw := migratedBefore(t, 28)
	for _, q := range []string{
		`INSERT INTO parties VALUES ('nb-bus', 'operator', '3150FF0000000010', 'bus', 'Bus', 0, 'bank 1', 1, 1)`,
		`INSERT INTO terminals VALUES ('315001000001', '31500000000000000001', 'nb-bus', 'bus_validator', 1, 2, 'B1', 'active', '', 1, 1)`,
	} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	bureau := registry.Party{ID: "nb-transport", Type: registry.PartyFunder, Code: citycard.IssuerCode{0x31, 0x50, 0xFB, 0, 0, 0, 0, 1}, Name: "Transport bureau", SettlementAccount: "bank 2"}
	upgradedRegistry(t, path, raw, bureau)
}

// upgradedRegistry opens the store at path (raw closed first), migrated
// before a migration that rebuilt the parties and terminals: the
// operator nb-bus and its terminal 315001000001 (B1) are there after the
// upgrade, a party of the new type (p) is added and read back, and a
// terminal of no registered operator is still refused (the foreign key
// carried over). It returns the store, open.
func upgradedRegistry(t *testing.T, path string, raw interface{ Close() error }, p registry.Party) *DB {
	t.Helper()
	ctx := context.Background()
	db := upgraded(t, path, raw)
	reg := db.Registry()
	if p, err := reg.Party(ctx, "nb-bus"); err != nil || p.Type != registry.PartyOperator || p.SettlementAccount != "bank 1" {
		t.Fatalf("the operator after the upgrade: %+v %v", p, err)
	}
	tid := citycard.TerminalID{0x31, 0x50, 0x01, 0, 0, 1}
	if tm, err := reg.Terminal(ctx, tid); err != nil || tm.Operator != "nb-bus" || tm.Vehicle != "B1" {
		t.Fatalf("the terminal after the upgrade: %+v %v", tm, err)
	}
	if err := reg.CreateParty(ctx, &p); err != nil {
		t.Fatalf("a %v: %v", p.Type, err)
	}
	if got, err := reg.Party(ctx, p.ID); err != nil || got.Type != p.Type {
		t.Fatalf("the %v read back: %+v %v", p.Type, got, err)
	}
	if err := db.Exec(ctx, `INSERT INTO terminals VALUES ('315001000002', '31500000000000000002', 'nobody', 'bus_validator', 1, 2, 'B2', 'active', '', 1, 1)`); err == nil {
		t.Errorf("a terminal of no registered operator: stored, want the foreign key to refuse it")
	}
	return db
}
