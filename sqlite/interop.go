package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/interop"
)

// Interop returns the interconnection's store (interop.Store).
func (db *DB) Interop() *Interop { return &Interop{db: db} }

// Interop is the SQLite interop.Store.
type Interop struct{ db *DB }

var _ interop.Store = (*Interop)(nil)

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

// Import implements interop.Store, in one write transaction: the file,
// the files written with it, the records and their taps, answers,
// corrections, cities, listings and ledger entries, all or none.
func (s *Interop) Import(ctx context.Context, imp *interop.Import) (bool, error) {
	const op = "sqlite.Interop.Import"
	already := false
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		var hash string
		err := tx.QueryRowContext(ctx, `SELECT sha256 FROM interop_files WHERE id = ?`, imp.File.ID).Scan(&hash)
		switch {
		case err == nil && hash == imp.File.SHA256:
			already = true
			return nil
		case err == nil:
			return citycard.E(op, citycard.Conflict, "file %s is stored with other bytes (SHA-256 %s, not %s)", imp.File.ID, hash, imp.File.SHA256)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		files := append([]interop.Stored{imp.File}, imp.Also...)
		for i := range files {
			f := files[i]
			f.At = imp.At
			if _, err := tx.ExecContext(ctx, `INSERT INTO interop_files (`+interop.FileColumns+`) VALUES (`+placeholders(13)+`)`, f.Args()...); err != nil {
				return err
			}
		}
		if err := insertAll(ctx, tx, `INSERT INTO interop_records (`+interop.RecColumns+`) VALUES (`+placeholders(15)+`)`, len(imp.Records), func(i int) []any { return imp.Records[i].Args() }); err != nil {
			return err
		}
		if err := insertAll(ctx, tx, `INSERT INTO interop_taps (`+interop.TapColumns+`) VALUES (?, ?, ?)`, len(imp.Taps), func(i int) []any { return imp.Taps[i].Args() }); err != nil {
			return err
		}
		if len(imp.Answers) > 0 {
			st, err := tx.PrepareContext(ctx, `UPDATE interop_records SET state = ?, reason = ?, answered_by = ? WHERE file_id = ? AND seq = ? AND state = 'pending'`)
			if err != nil {
				return err
			}
			defer st.Close()
			for _, a := range imp.Answers {
				res, err := st.ExecContext(ctx, a.State.String(), int64(a.Reason), imp.File.ID, a.File, int64(a.Seq))
				if err != nil {
					return err
				}
				if n, err := res.RowsAffected(); err != nil {
					return err
				} else if n != 1 {
					return citycard.E(op, citycard.Conflict, "file %s: record %d of %s is not pending: answered meanwhile", imp.File.ID, a.Seq, a.File)
				}
			}
		}
		for _, c := range imp.Cases {
			res, err := tx.ExecContext(ctx, `UPDATE interop_cases SET state = ?, answer_reason = ?, answered_by = ? WHERE ref = ? AND state = 'pending'`,
				c.State.String(), int64(c.Reason), imp.File.ID, c.Ref)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n != 1 {
				return citycard.E(op, citycard.Conflict, "file %s: case %q is not pending: answered meanwhile", imp.File.ID, c.Ref)
			}
		}
		if err := insertAll(ctx, tx, `INSERT INTO interop_corrections (`+interop.CorrectionColumns+`) VALUES (`+placeholders(14)+`)`, len(imp.Corrections), func(i int) []any { return imp.Corrections[i].Args() }); err != nil {
			return err
		}
		if err := insertAll(ctx, tx, `INSERT INTO interop_cities (`+interop.CityColumns+`) VALUES (`+placeholders(8)+`)`, len(imp.Cities), func(i int) []any { return interop.CityArgs(imp.File.ID, i+1, &imp.Cities[i]) }); err != nil {
			return err
		}
		if err := insertAll(ctx, tx, `INSERT INTO interop_listings (`+interop.ListingColumns+`) VALUES (`+placeholders(7)+`)`, len(imp.Listings), func(i int) []any { return interop.ListingArgs(imp.File.ID, i+1, &imp.Listings[i]) }); err != nil {
			return err
		}
		if len(imp.Ledger) > 0 {
			if _, err := s.db.ledger.append(ctx, tx, imp.At.UTC(), imp.Ledger); err != nil {
				return err
			}
		}
		return nil
	})
	return already, mapErr(op, err)
}

