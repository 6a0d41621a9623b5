package record

import (
	"strconv"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
)

// RecordKey derives a PSAM's record MAC key: the operator's record master
// key of that version (keys.Ref{Issuer: operator, Type: keys.KeyRecord,
// Version: version}) diversified by the rightmost 8 bytes of the PSAM ID.
// It is what PSAM personalization loads and what tests and tools seal
// with; it returns the master key's algorithm with the key. Kind
// KeyMissing when the store holds no such master key.
func RecordKey(store keys.Store, operator citycard.IssuerCode, version uint8, psam citycard.PSAMID) ([keys.KeyLen]byte, keys.Alg, error) {
	var k [keys.KeyLen]byte
	ref := keys.Ref{Issuer: operator, Type: keys.KeyRecord, Version: version}
	alg, err := store.DeriveInto(&k, ref, psam.Div())
	if err != nil {
		return k, 0, citycard.Wrap("record.RecordKey", citycard.Other, err)
	}
	return k, alg, nil
}

// ComputeMAC returns the record MAC of r under a PSAM record key:
// keys.MAC(alg, psamKey, r.MACData()), the retail MAC (ISO 9797-1
// algorithm 3) for a 16-byte 3DES key, the CBC-MAC for SM4. The PSAM
// computes the same in its APDU 80FA. A psamKey that is not 16 bytes, or
// an unknown alg, is a programmer error: ComputeMAC panics.
func ComputeMAC(alg keys.Alg, psamKey []byte, r *Record) [4]byte {
	if len(psamKey) != keys.KeyLen {
		panic("record.ComputeMAC: PSAM key of " + strconv.Itoa(len(psamKey)) + " bytes, want 16")
	}
	mac, err := keys.MAC(alg, psamKey, r.MACData())
	if err != nil {
		panic("record.ComputeMAC: " + err.Error())
	}
	return mac
}

// Seal sets r's record key version and record MAC under psamKey (see
// ComputeMAC): what a PSAM does, for tests, the simulator and tools.
func Seal(alg keys.Alg, psamKey []byte, version uint8, r *Record) {
	r.RecordKeyVersion = version
	r.RecordMAC = ComputeMAC(alg, psamKey, r)
}
