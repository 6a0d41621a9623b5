// Package storetest is the storage test suite every store runs: the same
// tests, against a real database, for SQLite and PostgreSQL alike, so that
// the two stores behave the same by test and not by hope.
//
// A store's test calls Run with a function that opens fresh, empty stores
// for one test (a new SQLite file in t.TempDir, a new PostgreSQL schema
// dropped at cleanup), so tests run in parallel and repeatedly. The suite
// reaches under the stores only through Stores.Exec and Stores.Unguard,
// to play someone who edits the database behind the platform's back, and
// Stores.Close, to play a database that has gone away.
package storetest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/registry"
)

// Stores is what one test gets: empty stores over one fresh database.
type Stores struct {
	Registry registry.Store
	Ledger   ledger.Store
	CMS      cms.Store
	Staff    cms.StaffStore
	// Exec runs statements (plain SQL that both engines accept, no
	// arguments) in one transaction, bypassing the stores.
	Exec func(ctx context.Context, stmts ...string) error
	// Unguard drops the triggers that keep entries, postings and card
	// management's audit log append-only, as someone with write access to
	// the database could.
	Unguard func(ctx context.Context) error
	// Close closes the database under the stores, as a store that has
	// gone away; the test's cleanup must tolerate it.
	Close func() error
}

// Run runs the suite, each test in parallel on the Stores open returns.
// open registers its own cleanup (t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) Stores) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s Stores)
	}{
		{"Parties", testParties},
		{"Terminals", testTerminals},
		{"Credentials", testCredentials},
		{"RegistryWords", testRegistryWords},
		{"RegistryTransient", testRegistryTransient},
		{"PostAndRead", testPostAndRead},
		{"Idempotency", testIdempotency},
		{"BatchAtomic", testBatchAtomic},
		{"Reverse", testReverse},
		{"Unbalanced", testUnbalanced},
		{"AppendOnly", testAppendOnly},
		{"VerifyTamper", testVerifyTamper},
		{"Scan", testScan},
		{"Concurrent", testConcurrent},
		{"CMSHolders", testCMSHolders},
		{"CMSCards", testCMSCards},
		{"CMSAudit", testCMSAudit},
		{"CMSConcurrent", testCMSConcurrent},
		{"CMSMoney", testCMSMoney},
		{"CMSConcurrentLoads", testCMSConcurrentLoads},
		{"CMSReview", testCMSReview},
		{"CMSExpireDue", testCMSExpireDue},
		{"Staff", testStaff},
		{"StaffApprovals", testStaffApprovals},
		{"SelfService", testSelfService},
		{"CMSLoads", testCMSLoads},
		{"CMSBatchLedger", testCMSBatchLedger},
		{"CMSTopUps", testCMSTopUps},
		{"CMSAdjust", testCMSAdjust},
		{"CMSTopUpRace", testCMSTopUpRace},
		{"CMSFlowIssuers", testCMSFlowIssuers},
		{"CMSTopUpsFollow", testCMSTopUpsFollow},
		{"CMSTopUpsFollowRetried", testCMSTopUpsFollowRetried},
		{"CMSTopUpLateTAC", testCMSTopUpLateTAC},
		{"CMSLoadReversal", testCMSLoadReversal},
		{"StaffLoginFailures", testStaffLoginFailures},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// clock returns a clock that starts at a fixed instant and moves one
// millisecond and a few nanoseconds per reading, so every stored time has
// nanoseconds to lose if a store rounds them.
func clock() func() time.Time {
	start := time.Date(2025, 3, 1, 8, 30, 0, 123456789, time.UTC)
	var n atomic.Int64
	return func() time.Time {
		return start.Add(time.Duration(n.Add(1)) * (time.Millisecond + 7))
	}
}
