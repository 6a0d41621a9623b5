package sqlite

import (
	"context"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/registry"
)

// TestPayersMigration upgrades a store migrated before 0036, holding a
// funder, an operator and its terminal: all are there after it (the
// tables rebuilt to take the payer type), a payer can be added, and a
// terminal of no registered operator is still refused (the foreign key
// carried over).
func TestPayersMigration(t *testing.T) {
	ctx := context.Background()
	path, raw := migratedBefore(t, 36)
	for _, q := range []string{
		`INSERT INTO parties VALUES ('nb-bus', 'operator', '3150FF0000000010', 'bus', 'Bus', 0, 'bank 1', 1, 1)`,
		`INSERT INTO parties VALUES ('nb-transport', 'funder', '3150FB0000000001', 'none', 'Bureau', 0, 'bank 2', 1, 1)`,
		`INSERT INTO terminals VALUES ('315001000001', '31500000000000000001', 'nb-bus', 'bus_validator', 1, 2, 'B1', 'active', '', 1, 1)`,
	} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := raw.ExecContext(ctx, `INSERT INTO parties VALUES ('alipay', 'payer', '3150FA0000000001', 'none', 'Alipay', 0, 'bank 3', 1, 1)`); err == nil {
		t.Fatal("a payer before 0036: stored, want the CHECK to refuse it")
	}
	payer := registry.Party{ID: "alipay", Type: registry.PartyPayer, Code: citycard.IssuerCode{0x31, 0x50, 0xFA, 0, 0, 0, 0, 1}, Name: "Alipay", SettlementAccount: "bank 3"}
	db := upgradedRegistry(t, path, raw, payer)
	if p, err := db.Registry().Party(ctx, "nb-transport"); err != nil || p.Type != registry.PartyFunder || p.SettlementAccount != "bank 2" {
		t.Fatalf("the funder after the upgrade: %+v %v", p, err)
	}
}
