package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/registry"
)

// registryStore implements registry.Store.
type registryStore struct{ db *DB }

func (s *registryStore) CreateParty(ctx context.Context, p *registry.Party) error {
	const op = "postgres.Registry.CreateParty"
	_, err := s.db.pool.Exec(ctx, `INSERT INTO parties (`+registry.PartyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		p.ID, p.Type.String(), p.Code.String(), p.Sector.String(), p.Name, p.Own, p.SettlementAccount,
		p.Created.UnixNano(), p.Updated.UnixNano())
	return s.partyErr(ctx, op, p, err)
}

func (s *registryStore) UpdateParty(ctx context.Context, p *registry.Party) error {
	const op = "postgres.Registry.UpdateParty"
	tag, err := s.db.pool.Exec(ctx, `UPDATE parties SET role = $1, code = $2, sector = $3, name = $4, own = $5, settlement_account = $6, updated_ns = $7 WHERE id = $8`,
		p.Type.String(), p.Code.String(), p.Sector.String(), p.Name, p.Own, p.SettlementAccount, p.Updated.UnixNano(), p.ID)
	if err != nil {
		return s.partyErr(ctx, op, p, err)
	}
	if tag.RowsAffected() == 0 {
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
		q, args = `SELECT id FROM parties WHERE code = $1`, []any{p.Code.String()}
	case registry.ClashOwn:
		q = `SELECT id FROM parties WHERE own`
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
	if err := s.db.pool.QueryRow(ctx, q, args...).Scan(&id); err != nil {
		return ""
	}
	return id
}

// clashes are the registry's constraints by name (PostgreSQL's default
// names for the constraints of migrations/0001_init.sql).
var clashes = map[string]registry.Clash{
	"parties_pkey":            registry.ClashPartyID,
	"parties_code_key":        registry.ClashPartyCode,
	"parties_own":             registry.ClashOwn,
	"terminals_pkey":          registry.ClashTerminal,
	"terminals_psam_key":      registry.ClashPSAM,
	"terminals_operator_fkey": registry.ClashOperator,
}

// clash reads which rule of the registry's schema err broke, by the name
// of the constraint a unique (23505) or foreign-key (23503) violation
// reports.
func clash(err error) registry.Clash {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || (pe.Code != "23505" && pe.Code != "23503") {
		return registry.ClashNone
	}
	return clashes[pe.ConstraintName]
}

func (s *registryStore) Party(ctx context.Context, id string) (registry.Party, error) {
	const op = "postgres.Registry.Party"
	p, err := registry.ScanParty(s.db.pool.QueryRow(ctx, `SELECT `+registry.PartyColumns+` FROM parties WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return registry.Party{}, registry.NoParty(op, id)
	}
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

func (s *registryStore) CreateTerminal(ctx context.Context, t *registry.Terminal) error {
	const op = "postgres.Registry.CreateTerminal"
	_, err := s.db.pool.Exec(ctx, `INSERT INTO terminals (`+registry.TerminalColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		t.ID.String(), t.PSAM.String(), t.Operator, t.Type.String(), t.Line, t.Station, t.Vehicle, t.Status.String(),
		registry.CredentialText(t.Credential), t.Created.UnixNano(), t.Updated.UnixNano())
	return s.terminalErr(ctx, op, t, err)
}

func (s *registryStore) UpdateTerminal(ctx context.Context, t *registry.Terminal) error {
	const op = "postgres.Registry.UpdateTerminal"
	tag, err := s.db.pool.Exec(ctx, `UPDATE terminals SET psam = $1, operator = $2, kind = $3, line = $4, station = $5, vehicle = $6, status = $7, credential = $8, updated_ns = $9 WHERE id = $10`,
		t.PSAM.String(), t.Operator, t.Type.String(), t.Line, t.Station, t.Vehicle, t.Status.String(),
		registry.CredentialText(t.Credential), t.Updated.UnixNano(), t.ID.String())
	if err != nil {
		return s.terminalErr(ctx, op, t, err)
	}
	if tag.RowsAffected() == 0 {
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
		q, args = `SELECT id FROM terminals WHERE psam = $1`, []any{t.PSAM.String()}
	}
	return registry.TerminalClash(op, t, c, s.holder(ctx, q, args...))
}

func (s *registryStore) Terminal(ctx context.Context, id citycard.TerminalID) (registry.Terminal, error) {
	const op = "postgres.Registry.Terminal"
	t, err := registry.ScanTerminal(s.db.pool.QueryRow(ctx, `SELECT `+registry.TerminalColumns+` FROM terminals WHERE id = $1`, id.String()))
	if errors.Is(err, pgx.ErrNoRows) {
		return registry.Terminal{}, registry.NoTerminal(op, id)
	}
	if err != nil {
		return registry.Terminal{}, mapErr(op, fmt.Errorf("terminal %v: %w", id, err))
	}
	return t, nil
}

func (s *registryStore) TerminalByPSAM(ctx context.Context, psam citycard.PSAMID) (registry.Terminal, error) {
	const op = "postgres.Registry.TerminalByPSAM"
	t, err := registry.ScanTerminal(s.db.pool.QueryRow(ctx, `SELECT `+registry.TerminalColumns+` FROM terminals WHERE psam = $1`, psam.String()))
	if errors.Is(err, pgx.ErrNoRows) {
		return registry.Terminal{}, registry.NoTerminalWithPSAM(op, psam)
	}
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
