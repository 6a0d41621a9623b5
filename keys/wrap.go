package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"slices"

	"github.com/citycard/citycard"
)

// The key wrap: the layout in which a master key travels from the store to
// a PSAM (see the package doc, "Key custody").
const (
	// wrapInfo is the HKDF info of the wrapping key: it names the use and
	// its version, so that the transport key's bytes serve one algorithm
	// only (AES-256-GCM through HKDF), never 3DES or SM4 directly.
	wrapInfo = "citycard-keys/1 wrap AES-256-GCM"
	// gcmNonceLen and gcmTagLen are AES-GCM's standard nonce and tag.
	gcmNonceLen = 12
	gcmTagLen   = 16
	// WrappedLen is the length of a wrapped key: nonce(12), the encrypted
	// algorithm id (1) and key (16), tag(16).
	WrappedLen = gcmNonceLen + 1 + KeyLen + gcmTagLen
	// pathIDLenMax bounds each id of a transport key's diversification
	// path: a PSAM ID is 10 bytes, and only its rightmost 8 count.
	pathIDLenMax = 16
)

// wrappingKey derives the AES-256 key that wraps keys for a PSAM from the
// PSAM's transport key: HKDF-SHA256 (RFC 5869) with no salt and info
// wrapInfo.
func wrappingKey(transportKey []byte) ([]byte, error) {
	const op = "keys.wrappingKey"
	if len(transportKey) != KeyLen {
		return nil, citycard.E(op, citycard.Invalid, "transport key of %d bytes, want %d", len(transportKey), KeyLen)
	}
	k, err := hkdf.Key(sha256.New, transportKey, nil, wrapInfo, 32)
	if err != nil {
		return nil, citycard.E(op, citycard.Crypto, "HKDF: %w", err)
	}
	return k, nil
}

// wrapKey wraps key (a master key of algorithm alg named ref) under a
// PSAM's transport key, with a random nonce; see UnwrapKey for the layout.
func wrapKey(transportKey []byte, ref Ref, alg Alg, key []byte) ([]byte, error) {
	nonce := make([]byte, gcmNonceLen)
	if _, err := rand.Read(nonce); err != nil {
		return nil, citycard.E("keys.wrapKey", citycard.IO, "random nonce: %w", err)
	}
	return wrapKeyNonce(transportKey, ref, alg, key, nonce)
}

// wrapKeyNonce is wrapKey with the nonce given (12 bytes, never used twice
// under one transport key: the vectors' fixed nonces are for tests only).
func wrapKeyNonce(transportKey []byte, ref Ref, alg Alg, key, nonce []byte) ([]byte, error) {
	const op = "keys.wrapKey"
	if len(key) != KeyLen || !alg.Valid() {
		return nil, citycard.E(op, citycard.Invalid, "%v key of %d bytes", alg, len(key))
	}
	if len(nonce) != gcmNonceLen {
		return nil, citycard.E(op, citycard.Invalid, "nonce of %d bytes, want %d", len(nonce), gcmNonceLen)
	}
	kwk, err := wrappingKey(transportKey)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	defer clear(kwk)
	g, err := newGCM(kwk)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	var plain [1 + KeyLen]byte
	defer clear(plain[:])
	plain[0] = byte(alg)
	copy(plain[1:], key)
	out := make([]byte, 0, WrappedLen)
	out = append(out, nonce...)
	return g.Seal(out, nonce, plain[:], []byte(ref.String())), nil
}

