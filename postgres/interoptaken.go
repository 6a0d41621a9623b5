package postgres

import (
	"context"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/interop"
)

var _ interop.CardStore = (*Interop)(nil)

// CardRecords implements interop.CardStore, by the unique index of our
// cards' records accepted (interop_records_card, migration 0014) and
// their taps (0039).
func (s *Interop) CardRecords(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, after, limit int) ([]interop.Taken, error) {
	args, err := interop.CardRecordsArgs(issuer, asn, after, limit)
	if err != nil {
		return nil, citycard.Wrap("postgres.Interop.CardRecords", citycard.Other, err)
	}
	return all(ctx, s, "postgres.Interop.CardRecords", interop.ScanTaken, `SELECT `+interop.TakenColumns+` FROM interop_records r
		LEFT JOIN interop_taps t ON t.file_id = r.file_id AND t.seq = r.seq
		WHERE r.issuer = $1 AND r.asn = $2 AND r.out = 0 AND r.state = 'accepted' AND r.counter > $3 ORDER BY r.counter LIMIT $4`, args...)
}
