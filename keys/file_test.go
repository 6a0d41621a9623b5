package keys_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
)

var testKEK = bytes.Repeat([]byte{0x4B}, keys.KEKLen)

// clock is an injected clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestStore(t *testing.T) (*keys.FileStore, string, *clock) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys.json")
	clk := &clock{t: testNow}
	s, err := keys.CreateFileStore(path, testKEK, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	return s, path, clk
}

func newKey(t testing.TB, typ keys.KeyType, alg keys.Alg, hexKey string) keys.NewKey {
	t.Helper()
	return keys.NewKey{
		Issuer: testIssuer, Type: typ, Alg: alg, Key: unhex(t, hexKey),
		Origin: "components 2 of 2", Audit: keys.Audit{By: "operator", Custodians: []string{"alice", "bob"}},
	}
}

// sameKey checks that the store holds want as ref's material, through
// what the store gives out: the child keys it derives, compared with those
// of want.
func sameKey(t testing.TB, s keys.Store, ref keys.Ref, alg keys.Alg, want []byte) {
	t.Helper()
	id := []byte{0x31, 0x01, 0, 0, 0x12, 0x34, 0x56, 0x78}
	var got [keys.KeyLen]byte
	if _, err := s.DeriveInto(&got, ref, id); err != nil {
		t.Fatal(err)
	}
	child, err := keys.Diversify(alg, want, id)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:], child) {
		t.Errorf("%v derives %X, the key %X derives %X", ref, got, want, child)
	}
}

const (
	keyA = "0123456789abcdeffedcba9876543210"
	keyB = "00112233445566778899aabbccddeeff"
	keyC = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
)

func TestFileStoreRoundTrip(t *testing.T) {
	s, path, clk := newTestStore(t)
	infos, err := s.Add(
		newKey(t, keys.KeyPurchase, keys.Alg3DES, keyA),
		newKey(t, keys.KeyTAC, keys.AlgSM4, keyB),
	)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 || infos[0].Version != 1 || !infos[0].Active || infos[1].Alg != keys.AlgSM4 {
		t.Fatalf("Add = %+v", infos)
	}
	if infos[0].KCV != kcv3(t, "08d7b4") { // openssl, crypto.json
		t.Errorf("KCV = %X, want 08D7B4", infos[0].KCV)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("store file mode %v, want 0600", fi.Mode().Perm())
	}

	// The file holds no key in clear, in any spelling.
	raw, _ := os.ReadFile(path)
	for _, k := range []string{keyA, keyB} {
		b := unhex(t, k)
		for _, spelt := range []string{k, strings.ToUpper(k), base64.StdEncoding.EncodeToString(b), string(b)} {
			if bytes.Contains(raw, []byte(spelt)) {
				t.Errorf("store file holds key %s in clear (%q)", k, spelt)
			}
		}
	}

	// Rotation: v2 of purchase; v1 stays and keeps deriving the same keys.
	asn := unhex(t, "3101000012345678")
	ref1 := keys.Ref{Issuer: testIssuer, Type: keys.KeyPurchase, Version: 1}
	var before [keys.KeyLen]byte
	if _, err := s.DeriveInto(&before, ref1, asn); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Hour)
	rot, err := s.Add(newKey(t, keys.KeyPurchase, keys.Alg3DES, keyC))
	if err != nil {
		t.Fatal(err)
	}
	if rot[0].Version != 2 || !rot[0].Active {
		t.Errorf("rotation gave %v active=%v, want v2 active", rot[0].Ref, rot[0].Active)
	}

	// Reopen: everything is back, from the file alone.
	s2, err := keys.OpenFileStore(path, testKEK, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := s2.List()
	if len(list) != 3 {
		t.Fatalf("reopened store lists %d keys, want 3", len(list))
	}
	act, err := s2.Active(testIssuer, keys.KeyPurchase)
	if err != nil || act.Version != 2 || !act.Created.Equal(testNow.Add(time.Hour)) {
		t.Errorf("Active(purchase) = %+v, %v; want v2 created an hour later", act, err)
	}
	old, err := s2.Info(ref1)
	if err != nil || old.Active || old.Origin != "components 2 of 2" || !old.Created.Equal(testNow) {
		t.Errorf("Info(v1) = %+v, %v", old, err)
	}
	var after [keys.KeyLen]byte
	if _, err := s2.DeriveInto(&after, ref1, asn); err != nil || after != before {
		t.Errorf("v1 after rotation derives %X, %v; before %X", after, err, before)
	}
	sameKey(t, s2, ref1, keys.Alg3DES, unhex(t, keyA))
	if s2.Path() != path {
		t.Errorf("Path = %q", s2.Path())
	}

	// The event log: who and when, never material.
	evs := s2.Events()
	if len(evs) != 3 {
		t.Fatalf("%d events, want 3", len(evs))
	}
	if evs[0].Kind != keys.EventCreated || evs[2].Kind != keys.EventRotated || evs[2].Ref.Version != 2 ||
		evs[2].By != "operator" || len(evs[2].Custodians) != 2 || evs[2].Custodians[1] != "bob" || evs[1].Seq != 2 ||
		evs[2].KCV != rot[0].KCV || !evs[2].Time.Equal(testNow.Add(time.Hour)) {
		t.Errorf("events = %+v", evs)
	}
	evs[0].Custodians[0] = "mallory"
	if s2.Events()[0].Custodians[0] != "alice" {
		t.Error("Events returned the store's own slices")
	}
}