// insertAll runs query, prepared once, with the arguments of each of n
// rows.
func insertAll(ctx context.Context, tx *sql.Tx, query string, n int, args func(i int) []any) error {
	if n == 0 {
		return nil
	}
	st, err := tx.PrepareContext(ctx, query)
	if err != nil {
		return err
	}
	defer st.Close()
	for i := range n {
		if _, err := st.ExecContext(ctx, args(i)...); err != nil {
			return err
		}
	}
	return nil
}

// File implements interop.Store.
func (s *Interop) File(ctx context.Context, id string) (interop.Stored, error) {
	const op = "sqlite.Interop.File"
	f, err := interop.ScanFile(s.db.r.QueryRowContext(ctx, `SELECT `+interop.FileColumns+` FROM interop_files WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return f, citycard.E(op, citycard.NotFound, "no interconnection file %s", id)
	}
	return f, mapErr(op, err)
}

// fileList is FileColumns with the body left out.
var fileList = strings.Replace(interop.FileColumns, "body", "NULL", 1)

// Files implements interop.Store.
func (s *Interop) Files(ctx context.Context) ([]interop.Stored, error) {
	return all(ctx, s, "sqlite.Interop.Files", interop.ScanFile,
		`SELECT * FROM (SELECT `+fileList+` FROM interop_files ORDER BY at_ns DESC, id DESC LIMIT ?) AS f ORDER BY at_ns, id`, interop.FilesShownMax)
}

// Untaken implements interop.Store.
func (s *Interop) Untaken(ctx context.Context) ([]interop.Stored, error) {
	return all(ctx, s, "sqlite.Interop.Untaken", interop.ScanFile, `SELECT `+fileList+` FROM interop_files
		WHERE sent = 0 AND file_type IN ('ANS', 'INC', 'ERR') AND taken_day IS NULL ORDER BY id LIMIT ?`, clearing.InteropFilesMax)
}

// Records implements interop.Store.
func (s *Interop) Records(ctx context.Context, file string, fn func(r *interop.Rec) error) error {
	return each(ctx, s, "sqlite.Interop.Records", interop.ScanRec, fn, `SELECT `+interop.RecColumns+` FROM interop_records WHERE file_id = ? ORDER BY seq`, file)
}

// Answered implements interop.Store.
func (s *Interop) Answered(ctx context.Context, answer string, fn func(r *interop.Rec) error) error {
	return each(ctx, s, "sqlite.Interop.Answered", interop.ScanRec, fn, `SELECT `+interop.RecColumns+` FROM interop_records
		WHERE answered_by = ? AND out = 1 ORDER BY file_id, seq`, answer)
}

// Seen implements interop.Store.
func (s *Interop) Seen(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, counter uint16) (bool, error) {
	var n int
	err := s.db.r.QueryRowContext(ctx, `SELECT count(*) FROM interop_records WHERE issuer = ? AND asn = ? AND counter = ? AND out = 0 AND state = 'accepted'`,
		issuer.String(), fmt.Sprintf("%X", asn[:]), int64(counter)).Scan(&n)
	return n > 0, mapErr("sqlite.Interop.Seen", err)
}

// Corrections implements interop.Store.
func (s *Interop) Corrections(ctx context.Context, file, refFile string, refSeq int) ([]interop.Corr, error) {
	const op = "sqlite.Interop.Corrections"
	if file == "" {
		return all(ctx, s, op, interop.ScanCorr, `SELECT `+qualified("c", interop.CorrectionColumns)+` FROM interop_corrections c JOIN interop_files f ON f.id = c.file_id
			WHERE c.ref_file = ? AND c.ref_seq = ? ORDER BY f.at_ns, f.id, c.seq LIMIT ?`, refFile, int64(refSeq), interop.RecordsMax)
	}
	return all(ctx, s, op, interop.ScanCorr, `SELECT `+interop.CorrectionColumns+` FROM interop_corrections WHERE file_id = ? ORDER BY seq LIMIT ?`, file, interop.RecordsMax)
}

// Cities implements interop.Store.
func (s *Interop) Cities(ctx context.Context) ([]interop.City, error) {
	return all(ctx, s, "sqlite.Interop.Cities", interop.ScanCity, `SELECT `+qualified("c", interop.CityColumns)+` FROM interop_cities c JOIN interop_files f ON f.id = c.file_id
		ORDER BY f.at_ns, f.id, c.seq LIMIT ?`, interop.CitiesMax*4)
}

// Listings implements interop.Store.
func (s *Interop) Listings(ctx context.Context) ([]interop.Listing, error) {
	return all(ctx, s, "sqlite.Interop.Listings", interop.ScanListing, `SELECT `+qualified("l", interop.ListingColumns)+` FROM interop_listings l JOIN interop_files f ON f.id = l.file_id
		ORDER BY f.at_ns, f.id, l.seq LIMIT ?`, interop.RecordsMax)
}

// qualified prefixes each of columns with table alias t.
func qualified(t, columns string) string {
	return t + "." + strings.ReplaceAll(columns, ", ", ", "+t+".")
}

// all runs query on the readers and returns every row scanned by scan.
func all[T any](ctx context.Context, s *Interop, op string, scan func(interop.Scanner) (T, error), query string, args ...any) ([]T, error) {
	var out []T
	err := each(ctx, s, op, scan, func(v *T) error { out = append(out, *v); return nil }, query, args...)
	return out, err
}

// each runs query on the readers and calls fn with each row scanned by
// scan.
func each[T any](ctx context.Context, s *Interop, op string, scan func(interop.Scanner) (T, error), fn func(*T) error, query string, args ...any) error {
	rows, err := s.db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return mapErr(op, err)
	}
	defer rows.Close()
	return mapErr(op, interop.Each(rows, scan, fn))
}

// takeInterop marks the interconnection files of closing cycle s taken
// by it, in the transaction that closes it. Kind Conflict if one is not
// stored untaken (someone changed it behind the cycle).
func takeInterop(ctx context.Context, tx *sql.Tx, s *clearing.Stored) error {
	if s.Cycle.State != clearing.Closed || s.Result == nil {
		return nil
	}
	for _, id := range s.Result.InteropFiles {
		res, err := tx.ExecContext(ctx, `UPDATE interop_files SET taken_day = ? WHERE id = ? AND taken_day IS NULL`, int64(s.Cycle.Day), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return citycard.E("sqlite.takeInterop", citycard.Conflict, "cycle %v: interconnection file %s is not stored untaken", s.Cycle.Day, id)
		}
	}
	return nil
}

// Raise implements interop.Store.
func (s *Interop) Raise(ctx context.Context, c *interop.Case) (interop.Case, bool, error) {
	const op = "sqlite.Interop.Raise"
	got, already := *c, false
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		stored, err := interop.ScanCase(tx.QueryRowContext(ctx, `SELECT `+interop.CaseColumns+` FROM interop_cases WHERE ref = ?`, c.Ref))
		switch {
		case err == nil && stored.InputSHA256 == c.InputSHA256:
			got, already = stored, true
			return nil
		case err == nil:
			return citycard.E(op, citycard.Conflict, "case %q was raised with another input (by %s at %v)", c.Ref, stored.By, stored.At)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		var other string
		err = tx.QueryRowContext(ctx, `SELECT ref FROM interop_cases WHERE file_type = ? AND ref_file = ? AND ref_seq = ?`, c.Type.String(), c.RefFile, int64(c.RefSeq)).Scan(&other)
		if err == nil {
			return citycard.E(op, citycard.Conflict, "record %d of %s: an %v case was raised about it before (%q)", c.RefSeq, c.RefFile, c.Type, other)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO interop_cases (`+interop.CaseColumns+`) VALUES (`+placeholders(15)+`)`, c.Args()...)
		return err
	})
	return got, already, mapErr(op, err)
}

// Cases implements interop.Store.
func (s *Interop) Cases(ctx context.Context, t interop.FileType, d interop.Day) ([]interop.Case, error) {
	return all(ctx, s, "sqlite.Interop.Cases", interop.ScanCase, `SELECT `+interop.CaseColumns+` FROM interop_cases
		WHERE file_type = ? AND day = ? ORDER BY at_ns, ref LIMIT ?`, t.String(), int64(d), interop.RecordsMax+1)
}

// CardRecords implements interop.CardStore, by the unique index of our
// cards' records accepted (interop_records_card, migration 0014) and
// their taps (0039).
func (s *Interop) CardRecords(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, after, limit int) ([]interop.Taken, error) {
	args, err := interop.CardRecordsArgs(issuer, asn, after, limit)
	if err != nil {
		return nil, citycard.Wrap("sqlite.Interop.CardRecords", citycard.Other, err)
	}
	return all(ctx, s, "sqlite.Interop.CardRecords", interop.ScanTaken, `SELECT `+interop.TakenColumns+` FROM `+interop.TakenFrom+` WHERE r.issuer = ? AND r.asn = ? AND r.out = 0 AND r.state = 'accepted' AND r.counter > ? ORDER BY r.counter LIMIT ?`, args...)
}
