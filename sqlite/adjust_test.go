package sqlite

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/citycard/citycard/cms"
)

// TestAdjustmentsMigration upgrades a store migrated before 0033 that
// holds a remote top-up: it is there after the rebuild of cms_topups,
// whose payer type then takes the adjustment account's (6), whose
// triggers still refuse a delete and a second settlement, and whose
// foreign key to its operation carried over.
func TestAdjustmentsMigration(t *testing.T) {
	ctx := context.Background()
	path, raw := migratedBefore(t, 33)
	row := func(id, key string, payer int) string {
		return `INSERT INTO cms_topups VALUES ('` + id + `', '` + key + `', '31500001FFFFFFFF', '31500000000000000001', 500, ` +
			strconv.Itoa(payer) + `, 'alipay', 'ref-1', 'ann', 'p', 1, 2, 'pending', 0)`
	}
	for _, q := range []string{
		`INSERT INTO cms_operations (key, input_hash, at_ns) VALUES ('web-1', '` + strings.Repeat("0", 64) + `', 1)`,
		`INSERT INTO cms_operations (key, input_hash, at_ns) VALUES ('adj-1', '` + strings.Repeat("1", 64) + `', 1)`,
		row("00000000000000A1", "web-1", 3),
	} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := raw.ExecContext(ctx, row("00000000000000A2", "adj-1", 6)); err == nil {
		t.Fatal("an adjustment's top-up before 0033: stored, want the CHECK to refuse it")
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tu, err := db.TopUps().TopUp(ctx, "00000000000000A1")
	if err != nil || tu.Payer.Type != cms.ThirdParty || tu.AmountFen != 500 || tu.State != cms.TopUpPending {
		t.Fatalf("the top-up after the upgrade: %+v %v", tu, err)
	}
	for _, q := range []string{
		row("00000000000000A2", "adj-1", 6),
		`UPDATE cms_topups SET state = 'refunded', settled_ns = 3 WHERE id = '00000000000000A1'`,
	} {
		if err := db.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, q := range []string{
		`UPDATE cms_topups SET state = 'expired' WHERE id = '00000000000000A1'`,
		`DELETE FROM cms_topups WHERE id = '00000000000000A2'`,
		row("00000000000000A3", "no-such-op", 6),
		row("00000000000000A4", "adj-1", 5),
	} {
		if err := db.Exec(ctx, q); err == nil {
			t.Errorf("%s: %v, want it refused", q, err)
		}
	}
	if tu, err := db.TopUps().TopUp(ctx, "00000000000000A2"); err != nil || tu.Payer.Type != cms.AdjustmentPay {
		t.Errorf("the adjustment's top-up: %+v %v", tu, err)
	}
}