func TestFileStoreWrongKEK(t *testing.T) {
	_, path, _ := newTestStore(t) // empty: the wrong KEK is caught anyway
	wrong := bytes.Repeat([]byte{0x4C}, keys.KEKLen)
	_, err := keys.OpenFileStore(path, wrong, nil)
	if !citycard.IsKind(err, citycard.Crypto) || !strings.Contains(err.Error(), "KEK does not open this store") {
		t.Errorf("open with the wrong KEK: err = %v, want kind Crypto saying the KEK does not open this store", err)
	}
	if _, err := keys.OpenFileStore(path, testKEK[:16], nil); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("open with a 16-byte KEK: err = %v, want kind Invalid", err)
	}
	if _, err := keys.OpenFileStore(filepath.Join(t.TempDir(), "none.json"), testKEK, nil); !citycard.IsKind(err, citycard.NotFound) {
		t.Errorf("open of a missing file: err = %v, want kind NotFound", err)
	}
	if _, err := keys.CreateFileStore(path, testKEK, nil); !citycard.IsKind(err, citycard.Exists) {
		t.Errorf("create over an existing store: err = %v, want kind Exists", err)
	}
}

// TestFileStoreTamper alters the file in each way an attacker without the
// KEK could and expects the store to refuse to open.
func TestFileStoreTamper(t *testing.T) {
	s, path, clk := newTestStore(t)
	if _, err := s.Add(newKey(t, keys.KeyPurchase, keys.Alg3DES, keyA), newKey(t, keys.KeyLoad, keys.Alg3DES, keyB)); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Minute)
	if _, err := s.Add(newKey(t, keys.KeyPurchase, keys.Alg3DES, keyC)); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type doc = map[string]any
	edit := func(f func(d doc)) []byte {
		var d doc
		if err := json.Unmarshal(good, &d); err != nil {
			t.Fatal(err)
		}
		f(d)
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	item := func(d doc, list string, i int) map[string]any { return d[list].([]any)[i].(map[string]any) }
	sealedOf := func(d doc, i int) []byte {
		b, _ := base64.StdEncoding.DecodeString(item(d, "keys", i)["sealed"].(string))
		return b
	}

	for _, tc := range []struct {
		name string
		data []byte
		kind citycard.Kind
	}{
		{"sealed key bit flipped", edit(func(d doc) {
			b := sealedOf(d, 0)
			b[20] ^= 1
			item(d, "keys", 0)["sealed"] = base64.StdEncoding.EncodeToString(b)
		}), citycard.Crypto},
		{"sealed keys swapped", edit(func(d doc) {
			a, b := item(d, "keys", 0), item(d, "keys", 1)
			a["sealed"], b["sealed"] = b["sealed"], a["sealed"]
		}), citycard.Crypto},
		{"KCV edited", edit(func(d doc) { item(d, "keys", 0)["kcv"] = "000000" }), citycard.Crypto},
		{"KCV edited in key and event", edit(func(d doc) {
			item(d, "keys", 0)["kcv"] = "000000"
			item(d, "events", 0)["kcv"] = "000000"
		}), citycard.Crypto},
		{"origin edited", edit(func(d doc) { item(d, "keys", 1)["origin"] = "generated" }), citycard.Crypto},
		{"operator edited", edit(func(d doc) { item(d, "events", 1)["by"] = "mallory" }), citycard.Crypto},
		{"custodian dropped", edit(func(d doc) { item(d, "events", 0)["custodians"] = []any{"alice"} }), citycard.Crypto},
		{"last event dropped", edit(func(d doc) {
			d["events"] = d["events"].([]any)[:2]
		}), citycard.Crypto},
		{"key dropped", edit(func(d doc) { d["keys"] = d["keys"].([]any)[:2] }), citycard.Crypto},
		{"events reordered", edit(func(d doc) {
			e := d["events"].([]any)
			e[0], e[1] = e[1], e[0]
		}), citycard.Crypto},
		{"head replaced", edit(func(d doc) { d["head"] = base64.StdEncoding.EncodeToString(make([]byte, 60)) }), citycard.Crypto},
		{"unknown field", edit(func(d doc) { d["plain"] = "x" }), citycard.Invalid},
		{"other format", edit(func(d doc) { d["format"] = "citycard-keys/0" }), citycard.Invalid},
		{"not JSON", []byte("{"), citycard.Invalid},
	} {
		p := filepath.Join(t.TempDir(), "keys.json")
		if err := os.WriteFile(p, tc.data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := keys.OpenFileStore(p, testKEK, nil)
		if !citycard.IsKind(err, tc.kind) {
			t.Errorf("%s: err = %v (kind %v), want kind %v", tc.name, err, citycard.KindOf(err), tc.kind)
		}
	}
	// The untouched file still opens.
	if _, err := keys.OpenFileStore(path, testKEK, nil); err != nil {
		t.Fatalf("untouched store: %v", err)
	}
}

func TestFileStoreAddRefused(t *testing.T) {
	s, path, _ := newTestStore(t)
	before, _ := os.ReadFile(path)
	for _, tc := range []struct {
		name string
		nk   keys.NewKey
	}{
		{"zero key", newKey(t, keys.KeyLoad, keys.Alg3DES, "00000000000000000000000000000000")},
		{"single DES", newKey(t, keys.KeyLoad, keys.Alg3DES, "0123456789abcdef0123456789abcdef")},
		{"short key", newKey(t, keys.KeyLoad, keys.Alg3DES, "0123456789abcdef")},
		{"unknown type", newKey(t, keys.KeyType(42), keys.Alg3DES, keyA)},
		{"unknown alg", newKey(t, keys.KeyLoad, keys.Alg(9), keyA)},
		{"custodian is a key", func() keys.NewKey {
			nk := newKey(t, keys.KeyLoad, keys.AlgSM4, keyA)
			nk.Audit.Custodians = []string{"alice", keyB}
			return nk
		}()},
		{"empty custodian", func() keys.NewKey {
			nk := newKey(t, keys.KeyLoad, keys.AlgSM4, keyA)
			nk.Audit.Custodians = []string{""}
			return nk
		}()},
		{"control character", func() keys.NewKey {
			nk := newKey(t, keys.KeyLoad, keys.AlgSM4, keyA)
			nk.Audit.By = "bob\n"
			return nk
		}()},
	} {
		// Valid keys first in the batch: the batch is all or nothing.
		_, err := s.Add(newKey(t, keys.KeyPurchase, keys.Alg3DES, keyA), tc.nk)
		if !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("%s: err = %v, want kind Invalid", tc.name, err)
		}
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("refused batches changed the file")
	}
	if l, _ := s.List(); len(l) != 0 {
		t.Errorf("refused batches left %d keys in memory", len(l))
	}
	if infos, err := s.Add(); !citycard.IsKind(err, citycard.Invalid) || infos != nil {
		t.Errorf("Add() = %v, %v; want kind Invalid", infos, err)
	}
}