// UnwrapKey opens a master key that Store.Wrap wrapped for a PSAM, with
// the PSAM's transport key (16 bytes), and returns its algorithm and its
// material; the PSAM calls it when a key is injected, and nothing else
// should hold a transport key.
//
// The layout (pinned by testdata/crypto.json, computed with openssl):
// wrapped = nonce(12) || AES-256-GCM_KWK(alg(1) || key(16), AD = ref's
// string) || tag(16), where KWK = HKDF-SHA256(transport key, no salt,
// info "citycard-keys/1 wrap AES-256-GCM"), 32 bytes. The additional data
// binds the key to its issuer, type and version, and the algorithm id
// travels inside the encryption: a host that relays the wrapped key can
// pass it off neither as another key nor as one of another algorithm.
//
// Kind Invalid for a transport key of other than 16 bytes or a wrapped
// key of other than WrappedLen bytes; Crypto when it does not open (wrong
// transport key, wrong ref, altered) or holds no usable key.
func UnwrapKey(transportKey []byte, ref Ref, wrapped []byte) (Alg, []byte, error) {
	const op = "keys.UnwrapKey"
	if len(wrapped) != WrappedLen {
		return 0, nil, citycard.E(op, citycard.Invalid, "wrapped key of %d bytes, want %d", len(wrapped), WrappedLen)
	}
	kwk, err := wrappingKey(transportKey)
	if err != nil {
		return 0, nil, citycard.Wrap(op, citycard.Other, err)
	}
	defer clear(kwk)
	plain, err := openGCM(kwk, wrapped, []byte(ref.String()))
	if err != nil {
		return 0, nil, citycard.E(op, citycard.Crypto, "key %v does not open under this transport key: wrong transport key, another key's wrapping, or altered", ref)
	}
	defer clear(plain)
	alg := Alg(plain[0])
	if !alg.Valid() || checkKey(alg, plain[1:]) != nil {
		return 0, nil, citycard.E(op, citycard.Crypto, "key %v opens to no usable key", ref)
	}
	return alg, slices.Clone(plain[1:]), nil
}

// checkWrap applies the rules of Store.Wrap to its arguments.
func checkWrap(ref, transport Ref, path [][]byte) error {
	const op = "keys.checkWrap"
	if ref.Type == KeyTransport {
		return citycard.E(op, citycard.Permission, "%v is a transport key: it never leaves the store", ref)
	}
	if !slices.Contains(PSAMKeyTypes, ref.Type) {
		return citycard.E(op, citycard.Permission, "%v is a %v key: only the keys a PSAM holds (purchase, maintenance) are wrapped", ref, ref.Type)
	}
	if transport.Type != KeyTransport {
		return citycard.E(op, citycard.Permission, "%v is a %v key, not a transport key: keys are wrapped only under transport keys", transport, transport.Type)
	}
	return checkPath(path)
}

// checkPath checks a transport key's diversification path: one or two ids
// of 1 to pathIDLenMax bytes.
func checkPath(path [][]byte) error {
	const op = "keys.checkPath"
	if len(path) != 1 && len(path) != 2 {
		return citycard.E(op, citycard.Invalid, "diversification path of %d levels, want 1 or 2", len(path))
	}
	for i, id := range path {
		if len(id) == 0 || len(id) > pathIDLenMax {
			return citycard.E(op, citycard.Invalid, "diversification path: id %d of %d bytes, want 1 to %d", i+1, len(id), pathIDLenMax)
		}
	}
	return nil
}

// sealGCM encrypts plain under a 32-byte key with AES-256-GCM, binding ad;
// the result is nonce(12) || ciphertext || tag(16). It seals the key store
// file's keys at rest under the KEK, and wraps keys for PSAMs.
func sealGCM(key, plain, ad []byte) ([]byte, error) {
	g, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcmNonceLen, gcmNonceLen+len(plain)+gcmTagLen)
	if _, err := rand.Read(nonce); err != nil {
		return nil, citycard.E("keys.sealGCM", citycard.IO, "random nonce: %w", err)
	}
	return g.Seal(nonce, nonce, plain, ad), nil
}

// openGCM reverses sealGCM. Kind Invalid for data too short to be sealed,
// Crypto if the key or ad is wrong or the data was altered.
func openGCM(key, sealed, ad []byte) ([]byte, error) {
	g, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcmNonceLen+gcmTagLen {
		return nil, citycard.E("keys.openGCM", citycard.Invalid, "sealed data of %d bytes is too short", len(sealed))
	}
	plain, err := g.Open(nil, sealed[:gcmNonceLen], sealed[gcmNonceLen:], ad)
	if err != nil {
		return nil, citycard.E("keys.openGCM", citycard.Crypto, "wrong key or altered data")
	}
	return plain, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, citycard.E("keys.newGCM", citycard.Invalid, "AES-256-GCM key of %d bytes, want 32", len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, citycard.E("keys.newGCM", citycard.Invalid, "AES key: %w", err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, citycard.E("keys.newGCM", citycard.Invalid, "GCM: %w", err)
	}
	return g, nil
}
