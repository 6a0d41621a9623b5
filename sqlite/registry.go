package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/registry"
)

// registryStore implements registry.Store.
type registryStore struct{ db *DB }

func (s *registryStore) CreateParty(ctx context.Context, p *registry.Party) error {
	const op = "sqlite.Registry.CreateParty"
	_, err := s.db.w.ExecContext(ctx, `INSERT INTO parties (`+registry.PartyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.Type.String(), p.Code.String(), p.Sector.String(), p.Name, p.Own, p.SettlementAccount,
		p.Created.UnixNano(), p.Updated.UnixNano())
	return s.partyErr(ctx, op, p, err)
}

func (s *registryStore) UpdateParty(ctx context.Context, p *registry.Party) error {
	const op = "sqlite.Registry.UpdateParty"
	res, err := s.db.w.ExecContext(ctx, `UPDATE parties SET role = ?, code = ?, sector = ?, name = ?, own = ?, settlement_account = ?, updated_ns = ? WHERE id = ?`,
		p.Type.String(), p.Code.String(), p.Sector.String(), p.Name, p.Own, p.SettlementAccount, p.Updated.UnixNano(), p.ID)
	if err != nil {
		return s.partyErr(ctx, op, p, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return mapErr(op, err)
	}
	if n == 0 {
		return registry.NoParty(op, p.ID)
	}
	return nil
}

// partyErr maps the error of a write of p: a clash with the registry's
// rules in the registry's words, naming the party that holds what p
// wanted; anything else as mapErr does.
func (s *registryStore) partyErr(ctx context.Context, op string, p *registry.Party, err error) error {
	c := clash(err)
	var q string
	var args []any
	switch c {
	case registry.ClashNone:
		return mapErr(op, err)
	case registry.ClashPartyCode:
		q, args = `SELECT id FROM parties WHERE code = ?`, []any{p.Code.String()}
	case registry.ClashOwn:
		q = `SELECT id FROM parties WHERE own = 1`
	}
	return registry.PartyClash(op, p, c, s.holder(ctx, q, args...))
}

// holder returns the ID that query q finds, for an error message: empty
// when q is empty or fails (the message then names no one; the write has
// failed anyway, and says why).
func (s *registryStore) holder(ctx context.Context, q string, args ...any) string {
	if q == "" {
		return ""
	}
	var id string
	if err := s.db.r.QueryRowContext(ctx, q, args...).Scan(&id); err != nil {
		return ""
	}
	return id
}

// clash reads which rule of the registry's schema err broke: the column
// of a UNIQUE or PRIMARY KEY failure (SQLite names it in the message:
// "UNIQUE constraint failed: parties.code"), or the one reference of its
// tables, a terminal's operator.
func clash(err error) registry.Clash {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return registry.ClashNone
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		for _, c := range []struct {
			column string
			clash  registry.Clash
		}{
			{"parties.id", registry.ClashPartyID},
			{"parties.code", registry.ClashPartyCode},
			{"parties.own", registry.ClashOwn},
			{"terminals.id", registry.ClashTerminal},
			{"terminals.psam", registry.ClashPSAM},
		} {
			if msg := se.Error(); strings.Contains(msg, "failed: "+c.column+" ") || strings.HasSuffix(msg, "failed: "+c.column) {
				return c.clash
			}
		}
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return registry.ClashOperator
	}
	return registry.ClashNone
}

