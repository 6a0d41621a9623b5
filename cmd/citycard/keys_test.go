package main

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
)

// keysCLI runs the binary's code in a temporary directory with a fixed
// environment.
type keysCLI struct {
	t     *testing.T
	dir   string
	store string
	kek   string // path of the KEK file
	env   map[string]string
}

func newKeysCLI(t *testing.T) *keysCLI {
	t.Helper()
	dir := t.TempDir()
	return &keysCLI{
		t: t, dir: dir,
		store: filepath.Join(dir, "keys.json"),
		kek:   filepath.Join(dir, "kek.hex"),
		env:   map[string]string{"USER": "tester"},
	}
}

func (c *keysCLI) run(args ...string) (string, string, error) {
	c.t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"keys"}, args...), func(k string) string { return c.env[k] }, &out, &errOut)
	return out.String(), errOut.String(), err
}

// must runs args and fails the test on an error.
func (c *keysCLI) must(args ...string) string {
	c.t.Helper()
	out, errOut, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("citycard keys %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// open opens the store as the CLI left it.
func (c *keysCLI) open() *keys.FileStore {
	c.t.Helper()
	kek, err := keys.ReadKEKFile(c.kek)
	if err != nil {
		c.t.Fatal(err)
	}
	s, err := keys.OpenFileStore(c.store, kek, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return s
}

// materials reads every key of the store back from its file, each opened
// with the KEK as the store opens it (AES-256-GCM, nonce first, the key's
// id as additional data): no method of the store hands a master key out,
// and the test holds the KEK.
func materials(t *testing.T, c *keysCLI) map[keys.Ref][]byte {
	t.Helper()
	kek, err := keys.ReadKEKFile(c.kek)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Keys []struct {
			Ref    string `json:"ref"`
			Sealed []byte `json:"sealed"` // base64 in JSON
		} `json:"keys"`
	}
	raw, err := os.ReadFile(c.store)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	b, err := aes.NewCipher(kek)
	if err != nil {
		t.Fatal(err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		t.Fatal(err)
	}
	out := map[keys.Ref][]byte{}
	for _, k := range doc.Keys {
		ref, err := keys.ParseRef(k.Ref)
		if err != nil {
			t.Fatal(err)
		}
		m, err := g.Open(nil, k.Sealed[:12], k.Sealed[12:], []byte(k.Ref))
		if err != nil {
			t.Fatalf("key %v does not open under the KEK: %v", ref, err)
		}
		out[ref] = m
	}
	return out
}

func assertNoMaterial(t *testing.T, what, output string, mats map[keys.Ref][]byte) {
	t.Helper()
	for ref, m := range mats {
		for _, h := range []string{hex.EncodeToString(m), strings.ToUpper(hex.EncodeToString(m)), hex.EncodeToString(m[:8]), strings.ToUpper(hex.EncodeToString(m[8:]))} {
			if strings.Contains(output, h) {
				t.Errorf("%s shows key material of %v", what, ref)
			}
		}
	}
}

const issuerA = "3101000000000001"

func listJSON(t *testing.T, c *keysCLI) []listItem {
	t.Helper()
	var items []listItem
	out := c.must("--store", c.store, "--kek-file", c.kek, "--json", "list") // flags before the subcommand
	if err := json.Unmarshal([]byte(out), &items); err != nil {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	return items
}

func findItem(items []listItem, id string) (listItem, bool) {
	for _, i := range items {
		if i.ID == id {
			return i, true
		}
	}
	return listItem{}, false
}

func TestKeysEndToEnd(t *testing.T) {
	c := newKeysCLI(t)

	// init: a new KEK file, seven keys, each with its components' KCVs.
	out, errOut, err := c.run("init", "--store", c.store, "--issuer", issuerA, "--new-kek", c.kek)
	if err != nil {
		t.Fatalf("init: %v\n%s", err, errOut)
	}
	fi, err := os.Stat(c.kek)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("KEK file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	for _, typ := range []string{"purchase", "load", "tac", "maintenance", "record", "transport", "application"} {
		if !regexp.MustCompile(issuerA + "/" + typ + `/v1  3DES  KCV [0-9A-F]{6}  active`).MatchString(out) {
			t.Errorf("init output lacks %s/v1:\n%s", typ, out)
		}
	}
	if n := len(regexp.MustCompile(`(?m)^  component [12]  KCV [0-9A-F]{6}$`).FindAllString(out, -1)); n != 14 {
		t.Errorf("init printed %d component KCVs, want 14 (and no component):\n%s", n, out)
	}

	s := c.open()
	mats := materials(t, c)
	if len(mats) != 7 {
		t.Fatalf("store holds %d keys, want 7", len(mats))
	}
	assertNoMaterial(t, "init output", out+errOut, mats)
	raw, _ := os.ReadFile(c.store)
	assertNoMaterial(t, "the store file", string(raw), mats)

	// list: a table with every KCV, never the material. Flags after the
	// subcommand here; before it in listJSON.
	table := c.must("list", "--store", c.store, "--kek-file", c.kek)
	infos, _ := s.List()
	for _, info := range infos {
		line := regexp.MustCompile(regexp.QuoteMeta(info.Ref.String()) + `\s+3DES\s+` + fmt.Sprintf("%X", info.KCV) + `\s+yes\s+generated, 2 components\s+\d{4}-`)
		if !line.MatchString(table) {
			t.Errorf("list lacks %v with KCV %X:\n%s", info.Ref, info.KCV, table)
		}
	}
	assertNoMaterial(t, "list", table, mats)
	items := listJSON(t, c)
	if len(items) != 7 {
		t.Fatalf("list --json: %d keys, want 7", len(items))
	}
	js, _ := json.Marshal(items)
	assertNoMaterial(t, "list --json", string(js), mats)

	// The KEK may come from the environment too.
	kekHex, _ := os.ReadFile(c.kek)
	c.env["CITYCARD_KEK"] = strings.TrimSpace(string(kekHex))
	c.must("list", "--store", c.store)
	delete(c.env, "CITYCARD_KEK")

	// rotate: purchase v2 becomes active; v1 stays and derives as before.
	asn := []byte{0x31, 0x01, 0, 0, 0x12, 0x34, 0x56, 0x78}
	v1 := keys.Ref{Issuer: mustIssuer(t, issuerA), Type: keys.KeyPurchase, Version: 1}
	var before [keys.KeyLen]byte
	if _, err := s.DeriveInto(&before, v1, asn); err != nil {
		t.Fatal(err)
	}
	out = c.must("rotate", "--store", c.store, "--kek-file", c.kek, "--issuer", issuerA, "--type", "purchase")
	if !strings.Contains(out, issuerA+"/purchase/v2  3DES  KCV ") {
		t.Errorf("rotate output:\n%s", out)
	}
	items = listJSON(t, c)
	if i, ok := findItem(items, issuerA+"/purchase/v1"); !ok || i.Active {
		t.Errorf("after rotate, v1: %+v present=%v; want present, inactive", i, ok)
	}
	if i, ok := findItem(items, issuerA+"/purchase/v2"); !ok || !i.Active {
		t.Errorf("after rotate, v2: %+v present=%v; want active", i, ok)
	}
	s = c.open()
	var after [keys.KeyLen]byte
	if _, err := s.DeriveInto(&after, v1, asn); err != nil || after != before {
		t.Errorf("v1 after rotation derives %X, %v; before %X", after, err, before)
	}

	// rotate --all: every type of the issuer moves on by one.
	c.must("rotate", "--all", "--issuer", issuerA, "--store", c.store, "--kek-file", c.kek)
	items = listJSON(t, c)
	for _, id := range []string{"purchase/v3", "load/v2", "tac/v2", "maintenance/v2", "record/v2", "transport/v2", "application/v2"} {
		if i, ok := findItem(items, issuerA+"/"+id); !ok || !i.Active {
			t.Errorf("after rotate --all, %s: present=%v active=%v", id, ok, i.Active)
		}
	}
	s = c.open()
	mats = materials(t, c)
	assertNoMaterial(t, "list after rotation", c.must("list", "--store", c.store, "--kek-file", c.kek), mats)

	// Every operation is in the event log, by name.
	evs := s.Events()
	if len(evs) != 15 || evs[0].By != "tester" || evs[6].Kind != keys.EventCreated || evs[7].Kind != keys.EventRotated {
		t.Errorf("events: %d, first by %q, seventh %q, eighth %q", len(evs), evs[0].By, evs[6].Kind, evs[7].Kind)
	}
}

func mustIssuer(t *testing.T, s string) citycard.IssuerCode {
	t.Helper()
	c, err := citycard.ParseIssuerCode(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The ceremony's components and KCVs come from keys/testdata/crypto.json,
// computed with openssl (keys/testdata/genvectors.sh), e.g. a KCV:
//
//	echo -n 0000000000000000 | xxd -r -p | openssl enc -des-ede -nopad -K 1f2e3d4c5b6a79881f2e3d4c5b6a7988 | xxd -p
const (
	cer3DES1, cer3DES1KCV = "1f2e3d4c5b6a79881f2e3d4c5b6a7988", "72305b"
	cer3DES2, cer3DES2KCV = "0123456789abcdeffedcba9876543210", "08d7b4"
	cer3DESKey            = "1e0d782bd2c1b467e1f287d42d3e4b98"
	cer3DESKCV            = "A737E0"

	cerSM41, cerSM41KCV = "c0ffee00c0ffee00c0ffee00c0ffee00", "85ec94"
	cerSM42, cerSM42KCV = "deadbeefdeadbeefdeadbeefdeadbeef", "e070bf"
	cerSM43, cerSM43KCV = "0f0f0f0f0f0f0f0ff0f0f0f0f0f0f0f0", "58bf55"
	cerSM4Key           = "115d5fe0115d5fe0eea2a01feea2a01f"
	cerSM4KCV           = "E12C52"
)

func TestKeysCeremony(t *testing.T) {
	c := newKeysCLI(t)
	c.must("init", "--store", c.store, "--issuer", issuerA, "--new-kek", c.kek)
	in := filepath.Join(c.dir, "components.txt")
	write := func(lines ...string) {
		t.Helper()
		if err := os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ceremony := func(extra ...string) (string, string, error) {
		args := append([]string{"ceremony", "--store", c.store, "--kek-file", c.kek, "--issuer", issuerA, "--in", in}, extra...)
		return c.run(args...)
	}

	// Two custodians, 3DES, with the expected combined KCV.
	write(cer3DES1+" "+cer3DES1KCV+" alice", "", strings.ToUpper(cer3DES2)+" "+cer3DES2KCV+" bob")
	out, errOut, err := ceremony("--type", "load", "--alg", "3des", "--kcv", strings.ToLower(cer3DESKCV))
	if err != nil {
		t.Fatalf("ceremony: %v\n%s", err, errOut)
	}
	if want := issuerA + "/load/v2  3DES  KCV " + cer3DESKCV + "  active  components 2 of 2"; !strings.Contains(out, want) {
		t.Errorf("ceremony output %q lacks %q", out, want)
	}
	s := c.open()
	mats := materials(t, c)
	loadV2 := keys.Ref{Issuer: mustIssuer(t, issuerA), Type: keys.KeyLoad, Version: 2}
	if got := hex.EncodeToString(mats[loadV2]); got != cer3DESKey {
		t.Errorf("stored key %s, want the XOR of the components %s", got, cer3DESKey)
	}
	evs := s.Events()
	last := evs[len(evs)-1]
	if last.Ref != loadV2 || strings.Join(last.Custodians, ",") != "alice,bob" || last.Origin != "components 2 of 2" {
		t.Errorf("ceremony event = %+v", last)
	}
	assertNoMaterial(t, "ceremony output", out+errOut, mats)

	// Three custodians, SM4, a key type switching algorithm; the names are
	// optional.
	write(cerSM41+" "+cerSM41KCV, cerSM42+" "+cerSM42KCV, cerSM43+" "+cerSM43KCV)
	out = func() string {
		out, errOut, err := ceremony("--type", "record", "--alg", "sm4", "--components", "3")
		if err != nil {
			t.Fatalf("SM4 ceremony: %v\n%s", err, errOut)
		}
		return out
	}()
	if want := issuerA + "/record/v2  SM4  KCV " + cerSM4KCV; !strings.Contains(out, want) {
		t.Errorf("SM4 ceremony output %q lacks %q", out, want)
	}
	recV2 := keys.Ref{Issuer: mustIssuer(t, issuerA), Type: keys.KeyRecord, Version: 2}
	if got := hex.EncodeToString(materials(t, c)[recV2]); got != cerSM4Key {
		t.Errorf("stored SM4 key %s, want %s", got, cerSM4Key)
	}

	// Refusals leave the store untouched.
	before, _ := os.ReadFile(c.store)
	for _, tc := range []struct {
		name  string
		lines []string
		args  []string
		kind  citycard.Kind
		says  string
	}{
		{"wrong KCV of component 2", []string{cer3DES1 + " " + cer3DES1KCV, cer3DES2 + " 08d7b5"}, []string{"--type", "load"}, citycard.Crypto, "component 2 of 2"},
		{"wrong combined KCV", []string{cer3DES1 + " " + cer3DES1KCV, cer3DES2 + " " + cer3DES2KCV}, []string{"--type", "load", "--kcv", "000000"}, citycard.Crypto, "--kcv"},
		{"too few lines", []string{cer3DES1 + " " + cer3DES1KCV}, []string{"--type", "load"}, citycard.Invalid, "read 1 components, want 2"},
		{"short component", []string{cer3DES1[:30] + " " + cer3DES1KCV, cer3DES2 + " " + cer3DES2KCV}, []string{"--type", "load"}, citycard.Invalid, "component 1: want 32 hex digits"},
		{"same component twice", []string{cer3DES1 + " " + cer3DES1KCV, cer3DES1 + " " + cer3DES1KCV}, []string{"--type", "load"}, citycard.Invalid, "all zero"},
		{"custodian name is a key", []string{cer3DES1 + " " + cer3DES1KCV + " " + cer3DES2, cer3DES2 + " " + cer3DES2KCV}, []string{"--type", "load"}, citycard.Invalid, "looks like key material"},
		{"new type without --alg", []string{cer3DES1 + " " + cer3DES1KCV, cer3DES2 + " " + cer3DES2KCV}, []string{"--issuer", "3101000000000002", "--type", "load"}, citycard.Invalid, "--alg is required"},
		{"one component", []string{cer3DES1 + " " + cer3DES1KCV}, []string{"--type", "load", "--components", "1"}, citycard.Invalid, "--components 1"},
	} {
		write(tc.lines...)
		_, _, err := ceremony(tc.args...)
		if !citycard.IsKind(err, tc.kind) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: err = %v (kind %v), want kind %v saying %q", tc.name, err, citycard.KindOf(err), tc.kind, tc.says)
		}
		if err != nil {
			for _, comp := range []string{cer3DES1, cer3DES2} {
				if strings.Contains(strings.ToLower(err.Error()), comp) {
					t.Errorf("%s: the error shows a component: %v", tc.name, err)
				}
			}
		}
	}
	if after, _ := os.ReadFile(c.store); !bytes.Equal(before, after) {
		t.Error("refused ceremonies changed the store")
	}
}

// TestKeysCeremonyStdin feeds the components on standard input, as a
// ceremony does.
func TestKeysCeremonyStdin(t *testing.T) {
	c := newKeysCLI(t)
	c.must("init", "--store", c.store, "--issuer", issuerA, "--new-kek", c.kek, "--alg", "sm4")
	in := filepath.Join(c.dir, "stdin")
	// One line more than asked: the ceremony stops after the second.
	data := cerSM41 + " " + cerSM41KCV + "\n" + cerSM42 + " " + cerSM42KCV + "\nleft over\n"
	if err := os.WriteFile(in, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	old := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = old }()

	out, errOut, err := c.run("ceremony", "--store", c.store, "--kek-file", c.kek, "--issuer", issuerA, "--type", "tac")
	if err != nil {
		t.Fatalf("ceremony: %v\n%s", err, errOut)
	}
	comps := [][]byte{mustHex(t, cerSM41), mustHex(t, cerSM42)}
	key := make([]byte, 16)
	for i := range key {
		key[i] = comps[0][i] ^ comps[1][i]
	}
	kcv, _ := keys.KCV(keys.AlgSM4, key)
	if want := fmt.Sprintf("%s/tac/v2  SM4  KCV %X", issuerA, kcv); !strings.Contains(out, want) {
		t.Errorf("ceremony output %q lacks %q", out, want)
	}
	if !strings.Contains(errOut, "custodian 2 of 2") {
		t.Errorf("no prompt on stderr: %q", errOut)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKeysPrintComponents(t *testing.T) {
	c := newKeysCLI(t)
	out, errOut, err := c.run("init", "--store", c.store, "--issuer", issuerA, "--new-kek", c.kek, "--alg", "sm4", "--print-components")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "WARNING") {
		t.Errorf("no warning on stderr for printed components: %q", errOut)
	}
	mats := materials(t, c)
	// Each key's two printed components XOR to the stored key, and each
	// printed KCV is its component's.
	re := regexp.MustCompile(`(?m)^(\S+)  SM4  KCV [0-9A-F]{6}.*\n  component 1  KCV ([0-9A-F]{6})  ([0-9A-F]{32})\n  component 2  KCV ([0-9A-F]{6})  ([0-9A-F]{32})$`)
	ms := re.FindAllStringSubmatch(out, -1)
	if len(ms) != 7 {
		t.Fatalf("found %d keys with components, want 7:\n%s", len(ms), out)
	}
	for _, m := range ms {
		ref, err := keys.ParseRef(m[1])
		if err != nil {
			t.Fatal(err)
		}
		c1, c2 := mustHex(t, m[3]), mustHex(t, m[5])
		k1, _ := keys.KCV(keys.AlgSM4, c1)
		k2, _ := keys.KCV(keys.AlgSM4, c2)
		if fmt.Sprintf("%X", k1) != m[2] || fmt.Sprintf("%X", k2) != m[4] {
			t.Errorf("%v: printed KCVs %s %s are not the components'", ref, m[2], m[4])
		}
		key := make([]byte, 16)
		for i := range key {
			key[i] = c1[i] ^ c2[i]
		}
		if !bytes.Equal(key, mats[ref]) {
			t.Errorf("%v: components XOR to %X, the store holds another key", ref, key)
		}
	}
}

func TestKeysRefusals(t *testing.T) {
	c := newKeysCLI(t)
	c.must("init", "--store", c.store, "--issuer", issuerA, "--new-kek", c.kek)

	// Wrong KEK, from the environment or a file.
	c.env["CITYCARD_KEK"] = strings.Repeat("ab", 32)
	_, _, err := c.run("list", "--store", c.store)
	if !citycard.IsKind(err, citycard.Crypto) || !strings.Contains(err.Error(), "KEK does not open this store") {
		t.Errorf("list with the wrong KEK: err = %v, want kind Crypto saying the KEK does not open this store", err)
	}
	other := filepath.Join(c.dir, "other.kek")
	if _, err := keys.NewKEKFile(other); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.run("rotate", "--store", c.store, "--kek-file", other, "--issuer", issuerA, "--all")
	if !citycard.IsKind(err, citycard.Crypto) || !strings.Contains(err.Error(), "KEK does not open this store") {
		t.Errorf("rotate with the wrong KEK file: err = %v", err)
	}
	c.env["CITYCARD_KEK"] = "not a key"
	if _, _, err = c.run("list", "--store", c.store); !citycard.IsKind(err, citycard.Invalid) || !strings.Contains(err.Error(), "CITYCARD_KEK") {
		t.Errorf("list with a malformed CITYCARD_KEK: err = %v", err)
	}
	delete(c.env, "CITYCARD_KEK")

	// No KEK at all: say where to put one.
	_, _, err = c.run("list", "--store", c.store)
	if err == nil || !strings.Contains(err.Error(), "CITYCARD_KEK") || !strings.Contains(err.Error(), "--kek-file") {
		t.Errorf("list without a KEK: err = %v, want a hint at CITYCARD_KEK and --kek-file", err)
	}

	for _, tc := range []struct {
		name string
		args []string
		kind citycard.Kind
	}{
		{"init of an issuer with keys", []string{"init", "--store", c.store, "--kek-file", c.kek, "--issuer", issuerA}, citycard.Exists},
		{"--new-kek on an existing store", []string{"init", "--store", c.store, "--new-kek", filepath.Join(c.dir, "k2"), "--issuer", "3101000000000002"}, citycard.Exists},
		{"--new-kek over an existing KEK", []string{"init", "--store", filepath.Join(c.dir, "s2.json"), "--new-kek", c.kek, "--issuer", issuerA}, citycard.Exists},
		{"init without --issuer", []string{"init", "--store", c.store, "--kek-file", c.kek}, citycard.Invalid},
		{"init with a bad issuer", []string{"init", "--store", c.store, "--kek-file", c.kek, "--issuer", "31"}, citycard.Invalid},
		{"init with a bad alg", []string{"init", "--store", c.store, "--kek-file", c.kek, "--issuer", "3101000000000002", "--alg", "aes"}, citycard.Invalid},
		{"rotate without --type or --all", []string{"rotate", "--store", c.store, "--kek-file", c.kek, "--issuer", issuerA}, citycard.Invalid},
		{"rotate with both", []string{"rotate", "--store", c.store, "--kek-file", c.kek, "--issuer", issuerA, "--all", "--type", "tac"}, citycard.Invalid},
		{"rotate of an unknown issuer", []string{"rotate", "--store", c.store, "--kek-file", c.kek, "--issuer", "3101000000000009", "--all"}, citycard.KeyMissing},
		{"rotate of a missing type", []string{"rotate", "--store", c.store, "--kek-file", c.kek, "--issuer", "3101000000000009", "--type", "tac"}, citycard.KeyMissing},
		{"list of a missing store", []string{"list", "--store", filepath.Join(c.dir, "none.json"), "--kek-file", c.kek}, citycard.NotFound},
	} {
		_, _, err := c.run(tc.args...)
		if !citycard.IsKind(err, tc.kind) {
			t.Errorf("%s: err = %v (kind %v), want kind %v", tc.name, err, citycard.KindOf(err), tc.kind)
		}
	}
	// The store file is never written in clear: a new store without a KEK
	// is refused before anything is written.
	s3 := filepath.Join(c.dir, "s3.json")
	if _, _, err := c.run("init", "--store", s3, "--issuer", issuerA); err == nil {
		t.Error("init without a KEK succeeded")
	}
	if _, err := os.Stat(s3); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("init without a KEK left %s: %v", s3, err)
	}
}

func TestKeysUsage(t *testing.T) {
	c := newKeysCLI(t)
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"list", "extra"},
		{"list", "--issuer", issuerA},     // --issuer does not apply to list
		{"init", "--json"},                // nor --json to init
		{"list", "--no-such-flag"},        // unknown flag
		{"ceremony", "--components", "x"}, // not a number
	} {
		_, errOut, err := c.run(args...)
		if !errors.Is(err, errUsage) {
			t.Errorf("keys %v: err = %v, want errUsage", args, err)
		}
		if errOut == "" {
			t.Errorf("keys %v: nothing on stderr", args)
		}
	}
	_, errOut, err := c.run("-h")
	if err != nil || !strings.Contains(errOut, "ceremony") {
		t.Errorf("keys -h: %v, usage %q", err, errOut)
	}
	// "--" ends the flags: what follows is positional.
	if _, _, err := c.run("--", "list", "--json"); !errors.Is(err, errUsage) {
		t.Errorf("keys -- list --json: err = %v, want errUsage", err)
	}
}

// TestKeysInitOperator: an operator's store entry is its record key only
// (--type record), beside the issuer's keys; a type the store does not
// know is refused.
func TestKeysInitOperator(t *testing.T) {
	c := newKeysCLI(t)
	c.must("init", "--store", c.store, "--issuer", issuerA, "--new-kek", c.kek)
	const operator = "3150090000000001"
	out := c.must("init", "--store", c.store, "--kek-file", c.kek, "--issuer", operator, "--type", "record")
	if !strings.Contains(out, operator+"/record/v1") || strings.Contains(out, operator+"/purchase") {
		t.Fatalf("operator init:\n%s", out)
	}
	infos, _ := c.open().List()
	var mine []string
	for _, info := range infos {
		if info.Issuer.String() == operator {
			mine = append(mine, info.Ref.String())
		}
	}
	if len(mine) != 1 || mine[0] != operator+"/record/v1" {
		t.Fatalf("the operator holds %v, want its record key only", mine)
	}
	if _, errOut, err := c.run("init", "--store", c.store, "--kek-file", c.kek, "--issuer", "3150090000000002", "--type", "bogus"); err == nil || !strings.Contains(err.Error()+errOut, "bogus") {
		t.Fatalf("unknown type: %v %s", err, errOut)
	}
}
