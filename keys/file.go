package keys

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/citycard/citycard"
)

// KEKLen is the length of a key-encryption key: 32 bytes, for AES-256-GCM.
const KEKLen = 32

// The limits of a key store file.
const (
	storeFormat   = "citycard-keys/1"
	storeBytesMax = 16 << 20 // a store of thousands of keys is well under 1 MiB
	// keyReserveBytes is the part of storeBytesMax that the log of exports
	// (EventWrapped, some 400 bytes each) may not take, so that a store
	// whose log is full of exports still takes new keys and rotations:
	// room for some 6,000 of them.
	keyReserveBytes = 4 << 20
	nameLenMax      = 64  // an operator's or custodian's name
	kekFileBytesMax = 256 // 64 hex digits, a newline and some slack
	headAD          = storeFormat + " head"
	timeLayout      = time.RFC3339Nano
)

// ParseKEK parses a key-encryption key written as 64 hex digits; white
// space around them is ignored. Kind Invalid otherwise, and for an all-zero
// key. The error never repeats the text: it may be a key.
func ParseKEK(s string) ([]byte, error) {
	const op = "keys.ParseKEK"
	s = strings.TrimSpace(s)
	if len(s) != 2*KEKLen {
		return nil, citycard.E(op, citycard.Invalid, "key-encryption key: want %d hex digits, have %d characters", 2*KEKLen, len(s))
	}
	kek, err := hex.DecodeString(s)
	if err != nil {
		return nil, citycard.E(op, citycard.Invalid, "key-encryption key: not hex digits")
	}
	var zero [KEKLen]byte
	if subtle.ConstantTimeCompare(kek, zero[:]) == 1 {
		return nil, citycard.E(op, citycard.Invalid, "key-encryption key is all zero")
	}
	return kek, nil
}

