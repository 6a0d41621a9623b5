package sqlite

import (
	"context"
	"database/sql"
	"testing"

	"github.com/citycard/citycard/storetest"
)

func TestJournal(t *testing.T) {
	storetest.RunJournal(t, func(t *testing.T) storetest.JournalStores {
		db := openTemp(t)
		return storetest.JournalStores{
			Journal:   db.Journal(),
			Ledger:    db.Ledger(),
			Blacklist: db.Blacklist(),
			Exec: func(ctx context.Context, stmts ...string) error {
				return mapErr("test.Exec", db.write(ctx, func(tx *sql.Tx) error {
					for _, s := range stmts {
						if _, err := tx.ExecContext(ctx, s); err != nil {
							return err
						}
					}
					return nil
				}))
			},
		}
	})
}
