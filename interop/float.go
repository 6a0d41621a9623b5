package interop

import (
	"context"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/ledger"
)

// MovesFloat reports whether an interconnection entry of type t moves
// our card float by our cards' records, which FloatMoves names.
func MovesFloat(t ledger.EntryType) bool { return t == EntryIncoming || t == EntryCorrection }

// FloatMoves calls fn for each of our cards' records behind an entry of
// type t from interconnection file file that moves our card float:
// EntryIncoming, the INC file's records accepted (each the purchase it
// debits); EntryCorrection, the file's error records of our cards'
// records taken elsewhere, signed as the entry books them (positive: a
// debit of the float). The float report puts such an entry on the cards'
// products by them, and takes them off what the shadows hold: the chips
// spent it in another city, where no record of ours saw it. Entries of
// other types call nothing. fn's error stops it.
func FloatMoves(ctx context.Context, s Store, t ledger.EntryType, file string, fn func(asn citycard.ASN, fen int64) error) error {
	switch t {
	case EntryIncoming:
		return s.Records(ctx, file, func(r *Rec) error {
			if r.Out || r.State != Accepted {
				return nil
			}
			return fn(r.ASN, r.AmountFen)
		})
	case EntryCorrection:
		cs, err := s.Corrections(ctx, file, "", 0)
		if err != nil {
			return err
		}
		refs := map[string]map[int]citycard.ASN{} // the corrected records' cards, by file and Seq
		for _, c := range cs {
			if c.Out || c.Type != FileError {
				continue
			}
			if refs[c.RefFile] == nil {
				asns := map[int]citycard.ASN{}
				if err := s.Records(ctx, c.RefFile, func(r *Rec) error { asns[r.Seq] = r.ASN; return nil }); err != nil {
					return err
				}
				refs[c.RefFile] = asns
			}
			asn, ok := refs[c.RefFile][c.RefSeq]
			if !ok {
				return citycard.E("interop.FloatMoves", citycard.NotFound, "error record %d of %s: no record %d in %s", c.Seq, file, c.RefSeq, c.RefFile)
			}
			if err := fn(asn, c.AmountFen); err != nil {
				return err
			}
		}
	}
	return nil
}