// ReadKEKFile reads a key-encryption key from a file holding 64 hex
// digits. Kind IO if the file cannot be read, Invalid if it holds anything
// else.
func ReadKEKFile(path string) ([]byte, error) {
	const op = "keys.ReadKEKFile"
	f, err := os.Open(path)
	if err != nil {
		return nil, citycard.E(op, citycard.IO, "KEK file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, kekFileBytesMax+1))
	if err != nil {
		return nil, citycard.E(op, citycard.IO, "KEK file %s: %w", path, err)
	}
	if len(b) > kekFileBytesMax {
		return nil, citycard.E(op, citycard.Invalid, "KEK file %s: longer than %d bytes", path, kekFileBytesMax)
	}
	kek, err := ParseKEK(string(b))
	if err != nil {
		return nil, citycard.E(op, citycard.Invalid, "KEK file %s: %w", path, err)
	}
	return kek, nil
}

// NewKEKFile writes a fresh random key-encryption key to path as 64 hex
// digits and a newline, with mode 0600, and returns it. It never replaces
// a file: a lost KEK loses every key it protects. Kind Exists if path
// exists, IO for any other failure.
func NewKEKFile(path string) ([]byte, error) {
	const op = "keys.NewKEKFile"
	kek := make([]byte, KEKLen)
	if _, err := rand.Read(kek); err != nil {
		return nil, citycard.E(op, citycard.IO, "random KEK: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, citycard.E(op, citycard.Exists, "KEK file %s already exists; it is never overwritten", path)
	}
	if err != nil {
		return nil, citycard.E(op, citycard.IO, "KEK file: %w", err)
	}
	_, err = f.WriteString(hex.EncodeToString(kek) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(path)
		return nil, citycard.E(op, citycard.IO, "KEK file %s: %w", path, err)
	}
	return kek, nil
}

// Audit names who did a key operation, for the store's event log: names
// only, never key material.
type Audit struct {
	By         string   // the operator who ran the operation
	Custodians []string // the custodians who brought or received the components, in order
}

// The kinds of event in a FileStore's log.
const (
	EventCreated = "created" // version 1 of an issuer's key type
	EventRotated = "rotated" // a later version of an issuer's key type
	EventWrapped = "wrapped" // a key exported, wrapped for a PSAM (Wrap)
)

// Event is one entry of a FileStore's append-only event log. It says what
// key came to be or was exported, when, how and by whom; it never holds
// key material.
type Event struct {
	Seq        int // 1, 2, 3... in the order of the log
	Time       time.Time
	Kind       string // EventCreated, EventRotated or EventWrapped
	Ref        Ref    // the key created, rotated in or exported
	Alg        Alg
	KCV        [3]byte
	Origin     string
	By         string
	Custodians []string
	// Transport and Path say, for EventWrapped, under which key the key
	// was exported: the child of the transport master key Transport along
	// Path (the PSAM's ID). Both are empty for the other kinds.
	Transport Ref
	Path      [][]byte
}

// NewKey is a master key to add to a FileStore as the next version of its
// issuer's key type.
type NewKey struct {
	Issuer citycard.IssuerCode
	Type   KeyType
	Alg    Alg
	Key    []byte
	Origin string // how the key came to be: "generated, 2 components", "components 3 of 3"
	Audit  Audit
}

// FileStore is a Store persisted to one JSON file. Each key's material is
// sealed (AES-256-GCM) under a 32-byte key-encryption key with the key's
// Ref string as additional data, so that a sealed key cannot be passed off
// as another; its metadata (ref, algorithm, KCV, creation time, origin) is
// in clear. An append-only log of events records each key's creation or
// rotation with the names of those who did it, and each export (Wrap) with
// the name of the operator (SetOperator), the transport key and the PSAM
// it was for. The events are hash-chained and the chain's head is sealed
// under the KEK, so that editing, reordering or dropping events or keys
// without the KEK is detected when the store is opened; a wrong KEK is
// detected even in an empty store. Replacing the whole file by an older
// copy is not detected: keep backups of the store where a rollback would
// be noticed.
//
// Every save writes a temporary file, syncs it, renames it over the store
// and syncs the directory. A lock on the file beside it (the store's path
// + ".lock", an flock(2) where the system has it, which the kernel drops
// when the process dies) keeps two writers apart, and a writer that finds
// the file changed since it read it stops with kind Conflict instead of
// losing the other's keys.
//
// An export is saved to the log before the wrapped key is returned, so
// every export is on record, at the cost of one save (the whole file
// rewritten and synced) per key exported: fine at a key injection
// station's pace. Exports may fill the file up to storeBytesMax less
// keyReserveBytes, some 30,000 exports (10,000 PSAMs of three keys); past
// that Wrap fails with kind Conflict while keys can still be added. A
// city that provisions more PSAMs keeps its keys in an HSM, whose audit
// log is its own.
//
// The methods of Store and Active read the in-memory copy and are safe for
// concurrent use; Add and Wrap are serialized.
type FileStore struct {
	path string
	kek  []byte
	now  func() time.Time
	mem  *MemStore

	mu     sync.Mutex // held by writers
	doc    storeDoc   // the file as last read or written (keys sealed)
	sum    [32]byte   // SHA-256 of the file's bytes as last read or written
	events []Event
	by     string // who exports keys (SetOperator); "" refuses exports
	// exportBytesMax bounds the file that Wrap may write: storeBytesMax
	// less keyReserveBytes (tests lower it).
	exportBytesMax int
}

var _ Store = (*FileStore)(nil)

// storeDoc is the JSON form of the store file.
type storeDoc struct {
	Format string      `json:"format"`
	Head   string      `json:"head"` // base64 of sealGCM(KEK, chain head, headAD)
	Keys   []storeKey  `json:"keys"`
	Events []fileEvent `json:"events"`
}

type storeKey struct {
	Ref     string `json:"ref"`
	Alg     string `json:"alg"`
	KCV     string `json:"kcv"`
	Created string `json:"created"`
	Origin  string `json:"origin"`
	Sealed  string `json:"sealed"` // base64 of sealGCM(KEK, material, ref)
}

type fileEvent struct {
	Seq        int      `json:"seq"`
	Time       string   `json:"time"`
	Event      string   `json:"event"`
	Ref        string   `json:"ref"`
	Alg        string   `json:"alg"`
	KCV        string   `json:"kcv"`
	Origin     string   `json:"origin"`
	By         string   `json:"by"`
	Custodians []string `json:"custodians,omitempty"`
	Transport  string   `json:"transport,omitempty"` // EventWrapped: the transport master key's ref
	Path       []string `json:"path,omitempty"`      // EventWrapped: its diversification path, hex ids
	Hash       string   `json:"hash,omitempty"`      // SHA-256(previous hash || this event without hash), hex
}

// chainHash returns the hash that links e to the event before it.
func chainHash(prev [32]byte, e fileEvent) ([32]byte, error) {
	e.Hash = ""
	b, err := json.Marshal(e)
	if err != nil {
		return [32]byte{}, err
	}
	h := sha256.New()
	h.Write(prev[:])
	h.Write(b)
	var out [32]byte
	h.Sum(out[:0])
	return out, nil
}

// CreateFileStore creates an empty store file at path, sealed under kek,
// and returns it open. now gives the time of events (nil: time.Now). Kind
// Exists if path exists, Invalid for a bad KEK, IO if the file cannot be
// written.
func CreateFileStore(path string, kek []byte, now func() time.Time) (*FileStore, error) {
	const op = "keys.CreateFileStore"
	if len(kek) != KEKLen {
		return nil, citycard.E(op, citycard.Invalid, "key-encryption key of %d bytes, want %d", len(kek), KEKLen)
	}
	if now == nil {
		now = time.Now
	}
	s := newFileStore(path, kek, now)
	doc := storeDoc{Format: storeFormat, Keys: []storeKey{}, Events: []fileEvent{}}
	if err := s.sealHead(&doc, [32]byte{}); err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	data, err := s.encode(doc)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	if err := s.save(doc, data, true); err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	return s, nil
}

// OpenFileStore reads the store file at path and opens every key in it
// with kek. now gives the time of new events (nil: time.Now).
//
// Kind NotFound if there is no file; IO if it cannot be read; Invalid if it
// is not a store file or kek is not 32 bytes; Crypto if kek does not open
// the store (the message says so) or if the file was altered: an event, a
// key's metadata, a sealed key, a key without its event.
func OpenFileStore(path string, kek []byte, now func() time.Time) (*FileStore, error) {
	const op = "keys.OpenFileStore"
	if len(kek) != KEKLen {
		return nil, citycard.E(op, citycard.Invalid, "key-encryption key of %d bytes, want %d", len(kek), KEKLen)
	}
	if now == nil {
		now = time.Now
	}
	raw, err := readStoreFile(path)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	s := newFileStore(path, kek, now)
	s.sum = sha256.Sum256(raw)
	if err := s.load(raw); err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	return s, nil
}

func newFileStore(path string, kek []byte, now func() time.Time) *FileStore {
	return &FileStore{path: path, kek: slices.Clone(kek), now: now, mem: NewMemStore(), exportBytesMax: storeBytesMax - keyReserveBytes}
}

func readStoreFile(path string) ([]byte, error) {
	const op = "keys.readStoreFile"
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, citycard.E(op, citycard.NotFound, "no key store %s", path)
	}
	if err != nil {
		return nil, citycard.E(op, citycard.IO, "key store: %w", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, storeBytesMax+1))
	if err != nil {
		return nil, citycard.E(op, citycard.IO, "key store %s: %w", path, err)
	}
	if len(raw) > storeBytesMax {
		return nil, citycard.E(op, citycard.Invalid, "key store %s: larger than %d bytes", path, storeBytesMax)
	}
	return raw, nil
}

// load checks the file's bytes and fills s from them.
func (s *FileStore) load(raw []byte) error {
	const op = "keys.FileStore.load"
	var doc storeDoc
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return citycard.E(op, citycard.Invalid, "key store %s: not a key store file: %v", s.path, err)
	}
	if doc.Format != storeFormat {
		return citycard.E(op, citycard.Invalid, "key store %s: format %q, want %q", s.path, doc.Format, storeFormat)
	}

	// The head first: it tells a wrong KEK from an altered file.
	sealedHead, err := base64.StdEncoding.DecodeString(doc.Head)
	if err != nil {
		return citycard.E(op, citycard.Invalid, "key store %s: head: %v", s.path, err)
	}
	head, err := openGCM(s.kek, sealedHead, []byte(headAD))
	if err != nil || len(head) != sha256.Size {
		return citycard.E(op, citycard.Crypto, "the KEK does not open this store %s (wrong KEK, or the file was altered)", s.path)
	}

	// The event log: its chain must end at the sealed head.
	var prev [32]byte
	events := make([]Event, 0, len(doc.Events))
	byRef := make(map[Ref]int, len(doc.Events)) // the index in events of each key's creation
	for i, fe := range doc.Events {
		h, err := chainHash(prev, fe)
		if err != nil {
			return citycard.E(op, citycard.Invalid, "key store %s: event %d: %v", s.path, i+1, err)
		}
		if fe.Seq != i+1 || fe.Hash != hex.EncodeToString(h[:]) {
			return citycard.E(op, citycard.Crypto, "key store %s: event %d was altered", s.path, i+1)
		}
		prev = h
		ev, err := parseEvent(fe)
		if err != nil {
			return citycard.E(op, citycard.Invalid, "key store %s: event %d: %w", s.path, i+1, err)
		}
		if ev.Kind == EventWrapped {
			if err := checkWrapEvent(ev, events, byRef); err != nil {
				return citycard.E(op, citycard.Invalid, "key store %s: event %d: %w", s.path, i+1, err)
			}
			events = append(events, ev)
			continue
		}
		if _, dup := byRef[ev.Ref]; dup {
			return citycard.E(op, citycard.Invalid, "key store %s: event %d: key %v created twice", s.path, i+1, ev.Ref)
		}
		byRef[ev.Ref] = i
		events = append(events, ev)
	}
	if subtle.ConstantTimeCompare(prev[:], head) != 1 {
		return citycard.E(op, citycard.Crypto, "key store %s: the event log was altered (it does not end at the sealed head)", s.path)
	}

	// The keys: one per creation or rotation, matching it, each opening
	// under its ref.
	if len(doc.Keys) != len(byRef) {
		return citycard.E(op, citycard.Crypto, "key store %s: %d keys for %d key events: keys were added or removed", s.path, len(doc.Keys), len(byRef))
	}
	for _, k := range doc.Keys {
		ref, err := ParseRef(k.Ref)
		if err != nil {
			return citycard.E(op, citycard.Invalid, "key store %s: %w", s.path, err)
		}
		i, ok := byRef[ref]
		if !ok || k.Ref != ref.String() {
			return citycard.E(op, citycard.Crypto, "key store %s: key %v has no event: it was added outside citycard", s.path, ref)
		}
		ev, fe := events[i], doc.Events[i]
		if k.Alg != fe.Alg || k.KCV != fe.KCV || k.Origin != fe.Origin || k.Created != fe.Time {
			return citycard.E(op, citycard.Crypto, "key store %s: key %v: metadata differs from its event: it was altered", s.path, ref)
		}
		sealed, err := base64.StdEncoding.DecodeString(k.Sealed)
		if err != nil {
			return citycard.E(op, citycard.Invalid, "key store %s: key %v: %v", s.path, ref, err)
		}
		material, err := openGCM(s.kek, sealed, []byte(ref.String()))
		if err != nil {
			return citycard.E(op, citycard.Crypto, "key store %s: key %v: sealed material does not open: it was altered", s.path, ref)
		}
		info, err := s.mem.Put(ref, ev.Alg, material, ev.Origin, ev.Time)
		clear(material)
		if err != nil {
			return citycard.E(op, citycard.Invalid, "key store %s: key %v: %w", s.path, ref, err)
		}
		if info.KCV != ev.KCV {
			return citycard.E(op, citycard.Crypto, "key store %s: key %v: KCV %X recorded, the material gives %X", s.path, ref, ev.KCV, info.KCV)
		}
	}
	s.doc, s.events = doc, events
	return nil
}

// checkWrapEvent checks an export against the events before it: the key
// and the transport key were created earlier, the export obeys Wrap's
// rules, and its algorithm and KCV are the key's.
func checkWrapEvent(ev Event, events []Event, byRef map[Ref]int) error {
	if err := checkWrap(ev.Ref, ev.Transport, ev.Path); err != nil {
		return err
	}
	i, ok := byRef[ev.Ref]
	if !ok {
		return fmt.Errorf("export of key %v, which was not created before", ev.Ref)
	}
	if _, ok := byRef[ev.Transport]; !ok {
		return fmt.Errorf("export under transport key %v, which was not created before", ev.Transport)
	}
	if k := events[i]; k.Alg != ev.Alg || k.KCV != ev.KCV {
		return fmt.Errorf("export of key %v as %v KCV %X, created as %v KCV %X", ev.Ref, ev.Alg, ev.KCV, k.Alg, k.KCV)
	}
	return nil
}

// parseEvent decodes an event of the file, which must be in the canonical
// form Add and Wrap write.
func parseEvent(fe fileEvent) (Event, error) {
	ev := Event{Seq: fe.Seq, Kind: fe.Event, Origin: fe.Origin, By: fe.By, Custodians: fe.Custodians}
	var err error
	if ev.Time, err = time.Parse(timeLayout, fe.Time); err != nil {
		return ev, err
	}
	if ev.Ref, err = parseCanonicalRef(fe.Ref); err != nil {
		return ev, err
	}
	switch {
	case fe.Event == EventCreated && ev.Ref.Version == 1:
	case fe.Event == EventRotated && ev.Ref.Version > 1:
	case fe.Event == EventWrapped:
		if fe.Origin != "" || len(fe.Custodians) > 0 {
			return ev, fmt.Errorf("export of key %v with an origin or custodians", ev.Ref)
		}
		if ev.Transport, err = parseCanonicalRef(fe.Transport); err != nil {
			return ev, fmt.Errorf("export of key %v: transport key: %w", ev.Ref, err)
		}
		if len(fe.Path) == 0 || len(fe.Path) > 2 {
			return ev, fmt.Errorf("export of key %v: path of %d ids", ev.Ref, len(fe.Path))
		}
		for _, h := range fe.Path {
			id, err := hex.DecodeString(h)
			if err != nil || hex.EncodeToString(id) != h {
				return ev, fmt.Errorf("export of key %v: path id %q: want lowercase hex digits", ev.Ref, h)
			}
			ev.Path = append(ev.Path, id)
		}
	default:
		return ev, fmt.Errorf("event %q for key %v", fe.Event, ev.Ref)
	}
	if fe.Event != EventWrapped && (fe.Transport != "" || fe.Path != nil) {
		return ev, fmt.Errorf("event %q for key %v with a transport key or path", fe.Event, ev.Ref)
	}
	if ev.Alg, err = ParseAlg(fe.Alg); err != nil {
		return ev, err
	}
	kcv, err := hex.DecodeString(fe.KCV)
	if err != nil || len(kcv) != 3 {
		return ev, fmt.Errorf("KCV %q: want 6 hex digits", fe.KCV)
	}
	copy(ev.KCV[:], kcv)
	return ev, nil
}

// parseCanonicalRef parses a key id that must be written as Ref.String
// writes it.
func parseCanonicalRef(s string) (Ref, error) {
	ref, err := ParseRef(s)
	if err != nil {
		return ref, err
	}
	if ref.String() != s {
		return ref, fmt.Errorf("key id %q is not written as %q", s, ref.String())
	}
	return ref, nil
}

// Path returns the store file's path.
func (s *FileStore) Path() string { return s.path }

// List implements Store.
func (s *FileStore) List() ([]Info, error) { return s.mem.List() }

// Info implements Store.
func (s *FileStore) Info(ref Ref) (Info, error) { return s.mem.Info(ref) }

// DeriveInto implements Store.
func (s *FileStore) DeriveInto(dst *[KeyLen]byte, ref Ref, path ...[]byte) (Alg, error) {
	return s.mem.DeriveInto(dst, ref, path...)
}

// Wrap implements Store. It first saves the export to the event log (kind
// EventWrapped: the key, the transport key and path, the operator named
// by SetOperator) and returns the wrapped key only once the log is on
// disk. Besides the kinds of Store.Wrap: Permission when no operator was
// named; Conflict when the exports have filled the file (see FileStore)
// or the file changed since it was opened or is locked by another writer;
// IO if it cannot be written.
func (s *FileStore) Wrap(ref Ref, transport Ref, path ...[]byte) ([]byte, error) {
	const op = "keys.FileStore.Wrap"
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.by == "" {
		return nil, citycard.E(op, citycard.Permission, "key store %s: no operator named (SetOperator): every export says who made it", s.path)
	}
	w, err := s.mem.Wrap(ref, transport, path...)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	info, err := s.mem.Info(ref)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	ev := Event{
		Seq: len(s.doc.Events) + 1, Time: s.now().UTC(), Kind: EventWrapped, Ref: ref, Alg: info.Alg, KCV: info.KCV,
		By: s.by, Transport: transport, Path: make([][]byte, len(path)),
	}
	for i, id := range path {
		ev.Path[i] = slices.Clone(id)
	}
	doc := storeDoc{Format: storeFormat, Keys: slices.Clone(s.doc.Keys), Events: slices.Clone(s.doc.Events)}
	prev, err := s.appendEvent(&doc, ev)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	if err := s.sealHead(&doc, prev); err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	data, err := s.encode(doc)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	if len(data) > s.exportBytesMax {
		return nil, citycard.E(op, citycard.Conflict, "key store %s: the log of exports is full (the file would be %d bytes, exports may fill %d): keys can still be added, exports cannot", s.path, len(data), s.exportBytesMax)
	}
	if err := s.save(doc, data, false); err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	s.events = append(s.events, ev)
	return w, nil
}

// SetOperator names who exports keys through s from now on: Wrap logs
// each export under this name, as a PKCS#11 store names the user logged
// in to its session. Until it is called, Wrap refuses. Kind Invalid for a
// name the log refuses: empty, longer than 64 bytes, with control
// characters, or what looks like key material.
func (s *FileStore) SetOperator(by string) error {
	if err := checkName("operator name", by, true); err != nil {
		return citycard.Wrap("keys.FileStore.SetOperator", citycard.Invalid, err)
	}
	s.mu.Lock()
	s.by = by
	s.mu.Unlock()
	return nil
}

// Active returns the active (newest) version of (issuer, t). Kind
// KeyMissing if there is none.
func (s *FileStore) Active(issuer citycard.IssuerCode, t KeyType) (Info, error) {
	return s.mem.Active(issuer, t)
}

// Events returns a copy of the event log, oldest first.
func (s *FileStore) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.events)
	for i := range out {
		out[i].Custodians = slices.Clone(out[i].Custodians)
		out[i].Path = slices.Clone(out[i].Path)
		for j := range out[i].Path {
			out[i].Path[j] = slices.Clone(out[i].Path[j])
		}
	}
	return out
}

