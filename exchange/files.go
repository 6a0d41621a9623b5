package exchange

import (
	"bytes"
	"io"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
)

// SettlementFile is one file of a closed cycle's settlement, named.
type SettlementFile struct {
	Name string
	Data []byte
}

// FileNames returns the names of day d's settlement files, in the order
// Files returns them: CCLR-YYYYMMDD-positions.csv,
// CCLR-YYYYMMDD-instructions.csv and CCLR-YYYYMMDD-pain001.xml, so that
// the files of many days share a directory.
func FileNames(d clearing.Day) [3]string {
	p := MessageID(d) + "-"
	return [3]string{p + "positions.csv", p + "instructions.csv", p + "pain001.xml"}
}

// Files returns closed cycle c's settlement files, cleared as res: the
// positions CSV, the instructions CSV and the pain.001, then, when the
// cycle has any, the concessions CSV (CCLR-YYYYMMDD-concessions.csv:
// the compensation claims per funder, operator and rider category) and
// the commissions CSV (CCLR-YYYYMMDD-commissions.csv), and, when it has
// remote top-ups, their lines (CCLR-YYYYMMDD-topups.csv, WriteTopUpsCSV);
// then the pay-ins expected (CCLR-YYYYMMDD-incoming.csv,
// WriteIncomingCSV): of every party in net debit but the collector, for
// a cycle computed under clearing.SettlementDebtors (the file written
// even when empty); of the payers, and for a cycle with remote top-ups
// only, for one computed under clearing.SettlementPayers. A function of
// c (its settlement version included), res and parties alone (see
// Settle): the same cycle gives the same bytes. Kinds as Settle's.
func Files(c *clearing.Cycle, res *clearing.Result, parties map[string]Party) ([]SettlementFile, error) {
	const op = "exchange.Files"
	s, err := Settle(c, res, parties)
	if err != nil {
		return nil, err
	}
	var pos, ins, pain bytes.Buffer
	if err := WritePositionsCSV(&pos, res); err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	if err := WriteInstructionsCSV(&ins, s); err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	if err := WritePain001(&pain, s); err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	n := FileNames(c.Day)
	out := []SettlementFile{{n[0], pos.Bytes()}, {n[1], ins.Bytes()}, {n[2], pain.Bytes()}}
	// The claims and commissions, for a cycle that has any: a cycle
	// without them writes the three files it always wrote.
	for _, f := range []struct {
		name  string
		lines int
		write func(io.Writer, *clearing.Result) error
	}{
		{"concessions.csv", len(res.Concessions), WriteConcessionsCSV},
		{"commissions.csv", len(res.Commissions), WriteCommissionsCSV},
		{"topups.csv", len(res.TopUps), WriteTopUpsCSV},
	} {
		if f.lines == 0 {
			continue
		}
		var b bytes.Buffer
		if err := f.write(&b, res); err != nil {
			return nil, citycard.Wrap(op, citycard.Other, err)
		}
		out = append(out, SettlementFile{MessageID(c.Day) + "-" + f.name, b.Bytes()})
	}
	// The pay-ins expected: for every cycle of SettlementDebtors, and
	// for one of SettlementPayers only with remote top-ups (a cycle
	// computed before versions were kept writes the files it closed
	// with, byte for byte).
	if c.SettlementVersion != clearing.SettlementPayers || len(res.TopUps) != 0 {
		var b bytes.Buffer
		if err := WriteIncomingCSV(&b, s); err != nil {
			return nil, citycard.Wrap(op, citycard.Other, err)
		}
		out = append(out, SettlementFile{MessageID(c.Day) + "-incoming.csv", b.Bytes()})
	}
	return out, nil
}

// Kept returns fs as a cycle's close keeps them: named, hashed, sized
// (clearing.FileOf).
func Kept(fs []SettlementFile) []clearing.File {
	out := make([]clearing.File, len(fs))
	for i, f := range fs {
		out[i] = clearing.FileOf(f.Name, f.Data)
	}
	return out
}

// CloseFiles is the files argument of clearing.Cycles.Close: the
// cycle's settlement files (Files), as kept.
func CloseFiles(parties map[string]Party) func(c *clearing.Cycle, res *clearing.Result) ([]clearing.File, error) {
	return func(c *clearing.Cycle, res *clearing.Result) ([]clearing.File, error) {
		fs, err := Files(c, res, parties)
		if err != nil {
			return nil, err
		}
		return Kept(fs), nil
	}
}

// CheckKept checks files made again from closed cycle s against the
// hashes s kept at close. Kind Conflict naming the first that differs
// (the registry changed a party's name or account since the close, most
// likely).
func CheckKept(s *clearing.Stored, fs []SettlementFile) error {
	kept := make(map[string]clearing.File, len(s.Files))
	for _, f := range s.Files {
		kept[f.Name] = f
	}
	for _, f := range fs {
		if got := clearing.FileOf(f.Name, f.Data); got != kept[f.Name] {
			return citycard.E("exchange.CheckKept", citycard.Conflict, "cycle %v: %s is not the file the cycle closed with (sha256 %s, closed with %s): has the registry changed a party's name or account?",
				s.Cycle.Day, f.Name, got.SHA256, kept[f.Name].SHA256)
		}
	}
	return nil
}
