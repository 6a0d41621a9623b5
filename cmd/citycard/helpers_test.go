package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"path/filepath"
	"testing"
	"time"

	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/registry"
	"github.com/citycard/citycard/sim"
)

// backOfficeFiles is what serve needs on disk: a key store file under a
// new KEK, and a store (db) whose registry holds our issuer.
type backOfficeFiles struct {
	dir, db, store string
	kek            []byte
	ks             *keys.FileStore
}

// env is the environment that gives serve the KEK.
func (b *backOfficeFiles) env() []string { return []string{envKEK + "=" + hex.EncodeToString(b.kek)} }

// newBackOfficeFiles makes them in a temporary directory, on db (empty: a
// SQLite file there).
func newBackOfficeFiles(t *testing.T, db string) *backOfficeFiles {
	t.Helper()
	b := &backOfficeFiles{dir: t.TempDir(), db: db, kek: make([]byte, 32)}
	if b.db == "" {
		b.db = "sqlite:" + filepath.Join(b.dir, "bo.db")
	}
	b.store = filepath.Join(b.dir, "keys.json")
	crand.Read(b.kek)
	var err error
	if b.ks, err = keys.CreateFileStore(b.store, b.kek, time.Now); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := openStores(ctx, b.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	if _, err := registry.New(st.registry, time.Now).AddParty(ctx, registry.Party{ID: sim.Issuer.String(), Type: registry.PartyIssuer, Code: sim.Issuer, Name: "ours", Own: true, SettlementAccount: "x"}); err != nil {
		t.Fatal(err)
	}
	return b
}
