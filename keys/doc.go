// Package keys is the cryptography of the e-purse and the custody of its
// keys: key diversification, session keys, MAC1, MAC2 and TAC of purchases
// and loads (PBOC 2.0 electronic purse as CJ/T 166 and JT/T 978 inherit
// it), key check values, and the key stores that hold the issuer's master
// keys and never hand one out in clear, nor a key that decrypts one.
//
// Card, PSAM, terminal and back office all compute the same proofs with
// PurchaseProof and LoadProof; the back office verifies a record's TAC by
// deriving the card's DTK from the store (Store.DeriveInto) on its hot
// path, without allocating.
//
// # Key hierarchy
//
//	issuer master keys (in the Store, one per issuer, type and version)
//	  MK-DPK, MK-DLK, MK-DTK, MK-DAMK     card key types (KeyPurchase, KeyLoad, KeyTAC, KeyMaintenance)
//	  MK-record                           the PSAM record MAC master key (KeyRecord)
//	      | diversified by the card's ASN (rightmost 8 bytes; an interconnected
//	      | city's card: first by its issuer code, then by the ASN)
//	card keys DPK, DLK, DTK, DAMK         personalized into the card
//	      | session input: the card's random and counter, the terminal's sequence
//	session keys SESPK, SESLK             MAC1 and MAC2 of one purchase or load
//	TAC key (from DTK)                    the TAC of every purchase and load
//
//	MK-record diversified by the PSAM ID -> the PSAM's record MAC key
//	MK-transport diversified by the PSAM ID -> the PSAM's transport key,
//	    under which the store wraps the master keys the PSAM holds
//
// Diversification, with F the rightmost 8 bytes of the identity:
// 3DES child = 3DES_MK(F) || 3DES_MK(NOT F) (2-key 3DES, K1 K2 K1).
// Integers are big-endian, dates and times BCD, and MAC padding is ISO
// 9797-1 method 2: 80 then zeros to a whole block, a whole block of data
// getting a whole padding block. A 3DES MAC under an 8-byte key (session
// keys, the folded TAC key) is single-DES CBC-MAC with IV zero, left 4
// bytes; under a 16-byte key (the record MAC) it is ISO 9797-1 MAC
// algorithm 3, the retail MAC.
//
// Each master key has versions: a card names the version it was
// personalized with and a record the version it was made under, so after a
// rotation (a new version, see NextVersion and FileStore.Add) the old
// versions stay in the store and keep verifying; the newest is active and
// personalizes new cards.
//
// # SM4 (algorithm id 04): our choices
//
// The public documents fix the 3DES layouts; for SM4 some are left open.
// These are the choices of this package, made here once, used by card,
// PSAM and back office alike and pinned by the openssl vectors of
// testdata/vectors.json (see testdata/genvectors.sh):
//
//  1. Diversification: child = SM4_MK(F || NOT F), one 16-byte block
//     (3DES encrypts F and NOT F separately, one 8-byte block each).
//  2. Session key: SM4_K(input || 80 00 00 00 00 00 00 00): the 8-byte
//     session input (the same as for 3DES) padded by method 2 to one block;
//     the session key is 16 bytes.
//  3. MAC: SM4 CBC-MAC with IV zero over 16-byte blocks, method 2 padding
//     to 16 bytes, left 4 bytes of the last block. There is no retail
//     variant: the record MAC under SM4 is this same MAC.
//  4. TAC key: the card's DTK itself, 16 bytes, not folded (3DES folds the
//     DTK into DTK_left XOR DTK_right, a single-DES key).
//  5. Key check value: the first 3 bytes of SM4_K(16 zero bytes) (3DES: of
//     8 zero bytes).
//
// # Key custody
//
// MemStore keeps keys in memory (tests, trace). FileStore persists them
// to one file, each key sealed with AES-256-GCM under a key-encryption key
// (KEK), with a hash-chained log of who created or rotated which key, and
// who exported which key for which PSAM. Master keys enter the store under
// dual control: GenerateSplit makes a key and its XOR components for two
// or more custodians, and CombineComponents rebuilds a key from the
// custodians' components, each checked against its KCV.
//
// A key leaves the store in one of two ways only. Child keys (a card's
// keys for its personalization, a PSAM's record key, the keys the back
// office verifies TACs and record MACs with) come out of DeriveInto. The
// master keys a PSAM holds (PSAMKeyTypes: purchase, maintenance and
// application) come
// out of Wrap, encrypted under that PSAM's transport key; load and TAC
// master keys, which would let their holder credit cards and forge TACs,
// and record master keys never leave at all.
//
// # Transport keys and the key wrap
//
// A PSAM is a secure element, provisioned as the field does it. Its
// vendor delivers it holding its transport key: the transport master key
// (KeyTransport) diversified by the PSAM's ID, written into the chip at
// pre-personalization. The vendor and the operator each hold the transport
// master in their own key store, from one key ceremony: the components
// travel under dual control from whoever made the key to the other's
// custodians. At the key injection station, Wrap(ref, transport, psamID)
// derives the PSAM's transport key inside the store, wraps ref's master
// key under it and forgets it; the host relays the ciphertext, and the
// PSAM opens it with UnwrapKey and the key it was born with. A transport
// key is for wrapping only: DeriveInto refuses it (kind Permission) and
// Wrap never exports one, so no method of a Store returns a master key, or
// a key that would decrypt one, in clear. (terminal.PSAMVendor plays the
// vendor in tests and simulations; terminal.ProvisionPSAM the station.)
//
// The wrap (pinned by testdata/crypto.json, computed with openssl):
// KWK = HKDF-SHA256(transport key, no salt, "citycard-keys/1 wrap
// AES-256-GCM"), and wrapped = nonce(12) || AES-256-GCM_KWK(alg(1) ||
// key(16), AD = the key's Ref string) || tag(16), 45 bytes. The transport
// key is a store key like any other (3DES or SM4, 16 bytes, versioned,
// ceremonies, KCV) and is diversified as every PSAM key is; HKDF turns it
// into an AES key so that its bytes serve one algorithm only. AES-GCM
// authenticates what the ciphertext is: the Ref as additional data binds
// issuer, type and version, and the algorithm id inside the plaintext
// keeps a host from passing a 3DES key off as an SM4 one, as a TR-31 key
// block's header does. A PKCS#11 HSM implements the same Wrap with
// standard mechanisms: CKM_DES3_ECB_ENCRYPT_DATA (or the SM4 equivalent)
// derives the transport key from the master, CKM_HKDF_DERIVE the KWK with
// CKA_WRAP only, and C_WrapKey with CKM_AES_GCM and the Ref as AAD
// exports the key; every intermediate key stays a non-extractable session
// object.
//
// The vendor holds the transport master, so it could open what is wrapped
// for its PSAMs; that is the trust the field places in PSAM vendors. An
// operator who trusts no one else would replace each PSAM's transport key
// at its first personalization with one only the operator's store holds;
// this package leaves that step out.
package keys
