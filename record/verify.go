package record

import (
	"crypto/cipher"
	"crypto/subtle"
	"errors"
	"sync"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
)

// ErrPendingIssuer is in the chain of Verify's error (kind KeyMissing)
// when the store holds no TAC key at all of the record's issuer: the card
// is another city's, its TAC is for its issuer to verify, and the record
// is accepted as pending issuer verification. Test with IsPendingIssuer.
var ErrPendingIssuer = errors.New("pending issuer verification: no TAC key of this issuer is held")

// IsPendingIssuer reports whether err says that a record's TAC is for its
// issuer to verify (see ErrPendingIssuer). Its record MAC was verified
// first, so the record did come from one of our terminals.
func IsPendingIssuer(err error) bool { return errors.Is(err, ErrPendingIssuer) }

// ErrRecordMAC and ErrTAC say which MAC of a record failed (kind Crypto);
// check with errors.Is.
var (
	ErrRecordMAC = errors.New("record MAC mismatch")
	ErrTAC       = errors.New("TAC mismatch")
)

// Bounds of the Verifier's caches. A city has tens of thousands of PSAMs
// and a handful of record key versions live at once; when a cache is full
// it is dropped whole and refills from the store, which keeps the code
// simple and the memory bounded (about 600 bytes a PSAM key).
const (
	maxPSAMKeys = 1 << 16
	maxIssuers  = 1 << 12
	// maxTACKeys bounds the cards whose TAC key schedule is kept (about
	// 200 bytes each): the cards of a day's uploads repeat (a tap in and
	// out, a commute), so a card's key is set up once while it is recent.
	maxTACKeys = 1 << 16
)

// Verifier checks the record MAC and the TAC of records against a key
// store: the record MAC under the record master key of the operator whose
// PSAM sealed the record (each operator's PSAMs are personalized from its
// own record master key, kept under the operator's code, so that one
// operator's PSAMs cannot seal another's records), the TAC under the card
// issuer's. It is safe for concurrent use. On its hot path it allocates
// nothing of its own: it caches each PSAM's record MAC key schedule and
// the TAC key schedule of each card seen lately (key setup is a seventh
// of an upload's CPU, and crypto/des and SM4 return a new cipher), and
// derives a card's TAC key the first time into pooled buffers.
//
// A Verifier caches what the store derives under a key reference; a key
// store never changes the key under a reference (a rotation adds a
// version), so the caches never go stale.
type Verifier struct {
	store keys.Store
	own   citycard.IssuerCode // our issuer: its records' TACs must verify here

	mu    sync.RWMutex
	psams map[psamRef]*macKey
	// issuers holds the issuers known to have a TAC key in the store. Only
	// the positive answer is cached: keys are added, never removed.
	issuers map[citycard.IssuerCode]bool
	// tacs holds the TAC key schedules of the cards seen lately.
	tacs map[tacRef]tacKey

	scratch sync.Pool // of *scratch
}

// tacRef names a card's TAC key: its issuer's TAC master key of a
// version, diversified by the card's ASN.
type tacRef struct {
	issuer  citycard.IssuerCode
	asn     citycard.ASN
	version uint8
}

// tacKey is a card's TAC key schedule and the algorithm of its master key.
type tacKey struct {
	b   cipher.Block
	alg keys.Alg
}

type psamRef struct {
	sealer  citycard.IssuerCode // the record master key's owner: the PSAM's operator
	id      citycard.PSAMID
	version uint8
}

// macKey is a MAC key's prepared block ciphers: for the retail MAC, k1 the
// single-DES chain key and last the 3DES key of the last block; for a
// plain CBC-MAC, k1 nil and last the key of every block.
type macKey struct {
	k1   cipher.Block
	last cipher.Block
}

// scratch holds one verification's buffers. It lives in a sync.Pool:
// buffers passed to a cipher.Block or a keys.Store through an interface
// escape to the heap, so stack buffers would cost an allocation each.
type scratch struct {
	asn    [8]byte
	path   [1][]byte // path[0] is asn[:]
	dtk    [keys.KeyLen]byte
	tacKey [8]byte
	data   [macDataSize + 16]byte // MAC input and its padding
	chain  [16]byte
}

