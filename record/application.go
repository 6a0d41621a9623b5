package record

import (
	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
)

// An application record (type A0, citycard.TxApplication) is a
// non-financial record: a stamp an application gate wrote in the card's
// entitlement file. It fills layout v1 as follows (the package doc's
// "Application records"):
//
//	counter        the application counter the stamp carried (not the e-purse's)
//	key_version    the application key version (the card's entitlement file key)
//	alg            the application key's algorithm
//	network        the application: 1 campus, 2 library, 3 venue, 4 site, 5 parking
//	line           the entitlement's scope: school, library, venue, site group, zone
//	station        the gate's place: a gate number, a site number
//	entry_line     the entitlement file version the gate read
//	entry_station  the uses the stamp left (loans out, admissions this month)
//	product        the action: 1 check-in, 2 check-out, 3 admission, 4 loan, 5 return
//	tac            the card's stamp MAC (keys.StampMAC)
//
// and balance_before, amount, fare_full, entry_date and entry_time are 0.

// validateApplication checks the rules only an application record has,
// in layout order; the caller checked the common ones.
func (r *Record) validateApplication() *FieldError {
	switch {
	case r.Status != StatusComplete:
		return fieldErr(fStatus, "%v on an application record, want complete: a stamp has no grey state", r.Status)
	case r.BalanceBefore != 0:
		return fieldErr(fBalanceBefore, "%d on an application record, want 0", r.BalanceBefore)
	case r.Amount != 0:
		return fieldErr(fAmount, "%d on an application record, want 0: it moves no money", r.Amount)
	case r.Network == 0 || r.Network > 0xFF:
		return fieldErr(fNetwork, "application %d, want 1-255", r.Network)
	case r.EntryStation > 0xFFFF:
		return fieldErr(fEntryStation, "uses %d on an application record, at most 65535", r.EntryStation)
	case r.EntryDate != (citycard.BCDDate{}) || r.EntryTime != (citycard.BCDTime{}):
		return fieldErr(fEntryDate, "%v %v on an application record, want zero", r.EntryDate, r.EntryTime)
	case r.Product == 0 || r.Product > 0xFF:
		return fieldErr(fProduct, "action %d, want 1-255", r.Product)
	case r.FareFull != 0:
		return fieldErr(fFareFull, "%d on an application record, want 0", r.FareFull)
	}
	return nil
}

// Stamp returns the stamp an application record says the card MACed, as
// keys.StampMAC takes it.
func (r *Record) Stamp() keys.Stamp {
	return keys.Stamp{
		Counter: r.Counter, App: uint8(r.Network), Scope: r.Line, Action: uint8(r.Product),
		TerminalID: r.TerminalID, TerminalSeq: r.TerminalSeq, Date: r.Date, Time: r.Time,
		Uses: uint16(r.EntryStation),
	}
}

// verifyStamp checks an application record's stamp MAC (in the TAC field)
// under the card's application key, derived from the issuer's
// application master key of version r.KeyVersion and the ASN. Only our
// own applications write entitlement files, so a missing key is a
// rejection (kind KeyMissing), never pending another issuer.
func (v *Verifier) verifyStamp(op string, r *Record, s *scratch) error {
	copy(s.asn[:], r.ASN[2:])
	ref := keys.Ref{Issuer: r.Issuer, Type: keys.KeyApplication, Version: r.KeyVersion}
	alg, err := v.store.DeriveInto(&s.dtk, ref, s.path[:]...)
	if err != nil {
		return citycard.E(op, citycard.KindOf(err), "application key %v of card %v: rejected: %w", ref, r.ASN, err)
	}
	if alg != r.Alg {
		return citycard.E(op, citycard.Crypto, "application key %v is %v but the record says the card used %v", ref, alg, r.Alg)
	}
	e := r.Stamp()
	mac, err := keys.StampMAC(alg, s.dtk[:], &e)
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	if !keys.Equal4(mac, r.TAC) {
		return citycard.E(op, citycard.Crypto, "%w: stamp MAC (card %v/%v, application counter %d)", ErrTAC, r.Issuer, r.ASN, r.Counter)
	}
	return nil
}
