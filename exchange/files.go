package exchange

import (
	"bytes"

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
// positions CSV, the instructions CSV and the pain.001, a function of c,
// res and parties alone (see Settle): the same cycle gives the same
// bytes. Kinds as Settle's.
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
	return []SettlementFile{{n[0], pos.Bytes()}, {n[1], ins.Bytes()}, {n[2], pain.Bytes()}}, nil
}