// NewVerifier returns a Verifier over store for our issuer own: the TAC
// of a card of own must verify (a missing key is a rejection, never
// "pending issuer"), and Verify checks record MACs under own's record key
// (the issuer's own terminals: kiosks, service points); VerifyFor takes
// the operator whose record key sealed the record.
//
// A Verifier needs its store: over a nil store (or as the zero Verifier)
// it verifies nothing, and every Verify and VerifyFor returns kind
// KeyMissing saying it has no key store. An error and not a panic: the
// acquirer turns it into rejections (reason key), kept and resubmittable
// once the wiring is fixed. Not kind Invalid, which a grey record's
// verification returns once its record MAC is good: a grey record must
// never pass for one whose MAC was checked.
func NewVerifier(store keys.Store, own citycard.IssuerCode) *Verifier {
	v := &Verifier{
		store:   store,
		own:     own,
		psams:   map[psamRef]*macKey{},
		issuers: map[citycard.IssuerCode]bool{},
		tacs:    map[tacRef]tacKey{},
	}
	v.scratch.New = func() any {
		s := new(scratch)
		s.path[0] = s.asn[:]
		return s
	}
	return v
}

// Verify is VerifyFor(r, own): a record of one of our own issuer's
// terminals.
func (v *Verifier) Verify(r *Record) error { return v.VerifyFor(r, v.own) }

// VerifyFor checks r, sealed by a PSAM of the operator whose record
// master keys are kept under code sealer: first its record MAC, under the
// PSAM key of r.PSAMID and r.RecordKeyVersion derived from sealer's
// record master key, then its TAC, under the card's TAC key derived
// from the issuer's TAC master key of version r.KeyVersion and the card's
// ASN. It returns nil if both verify; otherwise:
//   - kind Crypto: "record MAC mismatch", "TAC mismatch", or the TAC master
//     key's algorithm is not r.Alg;
//   - kind KeyMissing with ErrPendingIssuer (see IsPendingIssuer): the
//     record MAC is good but the store holds no TAC key of r.Issuer, so
//     the card is another city's and its issuer verifies the TAC;
//   - kind KeyMissing without it: no record key of r.RecordKeyVersion, or
//     no TAC key of r.KeyVersion for an issuer whose other TAC keys the
//     store holds (ours): a rejection;
//   - kind KeyMissing, too, from a Verifier without a key store (see
//     NewVerifier);
//   - kind Invalid: a grey record (its record MAC is good, but it has no
//     TAC to verify: it goes to suspense), or a status, type or algorithm
//     id outside the layout's.
//
// Verify checks only what the MACs prove; r's other rules are the
// decoders' (see Validate).
func (v *Verifier) VerifyFor(r *Record, sealer citycard.IssuerCode) error {
	const op = "record.Verifier.Verify"
	if v.store == nil {
		return citycard.E(op, citycard.KeyMissing, "no key store: the Verifier was made with a nil store (NewVerifier) or is the zero Verifier")
	}
	if !r.Status.Valid() || !validType(r.Type) || !r.Alg.Valid() {
		return citycard.E(op, citycard.Invalid, "status %d, type %02X, algorithm id %02X: not a record to verify", r.Status, r.Type, byte(r.Alg))
	}
	mk, err := v.psamKey(sealer, r.PSAMID, r.RecordKeyVersion)
	if err != nil {
		return citycard.E(op, citycard.KindOf(err), "record key v%d of operator %v for PSAM %v: rejected: %w", r.RecordKeyVersion, sealer, r.PSAMID, err)
	}
	s := v.scratch.Get().(*scratch)
	defer v.putScratch(s)
	n := len(r.appendMACData(s.data[:0]))
	if !keys.Equal4(mk.sum(s, n), r.RecordMAC) {
		return citycard.E(op, citycard.Crypto, "%w (PSAM %v, terminal sequence %d)", ErrRecordMAC, r.PSAMID, r.TerminalSeq)
	}
	if r.Status == StatusGrey {
		return citycard.E(op, citycard.Invalid, "grey record (PSAM %v, terminal sequence %d): no TAC to verify", r.PSAMID, r.TerminalSeq)
	}
	if r.Type == citycard.TxApplication {
		return v.verifyStamp(op, r, s)
	}
	return v.verifyTAC(op, r, s)
}

