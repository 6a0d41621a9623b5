package terminal

import (
	"slices"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/keys"
)

var (
	testPSAMID = citycard.PSAMID{0x31, 0x50, 0, 0, 0, 0, 0, 0, 0x30, 0x01}
	testTID    = citycard.TerminalID{0x31, 0x50, 0, 0, 0x30, 0x01}
)

func ourKeys(versions ...uint8) PSAMKeys {
	pk := PSAMKeys{Operator: ourIssuer, RecordKeyVersion: 1}
	for _, v := range versions {
		pk.Issuers = append(pk.Issuers,
			keys.Ref{Issuer: ourIssuer, Type: keys.KeyPurchase, Version: v},
			keys.Ref{Issuer: ourIssuer, Type: keys.KeyMaintenance, Version: v})
	}
	return pk
}

// assertBlank checks that p answers as a PSAM that was never
// personalized: 6985 to everything.
func assertBlank(t *testing.T, p *PSAM) {
	t.Helper()
	for _, cmd := range []apdu.Command{
		{CLA: 0x00, INS: 0xB0, P1: 0x80 | psamTerminalFileSFI, Le: 6},
		{CLA: 0x80, INS: insGenerateMAC, P1: p1RecordMAC, Data: []byte{1, 2, 3}, Le: 4},
		{CLA: 0x80, INS: insInitSAMPurchase, Data: make([]byte, lenInitSAM), Le: 8},
	} {
		out, err := p.Transmit(cmd.Encode())
		if err != nil {
			t.Fatal(err)
		}
		r, err := apdu.ParseResponse(out)
		if err != nil || r.SW != apdu.SWConditionsNotMet || len(r.Data) != 0 {
			t.Errorf("blank PSAM: %02X%02X -> %X %v, %v; want 6985", cmd.CLA, cmd.INS, r.Data, r.SW, err)
		}
	}
	if p.RecordKeyVersion() != 0 || p.Seq() != 0 {
		t.Errorf("blank PSAM: record key v%d, seq %d", p.RecordKeyVersion(), p.Seq())
	}
}

func TestProvisionPSAM(t *testing.T) {
	w := newWorld(t, keys.Alg3DES)
	p := w.vendor.NewPSAM(testPSAMID)
	if p.ID() != testPSAMID || p.Transport() != transportRef {
		t.Fatalf("vendor's PSAM: ID %v, transport %v", p.ID(), p.Transport())
	}
	assertBlank(t, p)
	if err := ProvisionPSAM(w.store, p, testTID, ourKeys(1), 7); err != nil {
		t.Fatal(err)
	}
	if p.RecordKeyVersion() != 1 || p.Seq() != 7 {
		t.Errorf("personalized PSAM: record key v%d, seq %d; want v1, 7", p.RecordKeyVersion(), p.Seq())
	}
	// Once only.
	if err := ProvisionPSAM(w.store, p, testTID, ourKeys(1), 7); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("second provisioning: err = %v, want kind Conflict", err)
	}
}

// TestProvisionPSAMAllOrNothing: a provisioning that fails, in the store
// or in the PSAM, leaves the PSAM blank, and it can be provisioned again.
func TestProvisionPSAMAllOrNothing(t *testing.T) {
	w := newWorld(t, keys.AlgSM4)
	p := w.vendor.NewPSAM(testPSAMID)

	// A key the store does not have: nothing is written.
	if err := ProvisionPSAM(w.store, p, testTID, ourKeys(1, 2), 1); !citycard.IsKind(err, citycard.KeyMissing) {
		t.Fatalf("provisioning with a missing key: err = %v, want kind KeyMissing", err)
	}
	assertBlank(t, p)
	// A key a PSAM may not hold: the store refuses to export it.
	pk := ourKeys(1)
	pk.Issuers = append(pk.Issuers, keys.Ref{Issuer: ourIssuer, Type: keys.KeyLoad, Version: 1})
	if err := ProvisionPSAM(w.store, p, testTID, pk, 1); !citycard.IsKind(err, citycard.Permission) {
		t.Fatalf("provisioning with a load key: err = %v, want kind Permission", err)
	}
	assertBlank(t, p)
	// A record key version the store does not have.
	pk = ourKeys(1)
	pk.RecordKeyVersion = 9
	if err := ProvisionPSAM(w.store, p, testTID, pk, 1); !citycard.IsKind(err, citycard.KeyMissing) {
		t.Fatalf("provisioning with a missing record key: err = %v, want kind KeyMissing", err)
	}
	assertBlank(t, p)

	// A PSAM from a vendor whose transport master is not the store's
	// (version 2 in the store, the vendor's own copy differs): its keys do
	// not open in it, and it stays blank.
	ref2 := keys.Ref{Issuer: ourIssuer, Type: keys.KeyTransport, Version: 2}
	w.newVendor(ref2, keys.AlgSM4)
	rogue, err := NewPSAMVendor(ref2, keys.AlgSM4, randomKey())
	if err != nil {
		t.Fatal(err)
	}
	q := rogue.NewPSAM(testPSAMID)
	if err := ProvisionPSAM(w.store, q, testTID, ourKeys(1), 1); !citycard.IsKind(err, citycard.Crypto) {
		t.Fatalf("provisioning a PSAM of another transport key: err = %v, want kind Crypto", err)
	}
	assertBlank(t, q)

	// The blank PSAM is provisioned again once the store is right.
	if err := ProvisionPSAM(w.store, p, testTID, ourKeys(1), 1); err != nil {
		t.Fatalf("provisioning again: %v", err)
	}
	if p.RecordKeyVersion() != 1 {
		t.Error("PSAM still blank after a good provisioning")
	}
}

