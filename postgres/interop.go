package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/interop"
)

// Interop returns the interconnection's store (interop.Store).
func (db *DB) Interop() *Interop { return &Interop{db: db} }

// Interop is the PostgreSQL interop.Store.
type Interop struct{ db *DB }

var _ interop.Store = (*Interop)(nil)

// Import implements interop.Store, in one transaction: the file, the
// files written with it, the records and their taps, answers,
// corrections, cities, listings and ledger entries, all or none. The
// rows go in by COPY.
func (s *Interop) Import(ctx context.Context, imp *interop.Import) (bool, error) {
	const op = "postgres.Interop.Import"
	already := false
	err := pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error {
		var hash string
		err := tx.QueryRow(ctx, `SELECT sha256 FROM interop_files WHERE id = $1`, imp.File.ID).Scan(&hash)
		switch {
		case err == nil && hash == imp.File.SHA256:
			already = true
			return nil
		case err == nil:
			return citycard.E(op, citycard.Conflict, "file %s is stored with other bytes (SHA-256 %s, not %s)", imp.File.ID, hash, imp.File.SHA256)
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		files := append([]interop.Stored{imp.File}, imp.Also...)
		for i := range files {
			f := files[i]
			f.At = imp.At
			if _, err := tx.Exec(ctx, `INSERT INTO interop_files (`+interop.FileColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`, f.Args()...); err != nil {
				return err
			}
		}
		if err := copyAll(ctx, tx, "interop_records", interop.RecColumns, len(imp.Records), func(i int) []any { return imp.Records[i].Args() }); err != nil {
			return err
		}
		if err := copyAll(ctx, tx, "interop_taps", interop.TapColumns, len(imp.Taps), func(i int) []any { return imp.Taps[i].Args() }); err != nil {
			return err
		}
		for _, a := range imp.Answers {
			res, err := tx.Exec(ctx, `UPDATE interop_records SET state = $1, reason = $2, answered_by = $3 WHERE file_id = $4 AND seq = $5 AND state = 'pending'`,
				a.State.String(), int64(a.Reason), imp.File.ID, a.File, int64(a.Seq))
			if err != nil {
				return err
			}
			if res.RowsAffected() != 1 {
				return citycard.E(op, citycard.Conflict, "file %s: record %d of %s is not pending: answered meanwhile", imp.File.ID, a.Seq, a.File)
			}
		}
		for _, c := range imp.Cases {
			res, err := tx.Exec(ctx, `UPDATE interop_cases SET state = $1, answer_reason = $2, answered_by = $3 WHERE ref = $4 AND state = 'pending'`,
				c.State.String(), int64(c.Reason), imp.File.ID, c.Ref)
			if err != nil {
				return err
			}
			if res.RowsAffected() != 1 {
				return citycard.E(op, citycard.Conflict, "file %s: case %q is not pending: answered meanwhile", imp.File.ID, c.Ref)
			}
		}
		if err := copyAll(ctx, tx, "interop_corrections", interop.CorrectionColumns, len(imp.Corrections), func(i int) []any { return imp.Corrections[i].Args() }); err != nil {
			return err
		}
		if err := copyAll(ctx, tx, "interop_cities", interop.CityColumns, len(imp.Cities), func(i int) []any { return interop.CityArgs(imp.File.ID, i+1, &imp.Cities[i]) }); err != nil {
			return err
		}
		if err := copyAll(ctx, tx, "interop_listings", interop.ListingColumns, len(imp.Listings), func(i int) []any { return interop.ListingArgs(imp.File.ID, i+1, &imp.Listings[i]) }); err != nil {
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

// copyAll copies n rows of columns into table.
func copyAll(ctx context.Context, tx pgx.Tx, table, columns string, n int, args func(i int) []any) error {
	if n == 0 {
		return nil
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{table}, strings.Split(columns, ", "), pgx.CopyFromSlice(n, func(i int) ([]any, error) { return args(i), nil }))
	return err
}

// File implements interop.Store.
func (s *Interop) File(ctx context.Context, id string) (interop.Stored, error) {
	const op = "postgres.Interop.File"
	f, err := interop.ScanFile(s.db.pool.QueryRow(ctx, `SELECT `+interop.FileColumns+` FROM interop_files WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return f, citycard.E(op, citycard.NotFound, "no interconnection file %s", id)
	}
	return f, mapErr(op, err)
}

// fileList is FileColumns with the body left out.
var fileList = strings.Replace(interop.FileColumns, "body", "NULL", 1)

// Files implements interop.Store.
func (s *Interop) Files(ctx context.Context) ([]interop.Stored, error) {
	return all(ctx, s, "postgres.Interop.Files", interop.ScanFile,
		`SELECT * FROM (SELECT `+fileList+` FROM interop_files ORDER BY at_ns DESC, id DESC LIMIT $1) AS f ORDER BY at_ns, id`, interop.FilesShownMax)
}

// Untaken implements interop.Store.
func (s *Interop) Untaken(ctx context.Context) ([]interop.Stored, error) {
	return all(ctx, s, "postgres.Interop.Untaken", interop.ScanFile, `SELECT `+fileList+` FROM interop_files
		WHERE sent = 0 AND file_type IN ('ANS', 'INC', 'ERR') AND taken_day IS NULL ORDER BY id LIMIT $1`, clearing.InteropFilesMax)
}

// Records implements interop.Store.
func (s *Interop) Records(ctx context.Context, file string, fn func(r *interop.Rec) error) error {
	return each(ctx, s, "postgres.Interop.Records", interop.ScanRec, fn, `SELECT `+interop.RecColumns+` FROM interop_records WHERE file_id = $1 ORDER BY seq`, file)
}

// Answered implements interop.Store.
func (s *Interop) Answered(ctx context.Context, answer string, fn func(r *interop.Rec) error) error {
	return each(ctx, s, "postgres.Interop.Answered", interop.ScanRec, fn, `SELECT `+interop.RecColumns+` FROM interop_records
		WHERE answered_by = $1 AND out = 1 ORDER BY file_id, seq`, answer)
}

// Seen implements interop.Store.
func (s *Interop) Seen(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, counter uint16) (bool, error) {
	var n int
	err := s.db.pool.QueryRow(ctx, `SELECT count(*) FROM interop_records WHERE issuer = $1 AND asn = $2 AND counter = $3 AND out = 0 AND state = 'accepted'`,
		issuer.String(), fmt.Sprintf("%X", asn[:]), int64(counter)).Scan(&n)
	return n > 0, mapErr("postgres.Interop.Seen", err)
}

// Corrections implements interop.Store.
func (s *Interop) Corrections(ctx context.Context, file, refFile string, refSeq int) ([]interop.Corr, error) {
	const op = "postgres.Interop.Corrections"
	if file == "" {
		return all(ctx, s, op, interop.ScanCorr, `SELECT `+qualified("c", interop.CorrectionColumns)+` FROM interop_corrections c JOIN interop_files f ON f.id = c.file_id
			WHERE c.ref_file = $1 AND c.ref_seq = $2 ORDER BY f.at_ns, f.id, c.seq LIMIT $3`, refFile, int64(refSeq), interop.RecordsMax)
	}
	return all(ctx, s, op, interop.ScanCorr, `SELECT `+interop.CorrectionColumns+` FROM interop_corrections WHERE file_id = $1 ORDER BY seq LIMIT $2`, file, interop.RecordsMax)
}

// Cities implements interop.Store.
func (s *Interop) Cities(ctx context.Context) ([]interop.City, error) {
	return all(ctx, s, "postgres.Interop.Cities", interop.ScanCity, `SELECT `+qualified("c", interop.CityColumns)+` FROM interop_cities c JOIN interop_files f ON f.id = c.file_id
		ORDER BY f.at_ns, f.id, c.seq LIMIT $1`, interop.CitiesMax*4)
}

// Listings implements interop.Store.
func (s *Interop) Listings(ctx context.Context) ([]interop.Listing, error) {
	return all(ctx, s, "postgres.Interop.Listings", interop.ScanListing, `SELECT `+qualified("l", interop.ListingColumns)+` FROM interop_listings l JOIN interop_files f ON f.id = l.file_id
		ORDER BY f.at_ns, f.id, l.seq LIMIT $1`, interop.RecordsMax)
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
	rows, err := s.db.pool.Query(ctx, query, args...)
	if err != nil {
		return mapErr(op, err)
	}
	defer rows.Close()
	return mapErr(op, interop.Each(rows, scan, fn))
}

// takeInterop marks the interconnection files of closing cycle s taken
// by it, in the transaction that closes it. Kind Conflict if one is not
// stored untaken (someone changed it behind the cycle).
func takeInterop(ctx context.Context, tx pgx.Tx, s *clearing.Stored) error {
	if s.Cycle.State != clearing.Closed || s.Result == nil {
		return nil
	}
	for _, id := range s.Result.InteropFiles {
		res, err := tx.Exec(ctx, `UPDATE interop_files SET taken_day = $1 WHERE id = $2 AND taken_day IS NULL`, int64(s.Cycle.Day), id)
		if err != nil {
			return err
		}
		if res.RowsAffected() != 1 {
			return citycard.E("postgres.takeInterop", citycard.Conflict, "cycle %v: interconnection file %s is not stored untaken", s.Cycle.Day, id)
		}
	}
	return nil
}

// Raise implements interop.Store. The insert waits on a concurrent one of
// the same ref or record (their unique indexes), so two retries of one
// request store one case.
func (s *Interop) Raise(ctx context.Context, c *interop.Case) (interop.Case, bool, error) {
	const op = "postgres.Interop.Raise"
	got, already := *c, false
	err := pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO interop_cases (`+interop.CaseColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
			ON CONFLICT DO NOTHING`, c.Args()...)
		if err != nil || tag.RowsAffected() == 1 {
			return err
		}
		stored, err := interop.ScanCase(tx.QueryRow(ctx, `SELECT `+interop.CaseColumns+` FROM interop_cases WHERE ref = $1`, c.Ref))
		switch {
		case err == nil && stored.InputSHA256 == c.InputSHA256:
			got, already = stored, true
			return nil
		case err == nil:
			return citycard.E(op, citycard.Conflict, "case %q was raised with another input (by %s at %v)", c.Ref, stored.By, stored.At)
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		var other string
		if err := tx.QueryRow(ctx, `SELECT ref FROM interop_cases WHERE file_type = $1 AND ref_file = $2 AND ref_seq = $3`, c.Type.String(), c.RefFile, int64(c.RefSeq)).Scan(&other); err != nil {
			return err
		}
		return citycard.E(op, citycard.Conflict, "record %d of %s: an %v case was raised about it before (%q)", c.RefSeq, c.RefFile, c.Type, other)
	})
	return got, already, mapErr(op, err)
}

// Cases implements interop.Store.
func (s *Interop) Cases(ctx context.Context, t interop.FileType, d interop.Day) ([]interop.Case, error) {
	return all(ctx, s, "postgres.Interop.Cases", interop.ScanCase, `SELECT `+interop.CaseColumns+` FROM interop_cases
		WHERE file_type = $1 AND day = $2 ORDER BY at_ns, ref LIMIT $3`, t.String(), int64(d), interop.RecordsMax+1)
}

// CardRecords implements interop.CardStore, by the unique index of our
// cards' records accepted (interop_records_card, migration 0014) and
// their taps (0039).
func (s *Interop) CardRecords(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, after, limit int) ([]interop.Taken, error) {
	args, err := interop.CardRecordsArgs(issuer, asn, after, limit)
	if err != nil {
		return nil, citycard.Wrap("postgres.Interop.CardRecords", citycard.Other, err)
	}
	return all(ctx, s, "postgres.Interop.CardRecords", interop.ScanTaken, `SELECT `+interop.TakenColumns+` FROM `+interop.TakenFrom+` WHERE r.issuer = $1 AND r.asn = $2 AND r.out = 0 AND r.state = 'accepted' AND r.counter > $3 ORDER BY r.counter LIMIT $4`, args...)
}