// appendEvent appends ev to doc's events, chained to the last of them,
// and returns the new chain head.
func (s *FileStore) appendEvent(doc *storeDoc, ev Event) ([32]byte, error) {
	const op = "keys.FileStore.appendEvent"
	var prev [32]byte
	if n := len(doc.Events); n > 0 {
		h, err := hex.DecodeString(doc.Events[n-1].Hash)
		if err != nil || len(h) != 32 {
			return prev, citycard.E(op, citycard.Invalid, "key store %s: last event's hash %q", s.path, doc.Events[n-1].Hash)
		}
		copy(prev[:], h)
	}
	fe := fileEvent{
		Seq: ev.Seq, Time: ev.Time.Format(timeLayout), Event: ev.Kind, Ref: ev.Ref.String(), Alg: ev.Alg.String(),
		KCV: strings.ToUpper(hex.EncodeToString(ev.KCV[:])), Origin: ev.Origin, By: ev.By, Custodians: ev.Custodians,
	}
	if ev.Kind == EventWrapped {
		fe.Transport = ev.Transport.String()
		for _, id := range ev.Path {
			fe.Path = append(fe.Path, hex.EncodeToString(id))
		}
	}
	h, err := chainHash(prev, fe)
	if err != nil {
		return prev, citycard.E(op, citycard.Invalid, "event for %v: %v", ev.Ref, err)
	}
	fe.Hash = hex.EncodeToString(h[:])
	doc.Events = append(doc.Events, fe)
	return h, nil
}

