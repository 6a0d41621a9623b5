package recon

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"unicode/utf8"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
)

// CSVHeader is the first row of a statement in the CSV form (README.md):
// one row per payment, the rows of one bank entry (a batch booking)
// together.
var CSVHeader = []string{"statement_id", "account", "entry", "booking_date", "value_date", "direction", "amount", "currency", "end_to_end_id", "remittance"}

// The columns of CSVHeader.
const (
	colStatement = iota
	colAccount
	colEntry
	colBooked
	colValue
	colDirection
	colAmount
	colCurrency
	colEndToEnd
	colRemittance
)

// csvError is the error of a CSV file's field: its line and column.
func csvError(file string, line, col int, format string, args ...any) error {
	return citycard.E("recon.ParseCSV", citycard.Invalid, "%s: line %d: %s: %s", file, line, CSVHeader[col], fmt.Sprintf(format, args...))
}

// ParseCSV reads a statement in the CSV form (README.md), strictly: file
// names it in errors. UTF-8 (a byte-order mark is skipped), CSVHeader
// exactly, then one row per payment: every row of one statement and
// account; the rows of one entry (its bank reference) consecutive, of one
// booking day, value day, direction and currency, the entry's amount the
// sum of theirs. At least one row: the statement's ID is in the rows.
// Kind Invalid naming the line and the column, for a file past a limit,
// corrupt, truncated (a row short of columns, an open quote), or
// carrying a value that breaks these rules.
func ParseCSV(file string, data []byte) (*BankStatement, error) {
	const op = "recon.ParseCSV"
	if len(data) > FileBytesMax {
		return nil, citycard.E(op, citycard.Invalid, "%s: %d bytes, at most %d", file, len(data), FileBytesMax)
	}
	st := &BankStatement{Format: CSV, SHA256: hashOf(data)}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		return nil, citycard.E(op, citycard.Invalid, "%s: not UTF-8", file)
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = len(CSVHeader)
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil {
		return nil, csvReadError(file, err)
	}
	if !slices.Equal(head, CSVHeader) {
		return nil, citycard.E(op, citycard.Invalid, "%s: line 1: header %q: want %q", file, head, CSVHeader)
	}
	var cur *Movement
	seen := map[string]bool{}
	parts := 0
	for {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvReadError(file, err)
		}
		line, _ := r.FieldPos(0)
		for col, v := range row {
			max := IDLenMax
			switch col {
			case colAccount:
				max = AccountLenMax
			case colRemittance:
				max = RemittanceMax
			}
			required := col != colValue && col != colEndToEnd && col != colRemittance
			if why := checkText(v, max, required); why != "" {
				return nil, csvError(file, line, col, "%s", why)
			}
		}
		if st.ID == "" {
			st.ID, st.Account = row[colStatement], row[colAccount]
		}
		switch {
		case row[colStatement] != st.ID:
			return nil, csvError(file, line, colStatement, "%q: the file is of statement %q", row[colStatement], st.ID)
		case row[colAccount] != st.Account:
			return nil, csvError(file, line, colAccount, "%q: the statement is of account %q", row[colAccount], st.Account)
		case row[colCurrency] != "CNY":
			return nil, csvError(file, line, colCurrency, "%q: want CNY", row[colCurrency])
		}
		booked, err := clearing.ParseDay(row[colBooked])
		if err != nil {
			return nil, csvError(file, line, colBooked, "%q: want YYYY-MM-DD", row[colBooked])
		}
		value := booked
		if v := row[colValue]; v != "" {
			if value, err = clearing.ParseDay(v); err != nil {
				return nil, csvError(file, line, colValue, "%q: want YYYY-MM-DD or nothing", v)
			}
		}
		dir, err := ParseDirection(row[colDirection])
		if err != nil {
			return nil, csvError(file, line, colDirection, "%q: want DBIT or CRDT", row[colDirection])
		}
		fen, why := yuan(row[colAmount])
		if why == "" && fen == 0 {
			why = "0: a payment moves money"
		}
		if why != "" {
			return nil, csvError(file, line, colAmount, "%q: %s", clip(row[colAmount]), why)
		}
		entry := row[colEntry]
		if cur == nil || cur.BankRef != entry {
			if seen[entry] {
				return nil, csvError(file, line, colEntry, "%q again: the rows of an entry are together", entry)
			}
			if len(st.Movements) == MovementsMax {
				return nil, csvError(file, line, colEntry, "more than %d entries", MovementsMax)
			}
			seen[entry] = true
			st.Movements = append(st.Movements, Movement{Statement: st.ID, Seq: len(st.Movements) + 1, Direction: dir, Booked: booked, Value: value, BankRef: entry})
			cur = &st.Movements[len(st.Movements)-1]
		} else {
			switch {
			case cur.Booked != booked:
				return nil, csvError(file, line, colBooked, "%v: entry %q was booked %v", booked, entry, cur.Booked)
			case cur.Value != value:
				return nil, csvError(file, line, colValue, "%v: entry %q has value day %v", value, entry, cur.Value)
			case cur.Direction != dir:
				return nil, csvError(file, line, colDirection, "%v: entry %q is %v", dir, entry, cur.Direction)
			case len(cur.Parts) == PartsMax:
				return nil, csvError(file, line, colEntry, "more than %d payments in entry %q", PartsMax, entry)
			}
		}
		if parts++; parts > PartsTotalMax {
			return nil, csvError(file, line, colEntry, "more than %d payments in the statement", PartsTotalMax)
		}
		e2e := row[colEndToEnd]
		if e2e == notProvided {
			e2e = ""
		}
		cur.Parts = append(cur.Parts, Part{EndToEndID: e2e, AmountFen: fen, Remittance: row[colRemittance]})
		cur.AmountFen += fen // at most PartsMax * AmountFenMax: inside int64
		if cur.AmountFen > AmountFenMax {
			return nil, csvError(file, line, colAmount, "entry %q sums to more than %s yuan", entry, citycard.Yuan(AmountFenMax))
		}
	}
	if st.ID == "" {
		return nil, citycard.E(op, citycard.Invalid, "%s: line 2: %s: no rows: a statement in CSV names itself in its rows", file, CSVHeader[colStatement])
	}
	return st, nil
}

// csvReadError names the line and column of encoding/csv's error.
func csvReadError(file string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		col := "column " + fmt.Sprint(pe.Column)
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			col = "the row"
		}
		return citycard.E("recon.ParseCSV", citycard.Invalid, "%s: line %d: %s: %v", file, pe.Line, col, pe.Err)
	}
	if errors.Is(err, io.EOF) {
		return citycard.E("recon.ParseCSV", citycard.Invalid, "%s: line 1: empty: want the header %q", file, CSVHeader)
	}
	return citycard.E("recon.ParseCSV", citycard.Invalid, "%s: %v", file, err)
}

// Parse reads a statement file of format f (ParseCAMT053, ParseCSV).
func Parse(f Format, file string, data []byte) (*BankStatement, error) {
	switch f {
	case CAMT053:
		return ParseCAMT053(file, data)
	case CSV:
		return ParseCSV(file, data)
	}
	return nil, citycard.E("recon.Parse", citycard.Invalid, "%s: format %v: want camt053 or csv", file, f)
}

// Sniff says the format of a statement file from its first byte that is
// not white space (or a byte-order mark): '<' is camt.053, anything else
// CSV.
func Sniff(data []byte) Format {
	b := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(b) > 0 && b[0] == '<' {
		return CAMT053
	}
	return CSV
}