// verifyTAC checks r's TAC with s's buffers; the record MAC is the
// caller's.
func (v *Verifier) verifyTAC(op string, r *Record, s *scratch) error {
	k, err := v.tacKey(op, r, s)
	if err != nil {
		return err
	}
	if k.alg != r.Alg {
		return citycard.E(op, citycard.Crypto, "TAC key %v is %v but the record says the card used %v",
			keys.Ref{Issuer: r.Issuer, Type: keys.KeyTAC, Version: r.KeyVersion}, k.alg, r.Alg)
	}
	var n int
	if r.Type == citycard.TxLoad {
		n = copy(s.data[:], keys.LoadTACData(&keys.Load{
			OnlineCounter: r.Counter,
			BalanceBefore: r.BalanceBefore,
			Amount:        r.Amount,
			Type:          r.Type,
			TerminalID:    r.TerminalID,
			Date:          r.Date,
			Time:          r.Time,
		}))
	} else {
		n = len(keys.AppendPurchaseTACData(s.data[:0], r.Amount, r.Type, r.TerminalID, r.TerminalSeq, r.Date, r.Time))
	}
	tac := macKey{last: k.b}.sum(s, n)
	if !keys.Equal4(tac, r.TAC) {
		return citycard.E(op, citycard.Crypto, "%w (card %v/%v, counter %d)", ErrTAC, r.Issuer, r.ASN, r.Counter)
	}
	return nil
}

// tacKey returns the TAC key schedule of r's card, from the cache or
// derived from the store with s's buffers; errors are verifyTAC's.
func (v *Verifier) tacKey(op string, r *Record, s *scratch) (tacKey, error) {
	ref := tacRef{issuer: r.Issuer, asn: r.ASN, version: r.KeyVersion}
	v.mu.RLock()
	k, ok := v.tacs[ref]
	v.mu.RUnlock()
	if ok {
		return k, nil
	}
	copy(s.asn[:], r.ASN[2:])
	alg, err := v.store.DeriveInto(&s.dtk, keys.Ref{Issuer: r.Issuer, Type: keys.KeyTAC, Version: r.KeyVersion}, s.path[:]...)
	if err != nil {
		if citycard.IsKind(err, citycard.KeyMissing) {
			return k, v.missingTAC(op, r, err)
		}
		return k, citycard.Wrap(op, citycard.Other, err)
	}
	// The TAC key is keys.TACKey's: for 3DES the DTK's halves XORed into
	// a single-DES key, for SM4 the DTK itself. TestVerifySealed holds the
	// two to the same answer (its TACs come from keys.PurchaseProof and
	// keys.LoadProof); this copy writes into the pooled buffer.
	key := s.dtk[:]
	if alg == keys.Alg3DES {
		subtle.XORBytes(s.tacKey[:], s.dtk[:8], s.dtk[8:])
		key = s.tacKey[:]
	}
	b, err := keys.NewBlock(alg, key)
	if err != nil {
		return k, citycard.Wrap(op, citycard.Other, err)
	}
	k = tacKey{b: b, alg: alg}
	v.mu.Lock()
	if len(v.tacs) >= maxTACKeys {
		clear(v.tacs)
	}
	v.tacs[ref] = k
	v.mu.Unlock()
	return k, nil
}

// missingTAC classifies a TAC key the store does not hold: pending issuer
// verification if the store holds no TAC key of the issuer at all (and it
// is not the operator itself), a rejection otherwise.
func (v *Verifier) missingTAC(op string, r *Record, err error) error {
	if r.Issuer == v.own {
		return citycard.E(op, citycard.KeyMissing, "no TAC key v%d of our own issuer %v: rejected: %w", r.KeyVersion, r.Issuer, err)
	}
	held, lerr := v.issuerHeld(r.Issuer)
	if lerr != nil {
		return citycard.Wrap(op, citycard.Other, lerr)
	}
	if !held {
		return citycard.E(op, citycard.KeyMissing, "issuer %v: %w", r.Issuer, ErrPendingIssuer)
	}
	return citycard.E(op, citycard.KeyMissing, "no TAC key v%d of issuer %v, whose other TAC keys are held: rejected: %w", r.KeyVersion, r.Issuer, err)
}

