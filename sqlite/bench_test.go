package sqlite

import (
	"testing"

	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/storetest"
)

// BenchmarkPostBatch is storetest.BenchPostBatch on a file in WAL mode with synchronous=FULL.
func BenchmarkPostBatch(b *testing.B) {
	storetest.BenchPostBatch(b, func(b *testing.B) ledger.Store { return openTemp(b).Ledger() })
}

// BenchmarkCMSLoad is storetest.BenchCMSLoad: Manager.Load one after
// another, each its own transaction.
func BenchmarkCMSLoad(b *testing.B) {
	storetest.BenchCMSLoad(b, func(b *testing.B) cms.Store { return openTemp(b).CMS() })
}

// BenchmarkCommitBatch is storetest.BenchCommitBatch: the load host's
// group commits, each one transaction.
func BenchmarkCommitBatch(b *testing.B) {
	storetest.BenchCommitBatch(b, func(b *testing.B) cms.Store { return openTemp(b).CMS() })
}