// TestPSAMInjectKey: after a rotation, a personalized PSAM takes the new
// version wrapped for it, and serves the cards personalized with it; a key
// wrapped for another PSAM does not open in it.
func TestPSAMInjectKey(t *testing.T) {
	w := newWorld(t, keys.Alg3DES)
	pos := w.terminal(ModePOS, 0, FlatFare{}, nil)
	psam := pos.cfg.PSAM.(*PSAM)
	w.putKeys(ourIssuer, keys.Alg3DES, 2, append(slices.Clone(keys.CardKeyTypes), keys.KeyRecord)...)
	c := w.newCard(card.ProfileMOHURD, 42, 2, 1)
	w.load(c, 1000)
	pos2, err := New(Config{
		PSAM: psam, PSAMID: psam.ID(), RecordKeyVersion: 1, Mode: ModePOS, Network: 1, Line: 1,
		Fare: FlatFare{}, Spool: newMemSpool(), KeyVersions: []uint8{2, 1}, MaintenanceKeyVersion: 1,
		Now: func() time.Time { return w.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := pos2.Tap(c, 100); err == nil && r.Record.KeyVersion == 2 {
		t.Fatal("a PSAM without the v2 key made a v2 record")
	}

	v2 := keys.Ref{Issuer: ourIssuer, Type: keys.KeyPurchase, Version: 2}
	other := citycard.PSAMID{0x31, 0x50, 0, 0, 0, 0, 0, 0, 0x30, 0x99}
	wrong, err := w.store.Wrap(v2, transportRef, other.Div())
	if err != nil {
		t.Fatal(err)
	}
	if err := psam.InjectKey(v2, wrong, false); !citycard.IsKind(err, citycard.Crypto) {
		t.Fatalf("InjectKey of a key wrapped for another PSAM: err = %v, want kind Crypto", err)
	}
	w2, err := w.store.Wrap(v2, transportRef, psam.ID().Div())
	if err != nil {
		t.Fatal(err)
	}
	if err := psam.InjectKey(keys.Ref{Issuer: ourIssuer, Type: keys.KeyMaintenance, Version: 2}, w2, false); !citycard.IsKind(err, citycard.Crypto) {
		t.Fatalf("InjectKey of a purchase key as a maintenance key: err = %v, want kind Crypto", err)
	}
	if err := psam.InjectKey(keys.Ref{Issuer: ourIssuer, Type: keys.KeyLoad, Version: 2}, w2, false); !citycard.IsKind(err, citycard.Invalid) {
		t.Fatalf("InjectKey of a load key: err = %v, want kind Invalid", err)
	}
	if err := psam.InjectKey(v2, w2, false); err != nil {
		t.Fatal(err)
	}
	w.now = w.now.Add(time.Minute)
	r, err := pos2.Tap(c, 100)
	if err != nil || r.Record.KeyVersion != 2 {
		t.Fatalf("v2 card after the v2 key was injected: key version %d, %v; want 2", r.Record.KeyVersion, err)
	}
	if err := w.verifier().Verify(&r.Record); err != nil {
		t.Fatalf("its record: %v", err)
	}
}

func TestNewPSAMVendor(t *testing.T) {
	if _, err := NewPSAMVendor(keys.Ref{Issuer: ourIssuer, Type: keys.KeyPurchase, Version: 1}, keys.Alg3DES, randomKey()); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("a vendor of a purchase key: err = %v, want kind Invalid", err)
	}
	if _, err := NewPSAMVendor(transportRef, keys.Alg3DES, randomKey()[:8]); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("a vendor of an 8-byte key: err = %v, want kind Invalid", err)
	}
}
