package postgres

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

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
				return mapErr("test.Exec", pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
					for _, s := range stmts {
						if _, err := tx.Exec(ctx, s); err != nil {
							return err
						}
					}
					return nil
				}))
			},
		}
	})
}
