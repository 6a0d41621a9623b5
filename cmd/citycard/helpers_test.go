package main

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"path/filepath"
	"strings"
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

// testPassword is the password of the staff tests add.
const testPassword = "correct horse battery"

// mustCLI runs the binary's code with args and the environment env
// ("K=V"), and returns its stdout; a failure ends the test.
func mustCLI(t *testing.T, env []string, args ...string) string {
	t.Helper()
	out, errOut, err := tryCLI(env, args...)
	if err != nil {
		t.Fatalf("citycard %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// tryCLI runs the binary's code and returns its stdout, stderr and error.
func tryCLI(env []string, args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	getenv := func(k string) string {
		for _, kv := range env {
			if key, v, ok := strings.Cut(kv, "="); ok && key == k {
				return v
			}
		}
		return ""
	}
	err := run(context.Background(), args, getenv, &out, &errOut)
	return out.String(), errOut.String(), err
}

// addStaff adds an account on b's store (the bootstrap), with
// testPassword.
func (b *backOfficeFiles) addStaff(t *testing.T, name, role string) {
	t.Helper()
	mustCLI(t, []string{envPassword + "=" + testPassword}, "staff", "add", "--db", b.db, "--name", name, "--role", role, "--point", "nb-counter-01")
}

// staffLoginCLI logs name in at the API on addr and returns the session
// token, the last line of staff login's output.
func staffLoginCLI(t *testing.T, addr, name string) string {
	t.Helper()
	out := mustCLI(t, []string{envPassword + "=" + testPassword}, "staff", "login", "--server", "http://"+addr, "--name", name)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}
