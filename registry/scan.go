package registry

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/citycard/citycard"
)

// The stores keep parties and terminals in the same representation
// (times as Unix nanoseconds, enumerations by name, codes and hashes as
// hex), so they share the decoding of a row: they differ only in their SQL.

// Scanner is one row as a store reads it: database/sql's and pgx's rows
// and row all have this Scan.
type Scanner interface{ Scan(dest ...any) error }

// PartyColumns and TerminalColumns are the columns ScanParty and
// ScanTerminal read, in order.
const (
	PartyColumns    = `id, role, code, sector, name, own, settlement_account, created_ns, updated_ns`
	TerminalColumns = `id, psam, operator, kind, line, station, vehicle, status, credential, created_ns, updated_ns`
)

// ScanParty reads a party row of PartyColumns. Scan's error passes
// through; a stored value that does not parse is kind IO.
func ScanParty(sc Scanner) (Party, error) {
	var (
		p                       Party
		role, code, sector      string
		createdNs, updatedNs    int64
		name, settlementAccount string
		own                     bool
	)
	if err := sc.Scan(&p.ID, &role, &code, &sector, &name, &own, &settlementAccount, &createdNs, &updatedNs); err != nil {
		return p, err
	}
	var err error
	if p.Type, err = ParsePartyType(role); err != nil {
		return p, corrupt(err)
	}
	if p.Code, err = citycard.ParseIssuerCode(code); err != nil {
		return p, corrupt(err)
	}
	if p.Sector, err = ParseSector(sector); err != nil {
		return p, corrupt(err)
	}
	p.Name, p.Own, p.SettlementAccount = name, own, settlementAccount
	p.Created, p.Updated = fromNs(createdNs), fromNs(updatedNs)
	return p, nil
}

// ScanTerminal reads a terminal row of TerminalColumns. Errors as
// ScanParty.
func ScanTerminal(sc Scanner) (Terminal, error) {
	var (
		t                                  Terminal
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
	if t.Type, err = ParseTerminalType(kind); err != nil {
		return t, corrupt(err)
	}
	if t.Status, err = ParseStatus(status); err != nil {
		return t, corrupt(err)
	}
	if credential != "" {
		if len(credential) != 64 {
			return t, corrupt(fmt.Errorf("credential %q: want 64 hex digits", credential))
		}
		if _, err := hex.Decode(t.Credential[:], []byte(credential)); err != nil {
			return t, corrupt(err)
		}
	}
	t.Created, t.Updated = fromNs(createdNs), fromNs(updatedNs)
	return t, nil
}

// CredentialText is the stored form of a credential hash: hex, or empty
// for none.
func CredentialText(h [32]byte) string {
	if h == ([32]byte{}) {
		return ""
	}
	return hex.EncodeToString(h[:])
}

func fromNs(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// corrupt marks a stored value that cannot be read back: kind IO.
func corrupt(err error) error {
	return citycard.E("registry.Scan", citycard.IO, "corrupt row: %w", err)
}
