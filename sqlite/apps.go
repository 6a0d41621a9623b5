package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
)

// Apps returns the store of application systems and their grants
// (apps.Store).
func (db *DB) Apps() apps.Store { return appsStore{db} }

type appsStore struct{ db *DB }

func (s appsStore) CreateApp(ctx context.Context, a *apps.App) error {
	return mapErr("sqlite.Apps.CreateApp", s.db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO apps_apps (`+apps.AppColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, apps.AppArgs(a)...)
		return err
	}))
}

func (s appsStore) App(ctx context.Context, id string) (apps.App, error) {
	const op = "sqlite.Apps.App"
	a, err := apps.ScanApp(s.db.r.QueryRowContext(ctx, `SELECT `+apps.AppColumns+` FROM apps_apps WHERE id = ?`, id))
	if err == sql.ErrNoRows {
		return a, citycard.E(op, citycard.NotFound, "no application %q", id)
	}
	return a, mapErr(op, err)
}

func (s appsStore) AppByCredential(ctx context.Context, h [32]byte) (apps.App, error) {
	const op = "sqlite.Apps.AppByCredential"
	a, err := apps.ScanApp(s.db.r.QueryRowContext(ctx, `SELECT `+apps.AppColumns+` FROM apps_apps WHERE credential = ?`, apps.CredentialArg(h)))
	if err == sql.ErrNoRows {
		return a, citycard.E(op, citycard.NotFound, "no application of that credential")
	}
	return a, mapErr(op, err)
}

func (s appsStore) Apps(ctx context.Context) ([]apps.App, error) {
	const op = "sqlite.Apps.Apps"
	rows, err := s.db.r.QueryContext(ctx, `SELECT `+apps.AppColumns+` FROM apps_apps ORDER BY id`)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	out, err := apps.ScanApps(rows)
	return out, mapErr(op, err)
}

func (s appsStore) PutGrant(ctx context.Context, g *apps.Grant, check func([]apps.Grant) error) (uint32, error) {
	v, err := s.putGrant(ctx, g, check, true)
	return v, mapErr("sqlite.Apps.PutGrant", err)
}

func (s appsStore) PutTerms(ctx context.Context, g *apps.Grant, check func([]apps.Grant) error) (uint32, error) {
	v, err := s.putGrant(ctx, g, check, false)
	return v, mapErr("sqlite.Apps.PutTerms", err)
}

// putGrant is PutGrant, and PutTerms when gate is false.
func (s appsStore) putGrant(ctx context.Context, g *apps.Grant, check func([]apps.Grant) error, gate bool) (uint32, error) {
	var v int64
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		// The one writer of SQLite serializes grants: the card's grants
		// read here are the ones this transaction changes.
		if check != nil {
			current, err := cardGrants(ctx, tx, g.Card)
			if err != nil {
				return err
			}
			if err := check(current); err != nil {
				return err
			}
		}
		if err := upsertGrant(ctx, tx, g); err != nil {
			return err
		}
		var err error
		if v, err = bumpFile(ctx, tx, g.Card); err != nil || !gate {
			return err
		}
		return setGateVersion(ctx, tx, g, v)
	})
	return uint32(v), err
}

func cardGrants(ctx context.Context, tx *sql.Tx, c apps.CardRef) ([]apps.Grant, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+apps.GrantColumns+` FROM apps_grants WHERE issuer = ? AND asn = ? ORDER BY app`, apps.CardArgs(c)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return apps.ScanGrants(rows)
}

// setGateVersion sets g.App's gate version of g.Card to v, under the next
// number of the gates' counter.
func setGateVersion(ctx context.Context, tx *sql.Tx, g *apps.Grant, v int64) error {
	var seq int64
	if err := tx.QueryRowContext(ctx, `UPDATE apps_gate_seq SET seq = seq + 1 WHERE one = 1 RETURNING seq`).Scan(&seq); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO apps_gate_versions (app, issuer, asn, version, seq) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (app, issuer, asn) DO UPDATE SET version = excluded.version, seq = excluded.seq`,
		g.App, apps.CardArgs(g.Card)[0], apps.CardArgs(g.Card)[1], v, seq)
	return err
}

func (s appsStore) GateVersions(ctx context.Context, app string, after int64, limit int) ([]apps.GateVersion, error) {
	const op = "sqlite.Apps.GateVersions"
	rows, err := s.db.r.QueryContext(ctx, `SELECT `+apps.GateVersionColumns+` FROM apps_gate_versions WHERE app = ? AND seq > ? ORDER BY seq LIMIT ?`, app, after, limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	out, err := apps.ScanGateVersions(rows)
	return out, mapErr(op, err)
}

func upsertGrant(ctx context.Context, tx *sql.Tx, g *apps.Grant) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO apps_grants (`+apps.GrantColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (app, issuer, asn) DO UPDATE SET kind = excluded.kind, scope = excluded.scope, valid_from = excluded.valid_from,
		valid_to = excluded.valid_to, class = excluded.class, limit_n = excluded.limit_n, state = excluded.state, changed_ns = excluded.changed_ns, uses = excluded.uses, inside_since = excluded.inside_since`,
		apps.GrantArgs(g)...)
	return err
}

// bumpFile raises the card's entitlement file version by one.
func bumpFile(ctx context.Context, tx *sql.Tx, c apps.CardRef) (int64, error) {
	var v int64
	err := tx.QueryRowContext(ctx, `INSERT INTO apps_files (issuer, asn, version) VALUES (?, ?, 1)
		ON CONFLICT (issuer, asn) DO UPDATE SET version = apps_files.version + 1 RETURNING version`, apps.CardArgs(c)...).Scan(&v)
	return v, err
}

func (s appsStore) Cursor(ctx context.Context) (int64, error) {
	var seq int64
	err := s.db.r.QueryRowContext(ctx, `SELECT audit_seq FROM apps_cursor WHERE one = 1`).Scan(&seq)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	return seq, mapErr("sqlite.Apps.Cursor", err)
}

func (s appsStore) ApplyLifecycle(ctx context.Context, seq int64, grants []apps.Grant, events []apps.Event) error {
	const op = "sqlite.Apps.ApplyLifecycle"
	return mapErr(op, s.db.write(ctx, func(tx *sql.Tx) error {
		var cur int64
		if err := tx.QueryRowContext(ctx, `SELECT audit_seq FROM apps_cursor WHERE one = 1`).Scan(&cur); err != nil && err != sql.ErrNoRows {
			return err
		}
		if seq <= cur {
			return citycard.E(op, citycard.Conflict, "audit record %d: applied already (cursor %d)", seq, cur)
		}
		if err := apps.PutGrants(grants, func(g *apps.Grant) error { return upsertGrant(ctx, tx, g) },
			func(c apps.CardRef) (uint32, error) { v, err := bumpFile(ctx, tx, c); return uint32(v), err },
			func(g *apps.Grant, v uint32) error { return setGateVersion(ctx, tx, g, int64(v)) }); err != nil {
			return err
		}
		if err := insertEvents(ctx, tx, events); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO apps_cursor (one, audit_seq) VALUES (1, ?) ON CONFLICT (one) DO UPDATE SET audit_seq = excluded.audit_seq`, seq)
		return err
	}))
}

func (s appsStore) Quarantine(ctx context.Context, q apps.Quarantined) error {
	const op = "sqlite.Apps.Quarantine"
	return mapErr(op, s.db.write(ctx, func(tx *sql.Tx) error {
		var cur int64
		if err := tx.QueryRowContext(ctx, `SELECT audit_seq FROM apps_cursor WHERE one = 1`).Scan(&cur); err != nil && err != sql.ErrNoRows {
			return err
		}
		if q.Seq <= cur {
			return citycard.E(op, citycard.Conflict, "audit record %d: passed already (cursor %d)", q.Seq, cur)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO apps_quarantine (`+apps.QuarantineColumns+`) VALUES (?, ?, ?, ?, ?)`, apps.QuarantineArgs(&q)...); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO apps_cursor (one, audit_seq) VALUES (1, ?) ON CONFLICT (one) DO UPDATE SET audit_seq = excluded.audit_seq`, q.Seq)
		return err
	}))
}

func (s appsStore) QuarantinedAudit(ctx context.Context, after int64, limit int) ([]apps.Quarantined, error) {
	const op = "sqlite.Apps.QuarantinedAudit"
	rows, err := s.db.r.QueryContext(ctx, `SELECT `+apps.QuarantineColumns+` FROM apps_quarantine WHERE audit_seq > ? ORDER BY audit_seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	out, err := apps.ScanQuarantined(rows)
	return out, mapErr(op, err)
}

// insertEvents queues events in the outbox.
func insertEvents(ctx context.Context, tx *sql.Tx, events []apps.Event) error {
	for i := range events {
		if _, err := tx.ExecContext(ctx, `INSERT INTO apps_outbox (app, key, type, body, attempts, next_ns, delivered_ns, failed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			apps.EventArgs(&events[i])...); err != nil {
			return err
		}
	}
	return nil
}

func (s appsStore) Events(ctx context.Context, app string, after int64, limit int) ([]apps.Event, error) {
	const op = "sqlite.Apps.Events"
	rows, err := s.db.r.QueryContext(ctx, `SELECT `+apps.EventColumns+` FROM apps_outbox WHERE app = ? AND id > ? ORDER BY id LIMIT ?`, app, after, limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	out, err := apps.ScanEvents(rows)
	return out, mapErr(op, err)
}

func (s appsStore) DueEvents(ctx context.Context, now time.Time, limit int) ([]apps.Event, error) {
	const op = "sqlite.Apps.DueEvents"
	rows, err := s.db.r.QueryContext(ctx, `SELECT `+apps.EventColumns+` FROM apps_outbox WHERE delivered_ns = 0 AND failed = 0 AND next_ns <= ? ORDER BY id LIMIT ?`, now.UnixNano(), limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	out, err := apps.ScanEvents(rows)
	return out, mapErr(op, err)
}

func (s appsStore) UpdateEvent(ctx context.Context, e *apps.Event) error {
	const op = "sqlite.Apps.UpdateEvent"
	return mapErr(op, s.db.write(ctx, func(tx *sql.Tx) error {
		a := apps.EventArgs(e)
		res, err := tx.ExecContext(ctx, `UPDATE apps_outbox SET attempts = ?, next_ns = ?, delivered_ns = ?, failed = ? WHERE id = ?`, a[4], a[5], a[6], a[7], e.ID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return notFound(op, err, "no event %d", e.ID)
		}
		return nil
	}))
}

func (s appsStore) Grant(ctx context.Context, app string, c apps.CardRef) (apps.Grant, error) {
	const op = "sqlite.Apps.Grant"
	g, err := apps.ScanGrant(s.db.r.QueryRowContext(ctx, `SELECT `+apps.GrantColumns+` FROM apps_grants WHERE app = ? AND issuer = ? AND asn = ?`,
		append([]any{app}, apps.CardArgs(c)...)...))
	if err == sql.ErrNoRows {
		return g, citycard.E(op, citycard.NotFound, "application %s has no grant on card %v", app, c)
	}
	return g, mapErr(op, err)
}

func (s appsStore) CardGrants(ctx context.Context, c apps.CardRef) ([]apps.Grant, uint32, error) {
	const op = "sqlite.Apps.CardGrants"
	// One read transaction: the grants and the version of one moment.
	tx, err := s.db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, mapErr(op, err)
	}
	defer tx.Rollback()
	var v int64
	if err := tx.QueryRowContext(ctx, `SELECT version FROM apps_files WHERE issuer = ? AND asn = ?`, apps.CardArgs(c)...).Scan(&v); err != nil && err != sql.ErrNoRows {
		return nil, 0, mapErr(op, err)
	}
	out, err := cardGrants(ctx, tx, c)
	return out, uint32(v), mapErr(op, err)
}

func (s appsStore) RecordsCursors(ctx context.Context) (map[string]int64, error) {
	const op = "sqlite.Apps.RecordsCursors"
	rows, err := s.db.r.QueryContext(ctx, `SELECT app, pos FROM apps_records_cursors`)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var app string
		var pos int64
		if err := rows.Scan(&app, &pos); err != nil {
			return nil, mapErr(op, err)
		}
		out[app] = pos
	}
	return out, mapErr(op, rows.Err())
}

func (s appsStore) ApplyRecords(ctx context.Context, pos int64, moved []string, recs []apps.AppRecord, events []apps.Event) error {
	const op = "sqlite.Apps.ApplyRecords"
	return mapErr(op, s.db.write(ctx, func(tx *sql.Tx) error {
		for _, app := range moved {
			var cur int64
			if err := tx.QueryRowContext(ctx, `SELECT pos FROM apps_records_cursors WHERE app = ?`, app).Scan(&cur); err != nil && err != sql.ErrNoRows {
				return err
			}
			if pos <= cur {
				return citycard.E(op, citycard.Conflict, "application %s, journal position %d: filed already (its cursor %d)", app, pos, cur)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO apps_records_cursors (app, pos) VALUES (?, ?) ON CONFLICT (app) DO UPDATE SET pos = excluded.pos`, app, pos); err != nil {
				return err
			}
		}
		for i := range recs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO apps_records (`+apps.RecordColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, apps.RecordArgs(&recs[i])...); err != nil {
				return err
			}
		}
		return insertEvents(ctx, tx, events)
	}))
}

func (s appsStore) Records(ctx context.Context, app string, after int64, limit int) ([]apps.AppRecord, error) {
	const op = "sqlite.Apps.Records"
	rows, err := s.db.r.QueryContext(ctx, `SELECT `+apps.RecordColumns+` FROM apps_records WHERE app = ? AND pos > ? ORDER BY pos LIMIT ?`, app, after, limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	out, err := apps.ScanRecords(rows)
	return out, mapErr(op, err)
}

func (s appsStore) DayCounts(ctx context.Context, app string, day citycard.BCDDate) ([]apps.ActionCount, error) {
	const op = "sqlite.Apps.DayCounts"
	rows, err := s.db.r.QueryContext(ctx, `SELECT action, count(*), count(DISTINCT issuer || asn) FROM apps_records WHERE app = ? AND date = ? GROUP BY action ORDER BY action`, app, apps.DateArg(day))
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	out, err := apps.ScanCounts(rows)
	return out, mapErr(op, err)
}

func (s appsStore) ClassGrants(ctx context.Context, app string, class uint16, day citycard.BCDDate, limit int) ([]apps.Grant, error) {
	rows, err := s.db.r.QueryContext(ctx, apps.ClassGrantsQuery, apps.ClassArgs(app, class, day, limit)...)
	if err != nil {
		return nil, mapErr("sqlite.Apps.ClassGrants", err)
	}
	defer rows.Close()
	out, err := apps.ScanGrants(rows)
	return out, mapErr("sqlite.Apps.ClassGrants", err)
}

func (s appsStore) ClassRecords(ctx context.Context, app string, class uint16, day citycard.BCDDate, limit int) ([]apps.AppRecord, error) {
	rows, err := s.db.r.QueryContext(ctx, apps.ClassRecordsQuery, apps.ClassArgs(app, class, day, limit)...)
	if err != nil {
		return nil, mapErr("sqlite.Apps.ClassRecords", err)
	}
	defer rows.Close()
	out, err := apps.ScanRecords(rows)
	return out, mapErr("sqlite.Apps.ClassRecords", err)
}

func (s appsStore) SetPeriods(ctx context.Context, app string, ps []apps.Period) error {
	rows := make([][]any, len(ps))
	for i := range ps {
		rows[i] = apps.PeriodArgs(&ps[i])
	}
	return s.replaceAppRows(ctx, "sqlite.Apps.SetPeriods", app, "apps_periods", apps.PeriodColumns, rows)
}

func (s appsStore) Periods(ctx context.Context, app string) ([]apps.Period, error) {
	const op = "sqlite.Apps.Periods"
	rows, err := s.db.r.QueryContext(ctx, `SELECT `+apps.PeriodColumns+` FROM apps_periods WHERE app = ? ORDER BY start`, app)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	out, err := apps.ScanPeriods(rows)
	return out, mapErr(op, err)
}

func (s appsStore) PeriodAdmissions(ctx context.Context, app string, day citycard.BCDDate, start, end citycard.BCDTime) (int64, error) {
	var n int64
	err := s.db.r.QueryRowContext(ctx, apps.PeriodAdmissionsQuery, apps.PeriodAdmissionsArgs(app, day, start, end)...).Scan(&n)
	return n, mapErr("sqlite.Apps.PeriodAdmissions", err)
}

func (s appsStore) Classes(ctx context.Context, app string, day citycard.BCDDate, limit int) ([]uint16, error) {
	const op = "sqlite.Apps.Classes"
	rows, err := s.db.r.QueryContext(ctx, apps.ClassesQuery, app, apps.DateArg(day), limit)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	out, err := apps.ScanClasses(rows)
	return out, mapErr(op, err)
}

func (s appsStore) SetCalendar(ctx context.Context, app string, c apps.Calendar) error {
	return s.replaceAppRows(ctx, "sqlite.Apps.SetCalendar", app, "apps_calendar", apps.CalendarColumns, apps.CalendarArgs(&c))
}

// replaceAppRows replaces app's rows of table (columns after its app)
// with rows, in one transaction. Kind NotFound if app is no application.
func (s appsStore) replaceAppRows(ctx context.Context, op, app, table, columns string, rows [][]any) error {
	return mapErr(op, s.db.write(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM apps_apps WHERE id = ?`, app).Scan(&one); err == sql.ErrNoRows {
			return citycard.E(op, citycard.NotFound, "no application %q", app)
		} else if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE app = ?`, app); err != nil {
			return err
		}
		for _, args := range rows {
			q := `INSERT INTO ` + table + ` (app, ` + columns + `) VALUES (?` + strings.Repeat(", ?", len(args)) + `)`
			if _, err := tx.ExecContext(ctx, q, append([]any{app}, args...)...); err != nil {
				return err
			}
		}
		return nil
	}))
}

func (s appsStore) Calendar(ctx context.Context, app string) (apps.Calendar, error) {
	const op = "sqlite.Apps.Calendar"
	rows, err := s.db.r.QueryContext(ctx, `SELECT `+apps.CalendarColumns+` FROM apps_calendar WHERE app = ? ORDER BY date`, app)
	if err != nil {
		return apps.Calendar{}, mapErr(op, err)
	}
	defer rows.Close()
	out, err := apps.ScanCalendar(rows)
	return out, mapErr(op, err)
}

func (s appsStore) LastRecord(ctx context.Context, app string, c apps.CardRef) (apps.AppRecord, error) {
	const op = "sqlite.Apps.LastRecord"
	r, err := apps.ScanRecord(s.db.r.QueryRowContext(ctx, apps.LastRecordQuery, apps.LastRecordArgs(app, c)...))
	if err == sql.ErrNoRows {
		return r, citycard.E(op, citycard.NotFound, "no record of application %s, card %v", app, c)
	}
	return r, mapErr(op, err)
}