// Foreign reports whether issuer is another city's: not our own, and the
// store holds no TAC key of it. A complete record of its card is pending
// its issuer's verification (ErrPendingIssuer); Foreign tells the same of
// a grey one, which has no TAC to verify. The store's errors pass
// through; kind KeyMissing from a Verifier without a store.
func (v *Verifier) Foreign(issuer citycard.IssuerCode) (bool, error) {
	if v.store == nil {
		return false, citycard.E("record.Verifier.Foreign", citycard.KeyMissing, "no key store: the Verifier was made with a nil store (NewVerifier) or is the zero Verifier")
	}
	if issuer == v.own {
		return false, nil
	}
	held, err := v.issuerHeld(issuer)
	return !held, err
}

// issuerHeld reports whether the store holds a TAC key of issuer, of any
// version.
func (v *Verifier) issuerHeld(issuer citycard.IssuerCode) (bool, error) {
	v.mu.RLock()
	held := v.issuers[issuer]
	v.mu.RUnlock()
	if held {
		return true, nil
	}
	infos, err := v.store.List()
	if err != nil {
		return false, err
	}
	for _, in := range infos {
		if in.Issuer == issuer && in.Type == keys.KeyTAC {
			v.mu.Lock()
			if len(v.issuers) >= maxIssuers {
				clear(v.issuers)
			}
			v.issuers[issuer] = true
			v.mu.Unlock()
			return true, nil
		}
	}
	return false, nil
}

// psamKey returns the prepared record MAC key of a PSAM, from the cache or
// derived from the store. Kind KeyMissing when the store holds no record
// master key of that version.
func (v *Verifier) psamKey(sealer citycard.IssuerCode, id citycard.PSAMID, version uint8) (*macKey, error) {
	ref := psamRef{sealer: sealer, id: id, version: version}
	v.mu.RLock()
	mk := v.psams[ref]
	v.mu.RUnlock()
	if mk != nil {
		return mk, nil
	}
	k, alg, err := RecordKey(v.store, sealer, version, id)
	defer clear(k[:])
	if err != nil {
		return nil, err
	}
	mk = &macKey{}
	if alg == keys.Alg3DES {
		if mk.k1, err = keys.NewBlock(alg, k[:8]); err != nil {
			return nil, err
		}
	}
	if mk.last, err = keys.NewBlock(alg, k[:]); err != nil {
		return nil, err
	}
	v.mu.Lock()
	if len(v.psams) >= maxPSAMKeys {
		clear(v.psams)
	}
	v.psams[ref] = mk
	v.mu.Unlock()
	return mk, nil
}

func (v *Verifier) putScratch(s *scratch) {
	clear(s.dtk[:])
	clear(s.tacKey[:])
	v.scratch.Put(s)
}

// sum is keys.MAC with prepared ciphers, over s.data[:n], using s.data's
// room for the padding (ISO 9797-1 method 2: 80, then zeros to a whole
// block) and s.chain for the CBC chain. TestMACMatchesKeys holds it to
// keys.MAC.
func (k macKey) sum(s *scratch, n int) [4]byte {
	bs := k.last.BlockSize()
	s.data[n] = 0x80
	n++
	for n%bs != 0 {
		s.data[n] = 0
		n++
	}
	chain := s.chain[:bs]
	clear(chain)
	for i := 0; i < n; i += bs {
		subtle.XORBytes(chain, chain, s.data[i:i+bs])
		if k.k1 != nil && i+bs < n {
			k.k1.Encrypt(chain, chain)
		} else {
			k.last.Encrypt(chain, chain)
		}
	}
	return [4]byte(chain)
}