func TestFileStoreVersionsExhausted(t *testing.T) {
	s, _, _ := newTestStore(t)
	batch := make([]keys.NewKey, 255)
	for i := range batch {
		k := make([]byte, 16)
		k[0], k[15] = byte(i), 1
		batch[i] = keys.NewKey{Issuer: testIssuer, Type: keys.KeyRecord, Alg: keys.AlgSM4, Key: k, Origin: "generated"}
	}
	infos, err := s.Add(batch...)
	if err != nil {
		t.Fatal(err)
	}
	if infos[254].Version != 255 || !infos[254].Active {
		t.Fatalf("last = %v", infos[254].Ref)
	}
	_, err = s.Add(newKey(t, keys.KeyRecord, keys.AlgSM4, keyA))
	if !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("256th version: err = %v, want kind Conflict", err)
	}
}

// TestFileStoreTwoWriters: a second writer never overwrites the first's
// keys; it stops with kind Conflict and the caller opens the store again.
func TestFileStoreTwoWriters(t *testing.T) {
	s1, path, _ := newTestStore(t)
	s2, err := keys.OpenFileStore(path, testKEK, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s1.Add(newKey(t, keys.KeyPurchase, keys.Alg3DES, keyA)); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Add(newKey(t, keys.KeyLoad, keys.Alg3DES, keyB)); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("stale writer: err = %v, want kind Conflict", err)
	}
	// A writer holding the lock keeps others out.
	unlock, err := keys.LockStoreFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s1.Add(newKey(t, keys.KeyLoad, keys.Alg3DES, keyB))
	if !citycard.IsKind(err, citycard.Conflict) || !strings.Contains(err.Error(), ".lock") {
		t.Errorf("locked store: err = %v, want kind Conflict naming the lock", err)
	}
	unlock()
	if _, err := s1.Add(newKey(t, keys.KeyLoad, keys.Alg3DES, keyB)); err != nil {
		t.Fatal(err)
	}
	// No temporary or lock file is left behind.
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want the store alone", names)
	}
	s3, err := keys.OpenFileStore(path, testKEK, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := s3.List(); len(l) != 2 {
		t.Errorf("store holds %d keys, want 2", len(l))
	}
}

