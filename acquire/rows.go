package acquire

import (
	"time"

	"github.com/citycard/citycard"
)

// Rows is the part of a query result the stores read journal rows with:
// database/sql's *Rows and pgx's Rows both have it, so the two stores
// share the decoding below and differ only in their SQL.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// ReplayRows calls fn for every entry after position from in chunk rows
// of columns first_pos, terminal, batch_id, data (see Journal.Replay).
func ReplayRows(rows Rows, from int64, fn func(e *Journaled) error) error {
	for rows.Next() {
		var first int64
		var term, batch string
		var data []byte
		if err := rows.Scan(&first, &term, &batch, &data); err != nil {
			return err
		}
		tid, err := citycard.ParseTerminalID(term)
		if err != nil {
			return citycard.E("acquire.ReplayRows", citycard.IO, "journal chunk %d: %w", first, err)
		}
		err = DecodeChunk(first, tid, batch, data, func(e *Journaled) error {
			if e.Pos <= from {
				return nil
			}
			return fn(e)
		})
		if err != nil {
			return err
		}
	}
	return rows.Err()
}

// JournaledAt returns the entry at position pos from chunk rows of
// columns first_pos, terminal, batch_id, data: the stores' look-up of
// one journaled record, whose query selects the chunk holding pos. Kind
// NotFound if no chunk row holds it (a position past the journal's end).
func JournaledAt(rows Rows, pos int64) (Journaled, error) {
	var got Journaled
	found := false
	err := ReplayRows(rows, pos-1, func(e *Journaled) error {
		if e.Pos == pos {
			got, found = *e, true
		}
		return nil
	})
	if err == nil && !found {
		err = citycard.E("acquire.JournaledAt", citycard.NotFound, "no journaled record at position %d", pos)
	}
	return got, err
}

// ScanRejections reads rejection rows of columns pos, terminal, batch_id,
// idx, reason, detail, raw, at_ns.
func ScanRejections(rows Rows) ([]PositionedRejection, error) {
	var out []PositionedRejection
	for rows.Next() {
		var r PositionedRejection
		var term string
		var atNs int64
		if err := rows.Scan(&r.Pos, &term, &r.BatchID, &r.Index, &r.Reason, &r.Detail, &r.Raw, &atNs); err != nil {
			return nil, err
		}
		tid, err := citycard.ParseTerminalID(term)
		if err != nil {
			return nil, citycard.E("acquire.ScanRejections", citycard.IO, "rejection %d: %w", r.Pos, err)
		}
		r.Terminal = tid
		r.At = time.Unix(0, atNs).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}