func (s *registryStore) Party(ctx context.Context, id string) (registry.Party, error) {
	const op = "sqlite.Registry.Party"
	p, err := registry.ScanParty(s.db.r.QueryRowContext(ctx, `SELECT `+registry.PartyColumns+` FROM parties WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return registry.Party{}, registry.NoParty(op, id)
	}
	if err != nil {
		return registry.Party{}, mapErr(op, fmt.Errorf("party %q: %w", id, err))
	}
	return p, nil
}

func (s *registryStore) Parties(ctx context.Context) ([]registry.Party, error) {
	const op = "sqlite.Registry.Parties"
	rows, err := s.db.r.QueryContext(ctx, `SELECT `+registry.PartyColumns+` FROM parties ORDER BY id`)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []registry.Party
	for rows.Next() {
		p, err := registry.ScanParty(rows)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, p)
	}
	return out, mapErr(op, rows.Err())
}

func (s *registryStore) CreateTerminal(ctx context.Context, t *registry.Terminal) error {
	const op = "sqlite.Registry.CreateTerminal"
	_, err := s.db.w.ExecContext(ctx, `INSERT INTO terminals (`+registry.TerminalColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID.String(), t.PSAM.String(), t.Operator, t.Type.String(), t.Line, t.Station, t.Vehicle, t.Status.String(),
		registry.CredentialText(t.Credential), t.Created.UnixNano(), t.Updated.UnixNano())
	return s.terminalErr(ctx, op, t, err)
}

func (s *registryStore) UpdateTerminal(ctx context.Context, t *registry.Terminal) error {
	const op = "sqlite.Registry.UpdateTerminal"
	res, err := s.db.w.ExecContext(ctx, `UPDATE terminals SET psam = ?, operator = ?, kind = ?, line = ?, station = ?, vehicle = ?, status = ?, credential = ?, updated_ns = ? WHERE id = ?`,
		t.PSAM.String(), t.Operator, t.Type.String(), t.Line, t.Station, t.Vehicle, t.Status.String(),
		registry.CredentialText(t.Credential), t.Updated.UnixNano(), t.ID.String())
	if err != nil {
		return s.terminalErr(ctx, op, t, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return mapErr(op, err)
	}
	if n == 0 {
		return registry.NoTerminal(op, t.ID)
	}
	return nil
}

// terminalErr maps the error of a write of t as partyErr does.
func (s *registryStore) terminalErr(ctx context.Context, op string, t *registry.Terminal, err error) error {
	c := clash(err)
	var q string
	var args []any
	switch c {
	case registry.ClashNone:
		return mapErr(op, err)
	case registry.ClashPSAM:
		q, args = `SELECT id FROM terminals WHERE psam = ?`, []any{t.PSAM.String()}
	}
	return registry.TerminalClash(op, t, c, s.holder(ctx, q, args...))
}

func (s *registryStore) Terminal(ctx context.Context, id citycard.TerminalID) (registry.Terminal, error) {
	const op = "sqlite.Registry.Terminal"
	// Prepared: every terminal request authenticates through it (twice a
	// load at the load host).
	var t registry.Terminal
	err := s.db.readRow(ctx, `SELECT `+registry.TerminalColumns+` FROM terminals WHERE id = ?`,
		func(r *sql.Row) (err error) { t, err = registry.ScanTerminal(r); return err }, id.String())
	if errors.Is(err, sql.ErrNoRows) {
		return registry.Terminal{}, registry.NoTerminal(op, id)
	}
	if err != nil {
		return registry.Terminal{}, mapErr(op, fmt.Errorf("terminal %v: %w", id, err))
	}
	return t, nil
}

func (s *registryStore) TerminalByPSAM(ctx context.Context, psam citycard.PSAMID) (registry.Terminal, error) {
	const op = "sqlite.Registry.TerminalByPSAM"
	t, err := registry.ScanTerminal(s.db.r.QueryRowContext(ctx, `SELECT `+registry.TerminalColumns+` FROM terminals WHERE psam = ?`, psam.String()))
	if errors.Is(err, sql.ErrNoRows) {
		return registry.Terminal{}, registry.NoTerminalWithPSAM(op, psam)
	}
	if err != nil {
		return registry.Terminal{}, mapErr(op, fmt.Errorf("PSAM %v: %w", psam, err))
	}
	return t, nil
}

func (s *registryStore) Terminals(ctx context.Context, operator string) ([]registry.Terminal, error) {
	const op = "sqlite.Registry.Terminals"
	q := `SELECT ` + registry.TerminalColumns + ` FROM terminals ORDER BY id`
	var args []any
	if operator != "" {
		q = `SELECT ` + registry.TerminalColumns + ` FROM terminals WHERE operator = ? ORDER BY id`
		args = append(args, operator)
	}
	rows, err := s.db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []registry.Terminal
	for rows.Next() {
		t, err := registry.ScanTerminal(rows)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, t)
	}
	return out, mapErr(op, rows.Err())
}

// corrupt marks a stored value the code cannot read back: kind IO.
func corrupt(err error) error {
	return citycard.E("sqlite", citycard.IO, "corrupt row: %w", err)
}