// Add adds each key as the next version of its issuer's key type (version
// 1 if there is none: event "created"; else "rotated") and saves the store,
// all at once: either every key is stored or none. Old versions stay and
// keep verifying; the newest is active. The keys share one event time.
//
// Kind Invalid when nks is empty, for a bad key (see CombineComponents),
// algorithm, key type or name, or when the file would outgrow 16 MiB;
// Conflict if a type has no version left or the file changed since it was
// opened or is locked by another writer; IO if it cannot be written.
func (s *FileStore) Add(nks ...NewKey) ([]Info, error) {
	const op = "keys.FileStore.Add"
	if len(nks) == 0 {
		return nil, citycard.E(op, citycard.Invalid, "key store %s: no key to add", s.path)
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	at := s.now().UTC()
	doc := storeDoc{
		Format: storeFormat,
		Keys:   slices.Clone(s.doc.Keys),
		Events: slices.Clone(s.doc.Events),
	}
	// The next version of each (issuer, type): one more than the highest in
	// the store or earlier in this batch.
	type issuerType struct {
		issuer citycard.IssuerCode
		t      KeyType
	}
	top := map[issuerType]uint8{}
	list, err := s.mem.List()
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	for _, info := range list {
		k := issuerType{info.Issuer, info.Type}
		top[k] = max(top[k], info.Version)
	}

	type pending struct {
		ref Ref
		nk  NewKey
		ev  Event
	}
	var todo []pending
	var head [32]byte
	for i, nk := range nks {
		if err := checkNewKey(nk); err != nil {
			return nil, citycard.E(op, citycard.Invalid, "key %d of %d (%v/%v): %w", i+1, len(nks), nk.Issuer, nk.Type, err)
		}
		k := issuerType{nk.Issuer, nk.Type}
		if top[k] == 255 {
			return nil, citycard.E(op, citycard.Conflict, "%v/%v: version 255 is taken, no version left", nk.Issuer, nk.Type)
		}
		top[k]++
		ref := Ref{Issuer: nk.Issuer, Type: nk.Type, Version: top[k]}
		kcv, err := KCV(nk.Alg, nk.Key)
		if err != nil {
			return nil, citycard.Wrap(op, citycard.Invalid, err)
		}
		kind := EventRotated
		if ref.Version == 1 {
			kind = EventCreated
		}
		ev := Event{
			Seq: len(doc.Events) + 1, Time: at, Kind: kind, Ref: ref, Alg: nk.Alg, KCV: kcv,
			Origin: nk.Origin, By: nk.Audit.By, Custodians: slices.Clone(nk.Audit.Custodians),
		}
		if head, err = s.appendEvent(&doc, ev); err != nil {
			return nil, citycard.Wrap(op, citycard.Other, err)
		}
		sealed, err := sealGCM(s.kek, nk.Key, []byte(ref.String()))
		if err != nil {
			return nil, citycard.Wrap(op, citycard.Other, err)
		}
		fe := doc.Events[len(doc.Events)-1]
		doc.Keys = append(doc.Keys, storeKey{
			Ref: fe.Ref, Alg: fe.Alg, KCV: fe.KCV, Created: fe.Time, Origin: nk.Origin,
			Sealed: base64.StdEncoding.EncodeToString(sealed),
		})
		todo = append(todo, pending{ref: ref, nk: nk, ev: ev})
	}
	if err := s.sealHead(&doc, head); err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	data, err := s.encode(doc)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	if len(data) > storeBytesMax {
		return nil, citycard.E(op, citycard.Invalid, "key store %s would be larger than %d bytes", s.path, storeBytesMax)
	}
	// Persist first, then commit to memory: a failed save leaves the store
	// as it was, in the file and in memory.
	if err := s.save(doc, data, false); err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	infos := make([]Info, 0, len(todo))
	for _, p := range todo {
		if _, err := s.mem.Put(p.ref, p.nk.Alg, p.nk.Key, p.nk.Origin, at); err != nil {
			// Checked above under s.mu: the store and the file now disagree.
			panic(fmt.Sprintf("keys: key %v saved to %s but not kept in memory: %v", p.ref, s.path, err))
		}
		s.events = append(s.events, p.ev)
	}
	for _, p := range todo {
		info, err := s.mem.Info(p.ref)
		if err != nil {
			panic(fmt.Sprintf("keys: key %v just stored is missing: %v", p.ref, err))
		}
		infos = append(infos, info)
	}
	return infos, nil
}

func checkNewKey(nk NewKey) error {
	if !nk.Alg.Valid() {
		return fmt.Errorf("unknown algorithm id %02X", byte(nk.Alg))
	}
	if _, ok := keyTypeNames[nk.Type]; !ok {
		return fmt.Errorf("unknown key type %d", nk.Type)
	}
	if err := checkKey(nk.Alg, nk.Key); err != nil {
		return err
	}
	if err := checkName("origin", nk.Origin, false); err != nil {
		return err
	}
	if err := checkName("operator name", nk.Audit.By, false); err != nil {
		return err
	}
	if len(nk.Audit.Custodians) > MaxComponents {
		return fmt.Errorf("%d custodians, at most %d", len(nk.Audit.Custodians), MaxComponents)
	}
	for _, c := range nk.Audit.Custodians {
		if err := checkName("custodian name", c, true); err != nil {
			return err
		}
	}
	return nil
}

// checkName refuses names that do not belong in the event log: empty
// (when required), too long, with control characters, or that look like
// key material (16 hex digits or more), which a custodian may paste into
// the wrong field.
func checkName(what, s string, required bool) error {
	if s == "" {
		if required {
			return fmt.Errorf("%s is empty", what)
		}
		return nil
	}
	if len(s) > nameLenMax {
		return fmt.Errorf("%s longer than %d bytes", what, nameLenMax)
	}
	hexRun := 0
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s has a control character", what)
		}
		if strings.ContainsRune("0123456789abcdefABCDEF", r) {
			hexRun++
			if hexRun >= 16 {
				return fmt.Errorf("%s looks like key material (a run of 16 hex digits); give a name", what)
			}
		} else {
			hexRun = 0
		}
	}
	return nil
}

