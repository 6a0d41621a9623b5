package sqlite

import (
	"testing"

	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/storetest"
)

// BenchmarkPostBatch is storetest.BenchPostBatch on a file in WAL mode with synchronous=FULL.
func BenchmarkPostBatch(b *testing.B) {
	storetest.BenchPostBatch(b, func(b *testing.B) ledger.Store { return openTemp(b).Ledger() })
}