func TestKEK(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "kek")
	kek, err := keys.NewKEKFile(p)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("KEK file mode %v, want 0600", fi.Mode().Perm())
	}
	back, err := keys.ReadKEKFile(p)
	if err != nil || !bytes.Equal(back, kek) || len(kek) != keys.KEKLen {
		t.Errorf("ReadKEKFile = %X, %v; want %X", back, err, kek)
	}
	if _, err := keys.NewKEKFile(p); !citycard.IsKind(err, citycard.Exists) {
		t.Errorf("NewKEKFile over an existing file: err = %v, want kind Exists", err)
	}
	if again, _ := keys.ReadKEKFile(p); !bytes.Equal(again, kek) {
		t.Error("NewKEKFile overwrote an existing KEK")
	}

	good := hex.EncodeToString(testKEK)
	if k, err := keys.ParseKEK("  " + strings.ToUpper(good) + "\n"); err != nil || !bytes.Equal(k, testKEK) {
		t.Errorf("ParseKEK with spaces = %X, %v", k, err)
	}
	secret := "g" + good[1:]
	for _, bad := range []string{"", good[:62], good + "00", secret, strings.Repeat("0", 64)} {
		_, err := keys.ParseKEK(bad)
		if !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("ParseKEK(%q): err = %v, want kind Invalid", bad, err)
		}
		if bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("ParseKEK error repeats the key: %v", err)
		}
	}
	if _, err := keys.ReadKEKFile(filepath.Join(dir, "none")); !citycard.IsKind(err, citycard.IO) {
		t.Errorf("ReadKEKFile of a missing file: err = %v, want kind IO", err)
	}
	long := filepath.Join(dir, "long")
	os.WriteFile(long, bytes.Repeat([]byte("a"), 1000), 0o600)
	if _, err := keys.ReadKEKFile(long); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("ReadKEKFile of 1000 bytes: err = %v, want kind Invalid", err)
	}
}