// sealHead seals the chain head into doc.
func (s *FileStore) sealHead(doc *storeDoc, head [32]byte) error {
	sealed, err := sealGCM(s.kek, head[:], []byte(headAD))
	if err != nil {
		return err
	}
	doc.Head = base64.StdEncoding.EncodeToString(sealed)
	return nil
}

// encode returns the file's bytes for doc.
func (s *FileStore) encode(doc storeDoc) ([]byte, error) {
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, citycard.E("keys.FileStore.encode", citycard.Invalid, "key store %s: %v", s.path, err)
	}
	return append(data, '\n'), nil
}

// save writes data, doc's encoding, to the store file atomically, under
// the store's lock. create says the file must not exist yet; otherwise it
// must be unchanged since s read or wrote it. The caller holds s.mu (or
// owns s alone).
func (s *FileStore) save(doc storeDoc, data []byte, create bool) error {
	const op = "keys.FileStore.save"
	lock := s.path + ".lock"
	unlock, err := lockStore(lock)
	if errors.Is(err, errStoreLocked) {
		return citycard.E(op, citycard.Conflict, "key store %s: %v (lock %s)", s.path, err, lock)
	}
	if err != nil {
		return citycard.E(op, citycard.IO, "key store lock %s: %w", lock, err)
	}
	defer unlock()

	cur, err := os.ReadFile(s.path)
	switch {
	case create && err == nil:
		return citycard.E(op, citycard.Exists, "key store %s already exists", s.path)
	case create && errors.Is(err, fs.ErrNotExist):
	case err != nil && errors.Is(err, fs.ErrNotExist):
		return citycard.E(op, citycard.Conflict, "key store %s was removed since it was opened", s.path)
	case err != nil:
		return citycard.E(op, citycard.IO, "key store: %w", err)
	case sha256.Sum256(cur) != s.sum:
		return citycard.E(op, citycard.Conflict, "key store %s changed since it was opened; open it again", s.path)
	}

	if err := writeAtomic(s.path, data); err != nil {
		return citycard.E(op, citycard.IO, "key store %s: %w", s.path, err)
	}
	s.doc, s.sum = doc, sha256.Sum256(data)
	return nil
}

