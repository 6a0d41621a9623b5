package postgres

import (
	"testing"

	"github.com/citycard/citycard/recon"
	"github.com/citycard/citycard/storetest"
)

func TestReconStore(t *testing.T) {
	storetest.RunRecon(t, func(t *testing.T) storetest.ReconStores {
		db := openTemp(t)
		return storetest.ReconStores{Recon: db.Recon(), CMS: db.CMS(), Exec: execIn(db)}
	})
}

// BenchmarkReconImport is storetest.BenchReconImport.
func BenchmarkReconImport(b *testing.B) {
	storetest.BenchReconImport(b, func(b *testing.B) recon.Store { return openTemp(b).Recon() })
}
