package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/registry"
)

// registryStore implements registry.Store.
type registryStore struct{ db *DB }

func (s *registryStore) CreateParty(ctx context.Context, p *registry.Party) error {
	_, err := s.db.w.ExecContext(ctx, `INSERT INTO parties (`+registry.PartyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.Role.String(), p.Code.String(), p.Sector.String(), p.Name, p.Own, p.SettlementAccount,
		p.Created.UnixNano(), p.Updated.UnixNano())
	return mapErr("sqlite.Registry.CreateParty", err)
}

func (s *registryStore) UpdateParty(ctx context.Context, p *registry.Party) error {
	const op = "sqlite.Registry.UpdateParty"
	res, err := s.db.w.ExecContext(ctx, `UPDATE parties SET role = ?, code = ?, sector = ?, name = ?, own = ?, settlement_account = ?, updated_ns = ? WHERE id = ?`,
		p.Role.String(), p.Code.String(), p.Sector.String(), p.Name, p.Own, p.SettlementAccount, p.Updated.UnixNano(), p.ID)
	return updated(op, res, err, "party "+p.ID)
}

// updated maps the outcome of an UPDATE of one row: NotFound if it
// touched none.
func updated(op string, res sql.Result, err error, what string) error {
	if err != nil {
		return mapErr(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return mapErr(op, err)
	}
	if n == 0 {
		return citycard.E(op, citycard.NotFound, "%s: not found", what)
	}
	return nil
}

func (s *registryStore) Party(ctx context.Context, id string) (registry.Party, error) {
	const op = "sqlite.Registry.Party"
	p, err := registry.ScanParty(s.db.r.QueryRowContext(ctx, `SELECT `+registry.PartyColumns+` FROM parties WHERE id = ?`, id))
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

// scanner is a *sql.Row or *sql.Rows.

func (s *registryStore) CreateTerminal(ctx context.Context, t *registry.Terminal) error {
	_, err := s.db.w.ExecContext(ctx, `INSERT INTO terminals (`+registry.TerminalColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID.String(), t.PSAM.String(), t.Operator, t.Kind.String(), t.Line, t.Station, t.Vehicle, t.Status.String(),
		registry.CredentialText(t.Credential), t.Created.UnixNano(), t.Updated.UnixNano())
	return mapErr("sqlite.Registry.CreateTerminal", err)
}

func (s *registryStore) UpdateTerminal(ctx context.Context, t *registry.Terminal) error {
	const op = "sqlite.Registry.UpdateTerminal"
	res, err := s.db.w.ExecContext(ctx, `UPDATE terminals SET psam = ?, operator = ?, kind = ?, line = ?, station = ?, vehicle = ?, status = ?, credential = ?, updated_ns = ? WHERE id = ?`,
		t.PSAM.String(), t.Operator, t.Kind.String(), t.Line, t.Station, t.Vehicle, t.Status.String(),
		registry.CredentialText(t.Credential), t.Updated.UnixNano(), t.ID.String())
	return updated(op, res, err, "terminal "+t.ID.String())
}

func (s *registryStore) Terminal(ctx context.Context, id citycard.TerminalID) (registry.Terminal, error) {
	const op = "sqlite.Registry.Terminal"
	t, err := registry.ScanTerminal(s.db.r.QueryRowContext(ctx, `SELECT `+registry.TerminalColumns+` FROM terminals WHERE id = ?`, id.String()))
	if err != nil {
		return registry.Terminal{}, mapErr(op, fmt.Errorf("terminal %v: %w", id, err))
	}
	return t, nil
}

func (s *registryStore) TerminalByPSAM(ctx context.Context, psam citycard.PSAMID) (registry.Terminal, error) {
	const op = "sqlite.Registry.TerminalByPSAM"
	t, err := registry.ScanTerminal(s.db.r.QueryRowContext(ctx, `SELECT `+registry.TerminalColumns+` FROM terminals WHERE psam = ?`, psam.String()))
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