// writeAtomic replaces path by data: a temporary file in the same
// directory, synced, renamed over path, and the directory synced, so that
// a crash leaves either the old file or the new one.
func writeAtomic(path string, data []byte) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, base+".tmp-*") // mode 0600
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, path)
	}
	if err != nil {
		os.Remove(name)
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// ParseRef parses a key id as Ref.String writes it: ISSUER/type/vN.
// Kind Invalid otherwise.
func ParseRef(s string) (Ref, error) {
	const op = "keys.ParseRef"
	parts := strings.Split(s, "/")
	if len(parts) != 3 || !strings.HasPrefix(parts[2], "v") {
		return Ref{}, citycard.E(op, citycard.Invalid, "key id %q: want ISSUER/type/vN", s)
	}
	issuer, err := citycard.ParseIssuerCode(parts[0])
	if err != nil {
		return Ref{}, citycard.Wrap(op, citycard.Invalid, err)
	}
	t, err := ParseKeyType(parts[1])
	if err != nil {
		return Ref{}, citycard.Wrap(op, citycard.Invalid, err)
	}
	v, err := strconv.ParseUint(parts[2][1:], 10, 8)
	if err != nil || v == 0 {
		return Ref{}, citycard.E(op, citycard.Invalid, "key id %q: version %q: want 1 to 255", s, parts[2])
	}
	return Ref{Issuer: issuer, Type: t, Version: uint8(v)}, nil
}