func TestParseRef(t *testing.T) {
	ref := keys.Ref{Issuer: testIssuer, Type: keys.KeyMaintenance, Version: 12}
	got, err := keys.ParseRef(ref.String())
	if err != nil || got != ref {
		t.Errorf("ParseRef(%q) = %v, %v", ref.String(), got, err)
	}
	for _, bad := range []string{"", "3101000000000001/purchase", "3101000000000001/purchase/1",
		"3101000000000001/purchase/v0", "3101000000000001/purchase/v256", "31010000/purchase/v1",
		"3101000000000001/coffee/v1", "3101000000000001/purchase/v1/x"} {
		if _, err := keys.ParseRef(bad); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("ParseRef(%q): err = %v, want kind Invalid", bad, err)
		}
	}
}

// FuzzOpenFileStore feeds arbitrary files to the store's decoder: it must
// refuse them with a kind, never panic, and never open a file it did not
// write under this KEK.
func FuzzOpenFileStore(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "seed.json")
	s, err := keys.CreateFileStore(path, testKEK, func() time.Time { return testNow })
	if err != nil {
		f.Fatal(err)
	}
	if _, err := s.Add(newKey(f, keys.KeyPurchase, keys.Alg3DES, keyA), newKey(f, keys.KeyTAC, keys.AlgSM4, keyB),
		newKey(f, keys.KeyTransport, keys.Alg3DES, keyC)); err != nil {
		f.Fatal(err)
	}
	// An export, so that the seed holds every kind of event.
	if err := s.SetOperator("ann"); err != nil {
		f.Fatal(err)
	}
	if _, err := s.Wrap(keys.Ref{Issuer: testIssuer, Type: keys.KeyPurchase, Version: 1},
		keys.Ref{Issuer: testIssuer, Type: keys.KeyTransport, Version: 1}, []byte{0x31, 0x50, 0, 0, 0, 0, 1, 0, 0, 1}); err != nil {
		f.Fatal(err)
	}
	seed, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"format":"citycard-keys/1","head":"","keys":[],"events":[]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "keys.json")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := keys.OpenFileStore(p, testKEK, nil)
		if err != nil {
			switch citycard.KindOf(err) {
			case citycard.Invalid, citycard.Crypto:
			default:
				t.Fatalf("err = %v, kind %v; want Invalid or Crypto", err, citycard.KindOf(err))
			}
			return
		}
		// It opened: then it is the seed, bar JSON white space and the
		// like, and holds exactly the seed's keys.
		list, _ := s.List()
		if len(list) != 3 || list[0].KCV != kcv3(t, "08d7b4") || len(s.Events()) != 4 {
			t.Fatalf("opened a store with keys %+v and %d events", list, len(s.Events()))
		}
	})
}

func FuzzParseRef(f *testing.F) {
	f.Add("3101000000000001/purchase/v1")
	f.Add("3101000000000001/dtk/v255")
	f.Add("////")
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := keys.ParseRef(s)
		if err != nil {
			if !citycard.IsKind(err, citycard.Invalid) {
				t.Fatalf("ParseRef(%q): err kind %v", s, citycard.KindOf(err))
			}
			return
		}
		back, err := keys.ParseRef(ref.String())
		if err != nil || back != ref {
			t.Fatalf("ParseRef(%q) = %v, which does not round-trip: %v, %v", s, ref, back, err)
		}
	})
}

