package postgres

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/registry"
)

// registryStore implements registry.Store.
type registryStore struct{ db *DB }

const partyColumns = `id, role, code, sector, name, own, settlement_account, created_ns, updated_ns`

func (s *registryStore) CreateParty(ctx context.Context, p *registry.Party) error {
	_, err := s.db.pool.Exec(ctx, `INSERT INTO parties (`+partyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
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
	p, err := scanParty(s.db.pool.QueryRow(ctx, `SELECT `+partyColumns+` FROM parties WHERE id = $1`, id))
	if err != nil {
		return registry.Party{}, mapErr(op, fmt.Errorf("party %q: %w", id, err))
	}
	return p, nil
}

func (s *registryStore) Parties(ctx context.Context) ([]registry.Party, error) {
	const op = "postgres.Registry.Parties"
	rows, err := s.db.pool.Query(ctx, `SELECT `+partyColumns+` FROM parties ORDER BY id`)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []registry.Party
	for rows.Next() {
		p, err := scanParty(rows)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, p)
	}
	return out, mapErr(op, rows.Err())
}

// scanner is a pgx.Row or pgx.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanParty(sc scanner) (registry.Party, error) {
	var (
		p                       registry.Party
		role, code, sector      string
		createdNs, updatedNs    int64
		name, settlementAccount string
		own                     bool
	)
	if err := sc.Scan(&p.ID, &role, &code, &sector, &name, &own, &settlementAccount, &createdNs, &updatedNs); err != nil {
		return p, err
	}
	var err error
	if p.Role, err = registry.ParseRole(role); err != nil {
		return p, corrupt(err)
	}
	if p.Code, err = citycard.ParseIssuerCode(code); err != nil {
		return p, corrupt(err)
	}
	if p.Sector, err = registry.ParseSector(sector); err != nil {
		return p, corrupt(err)
	}
	p.Name, p.Own, p.SettlementAccount = name, own, settlementAccount
	p.Created, p.Updated = fromNs(createdNs), fromNs(updatedNs)
	return p, nil
}

const terminalColumns = `id, psam, operator, kind, line, station, vehicle, status, credential, created_ns, updated_ns`

func (s *registryStore) CreateTerminal(ctx context.Context, t *registry.Terminal) error {
	_, err := s.db.pool.Exec(ctx, `INSERT INTO terminals (`+terminalColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		t.ID.String(), t.PSAM.String(), t.Operator, t.Kind.String(), t.Line, t.Station, t.Vehicle, t.Status.String(),
		credentialText(t.Credential), t.Created.UnixNano(), t.Updated.UnixNano())
	return mapErr("postgres.Registry.CreateTerminal", err)
}

func (s *registryStore) UpdateTerminal(ctx context.Context, t *registry.Terminal) error {
	const op = "postgres.Registry.UpdateTerminal"
	tag, err := s.db.pool.Exec(ctx, `UPDATE terminals SET psam = $1, operator = $2, kind = $3, line = $4, station = $5, vehicle = $6, status = $7, credential = $8, updated_ns = $9 WHERE id = $10`,
		t.PSAM.String(), t.Operator, t.Kind.String(), t.Line, t.Station, t.Vehicle, t.Status.String(),
		credentialText(t.Credential), t.Updated.UnixNano(), t.ID.String())
	return updated(op, tag, err, "terminal "+t.ID.String())
}

func (s *registryStore) Terminal(ctx context.Context, id citycard.TerminalID) (registry.Terminal, error) {
	const op = "postgres.Registry.Terminal"
	t, err := scanTerminal(s.db.pool.QueryRow(ctx, `SELECT `+terminalColumns+` FROM terminals WHERE id = $1`, id.String()))
	if err != nil {
		return registry.Terminal{}, mapErr(op, fmt.Errorf("terminal %v: %w", id, err))
	}
	return t, nil
}

func (s *registryStore) TerminalByPSAM(ctx context.Context, psam citycard.PSAMID) (registry.Terminal, error) {
	const op = "postgres.Registry.TerminalByPSAM"
	t, err := scanTerminal(s.db.pool.QueryRow(ctx, `SELECT `+terminalColumns+` FROM terminals WHERE psam = $1`, psam.String()))
	if err != nil {
		return registry.Terminal{}, mapErr(op, fmt.Errorf("PSAM %v: %w", psam, err))
	}
	return t, nil
}

func (s *registryStore) Terminals(ctx context.Context, operator string) ([]registry.Terminal, error) {
	const op = "postgres.Registry.Terminals"
	q := `SELECT ` + terminalColumns + ` FROM terminals ORDER BY id`
	var args []any
	if operator != "" {
		q = `SELECT ` + terminalColumns + ` FROM terminals WHERE operator = $1 ORDER BY id`
		args = append(args, operator)
	}
	rows, err := s.db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []registry.Terminal
	for rows.Next() {
		t, err := scanTerminal(rows)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, t)
	}
	return out, mapErr(op, rows.Err())
}

func scanTerminal(sc scanner) (registry.Terminal, error) {
	var (
		t                                  registry.Terminal
		id, psam, kind, status, credential string
		createdNs, updatedNs               int64
	)
	if err := sc.Scan(&id, &psam, &t.Operator, &kind, &t.Line, &t.Station, &t.Vehicle, &status, &credential, &createdNs, &updatedNs); err != nil {
		return t, err
	}
	var err error
	if t.ID, err = citycard.ParseTerminalID(id); err != nil {
		return t, corrupt(err)
	}
	if t.PSAM, err = citycard.ParsePSAMID(psam); err != nil {
		return t, corrupt(err)
	}
	if t.Kind, err = registry.ParseTerminalKind(kind); err != nil {
		return t, corrupt(err)
	}
	if t.Status, err = registry.ParseStatus(status); err != nil {
		return t, corrupt(err)
	}
	if credential != "" {
		if err := decodeHash(&t.Credential, credential); err != nil {
			return t, corrupt(err)
		}
	}
	t.Created, t.Updated = fromNs(createdNs), fromNs(updatedNs)
	return t, nil
}

// credentialText is the stored form of a credential hash: hex, or empty
// for none.
func credentialText(h [32]byte) string {
	if h == ([32]byte{}) {
		return ""
	}
	return hex.EncodeToString(h[:])
}

func decodeHash(dst *[32]byte, s string) error {
	if len(s) != 64 {
		return fmt.Errorf("hash %q: want 64 hex digits", s)
	}
	_, err := hex.Decode(dst[:], []byte(s))
	return err
}

func fromNs(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// corrupt marks a stored value the code cannot read back: kind IO.
func corrupt(err error) error {
	return citycard.E("postgres", citycard.IO, "corrupt row: %w", err)
}
