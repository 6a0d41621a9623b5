package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/registry"
)

// registryStore implements registry.Store.
type registryStore struct{ db *DB }

func (s *registryStore) CreateParty(ctx context.Context, p *registry.Party) error {
	_, err := s.db.pool.Exec(ctx, `INSERT INTO parties (`+registry.PartyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		p.ID, p.Role.String(), p.Code.String(), p.Sector.String(), p.Name, p.Own, p.SettlementAccount,
		p.Created.UnixNano(), p.Updated.UnixNano())
	return mapErr("postgres.Registry.CreateParty", err)
}

func (s *registryStore) UpdateParty(ctx context.Context, p *registry.Party) error {
	const op = "postgres.Registry.UpdateParty"
	tag, err := s.db.pool.Exec(ctx, `UPDATE parties SET role = $1, code = $2, sector = $3, name = $4, own = $5, settlement_account = $6, updated_ns = $7 WHERE id = $8`,
		p.Role.String(), p.Code.String(), p.Sector.String(), p.Name, p.Own, p.SettlementAccount, p.Updated.UnixNano(), p.ID)
	return updated(op, tag, err, "party "+p.ID)
}

// updated maps the outcome of an UPDATE of one row: NotFound if it
// touched none.
func updated(op string, tag pgconn.CommandTag, err error, what string) error {
	if err != nil {
		return mapErr(op, err)
	}
	if tag.RowsAffected() == 0 {
		return citycard.E(op, citycard.NotFound, "%s: not found", what)
	}
	return nil
}

func (s *registryStore) Party(ctx context.Context, id string) (registry.Party, error) {
	const op = "postgres.Registry.Party"
	p, err := registry.ScanParty(s.db.pool.QueryRow(ctx, `SELECT `+registry.PartyColumns+` FROM parties WHERE id = $1`, id))
	if err != nil {
		return registry.Party{}, mapErr(op, fmt.Errorf("party %q: %w", id, err))
	}
	return p, nil
}

func (s *registryStore) Parties(ctx context.Context) ([]registry.Party, error) {
	const op = "postgres.Registry.Parties"
	rows, err := s.db.pool.Query(ctx, `SELECT `+registry.PartyColumns+` FROM parties ORDER BY id`)
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

// scanner is a pgx.Row or pgx.Rows.

func (s *registryStore) CreateTerminal(ctx context.Context, t *registry.Terminal) error {
	_, err := s.db.pool.Exec(ctx, `INSERT INTO terminals (`+registry.TerminalColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		t.ID.String(), t.PSAM.String(), t.Operator, t.Kind.String(), t.Line, t.Station, t.Vehicle, t.Status.String(),
		registry.CredentialText(t.Credential), t.Created.UnixNano(), t.Updated.UnixNano())
	return mapErr("postgres.Registry.CreateTerminal", err)
}

func (s *registryStore) UpdateTerminal(ctx context.Context, t *registry.Terminal) error {
	const op = "postgres.Registry.UpdateTerminal"
	tag, err := s.db.pool.Exec(ctx, `UPDATE terminals SET psam = $1, operator = $2, kind = $3, line = $4, station = $5, vehicle = $6, status = $7, credential = $8, updated_ns = $9 WHERE id = $10`,
		t.PSAM.String(), t.Operator, t.Kind.String(), t.Line, t.Station, t.Vehicle, t.Status.String(),
		registry.CredentialText(t.Credential), t.Updated.UnixNano(), t.ID.String())
	return updated(op, tag, err, "terminal "+t.ID.String())
}

func (s *registryStore) Terminal(ctx context.Context, id citycard.TerminalID) (registry.Terminal, error) {
	const op = "postgres.Registry.Terminal"
	t, err := registry.ScanTerminal(s.db.pool.QueryRow(ctx, `SELECT `+registry.TerminalColumns+` FROM terminals WHERE id = $1`, id.String()))
	if err != nil {
		return registry.Terminal{}, mapErr(op, fmt.Errorf("terminal %v: %w", id, err))
	}
	return t, nil
}

func (s *registryStore) TerminalByPSAM(ctx context.Context, psam citycard.PSAMID) (registry.Terminal, error) {
	const op = "postgres.Registry.TerminalByPSAM"
	t, err := registry.ScanTerminal(s.db.pool.QueryRow(ctx, `SELECT `+registry.TerminalColumns+` FROM terminals WHERE psam = $1`, psam.String()))
	if err != nil {
		return registry.Terminal{}, mapErr(op, fmt.Errorf("PSAM %v: %w", psam, err))
	}
	return t, nil
}

func (s *registryStore) Terminals(ctx context.Context, operator string) ([]registry.Terminal, error) {
	const op = "postgres.Registry.Terminals"
	q := `SELECT ` + registry.TerminalColumns + ` FROM terminals ORDER BY id`
	var args []any
	if operator != "" {
		q = `SELECT ` + registry.TerminalColumns + ` FROM terminals WHERE operator = $1 ORDER BY id`
		args = append(args, operator)
	}
	rows, err := s.db.pool.Query(ctx, q, args...)
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
	return citycard.E("postgres", citycard.IO, "corrupt row: %w", err)
}
