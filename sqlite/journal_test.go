package sqlite

import (
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
			Exec:      execIn(db),
		}
	})
}