// TestFileStoreStaleLock: a writer that dies while it saves (kill -9, a
// power cut, a panic in another goroutine) leaves its lock file behind;
// the lock must die with it, so that the next writer is not locked out
// until someone removes the file by hand.
func TestFileStoreStaleLock(t *testing.T) {
	s, path, _ := newTestStore(t)
	// What the dead writer left: the lock file, with its pid, and no one
	// holding it.
	writeFile(t, path+".lock", []byte("pid 999999\n"))
	if _, err := s.Add(newKey(t, keys.KeyPurchase, keys.Alg3DES, keyA)); err != nil {
		t.Fatalf("Add after a writer died holding the lock: %v", err)
	}
	if _, err := os.Stat(path + ".lock"); !os.IsNotExist(err) {
		t.Errorf("lock file after the save: %v, want none", err)
	}
	s2, err := keys.OpenFileStore(path, testKEK, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Add(newKey(t, keys.KeyLoad, keys.Alg3DES, keyB)); err != nil {
		t.Errorf("a second store's Add: %v", err)
	}
}

// TestFileStoreFailedSaveUnlocks: a save that fails, on each of its error
// paths, leaves no lock (nor lock file) behind: a second store opens and
// writes.
func TestFileStoreFailedSaveUnlocks(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func(t *testing.T, s *keys.FileStore, path string) error
		kind citycard.Kind
	}{
		{"create over an existing store", func(t *testing.T, s *keys.FileStore, path string) error {
			_, err := keys.CreateFileStore(path, testKEK, nil)
			return err
		}, citycard.Exists},
		{"the file changed since it was opened", func(t *testing.T, s *keys.FileStore, path string) error {
			other, err := keys.OpenFileStore(path, testKEK, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := other.Add(newKey(t, keys.KeyTAC, keys.Alg3DES, keyC)); err != nil {
				t.Fatal(err)
			}
			_, err = s.Add(newKey(t, keys.KeyLoad, keys.Alg3DES, keyB))
			return err
		}, citycard.Conflict},
		{"the file was removed", func(t *testing.T, s *keys.FileStore, path string) error {
			raw := readFile(t, path)
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			_, err := s.Add(newKey(t, keys.KeyLoad, keys.Alg3DES, keyB))
			writeFile(t, path, raw)
			return err
		}, citycard.Conflict},
		{"an export the log has no room for", func(t *testing.T, s *keys.FileStore, path string) error {
			if _, err := s.Add(newKey(t, keys.KeyTransport, keys.Alg3DES, keyC)); err != nil {
				t.Fatal(err)
			}
			if err := s.SetOperator("ann"); err != nil {
				t.Fatal(err)
			}
			keys.SetExportBytesMax(s, len(readFile(t, path)))
			_, err := s.Wrap(keys.Ref{Issuer: testIssuer, Type: keys.KeyPurchase, Version: 1},
				keys.Ref{Issuer: testIssuer, Type: keys.KeyTransport, Version: 1}, []byte{1, 2, 3, 4, 5, 6, 7, 8})
			return err
		}, citycard.Conflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, path, _ := newTestStore(t)
			if _, err := s.Add(newKey(t, keys.KeyPurchase, keys.Alg3DES, keyA)); err != nil {
				t.Fatal(err)
			}
			if err := tc.fail(t, s, path); !citycard.IsKind(err, tc.kind) {
				t.Fatalf("err = %v, want kind %v", err, tc.kind)
			}
			if _, err := os.Stat(path + ".lock"); !os.IsNotExist(err) {
				t.Errorf("lock file after the failed save: %v, want none", err)
			}
			s2, err := keys.OpenFileStore(path, testKEK, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s2.Add(newKey(t, keys.KeyMaintenance, keys.Alg3DES, keyB)); err != nil {
				t.Errorf("a second store's Add after the failed save: %v", err)
			}
		})
	}
}
