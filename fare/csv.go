package fare

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits on what Load reads: a feed larger than this is refused rather than
// read into memory without bound.
const (
	fileBytesMax = 64 << 20 // one CSV file
	fileRowsMax  = 1 << 20  // data rows in one CSV file
	errorsMax    = 200      // errors kept before Load stops collecting
)

// FieldError is one problem of a feed: the file, the line (1 is the
// header) and the field it is in. Line is 0 for a problem of a whole file.
type FieldError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

// Error gives "file:line: field: message".
func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is the errors of a feed that failed to load, in file order.
type ErrorList []*FieldError

// Error gives the first errors, one a line.
func (l ErrorList) Error() string {
	const shown = 20
	var b strings.Builder
	for i, e := range l {
		if i == shown {
			fmt.Fprintf(&b, "\n(and %d more)", len(l)-shown)
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// table is one CSV file: its header and its rows with their line numbers.
type table struct {
	name   string
	cols   map[string]int
	rows   [][]string
	lines  []int
	absent bool
}

// has reports whether the file has the column.
func (t *table) has(col string) bool {
	_, ok := t.cols[col]
	return ok
}

// get returns the trimmed value of col in row i, "" when the column is
// absent. Every row has the header's width (parseCSV checks it).
func (t *table) get(i int, col string) string {
	c, ok := t.cols[col]
	if !ok {
		return ""
	}
	return strings.TrimSpace(t.rows[i][c])
}

// parseCSV reads one GTFS CSV file: a header, then rows. It is lenient
// where real feeds are and nothing is lost by it: a UTF-8 byte order mark,
// blank lines, spaces around values. It is strict where leniency would
// lose data unseen: a row with more or fewer fields than the header is an
// error naming its line (the GTFS reference: every line has the header's
// number of fields), collected up to errorsMax so that a feed author sees
// them all at once. Unknown columns are kept but never looked at.
func parseCSV(name string, data []byte) (*table, []*FieldError) {
	t := &table{name: name, cols: map[string]int{}}
	if len(data) > fileBytesMax {
		return nil, []*FieldError{{File: name, Msg: fmt.Sprintf("%d bytes, more than the %d this loader reads", len(data), fileBytesMax)}}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1 // checked here, to name the line and go on
	r.ReuseRecord = false
	header, err := r.Read()
	if err == io.EOF {
		return t, nil
	}
	if err != nil {
		return nil, []*FieldError{csvErr(name, err)}
	}
	for i, h := range header {
		h = strings.TrimSpace(h)
		if _, dup := t.cols[h]; dup && h != "" {
			return nil, []*FieldError{{File: name, Line: 1, Field: h, Msg: "column appears twice"}}
		}
		t.cols[h] = i
	}
	var errs []*FieldError
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, append(errs, csvErr(name, err))
		}
		if len(t.rows) == fileRowsMax {
			return nil, append(errs, &FieldError{File: name, Msg: fmt.Sprintf("more than %d rows", fileRowsMax)})
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		line, _ := r.FieldPos(0)
		if len(rec) != len(header) {
			if len(errs) < errorsMax {
				errs = append(errs, &FieldError{File: name, Line: line, Msg: fmt.Sprintf("%d fields, but the header has %d", len(rec), len(header))})
			}
			continue
		}
		t.rows = append(t.rows, rec)
		t.lines = append(t.lines, line)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return t, nil
}

func csvErr(name string, err error) *FieldError {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &FieldError{File: name, Line: pe.Line, Msg: pe.Err.Error()}
	}
	return &FieldError{File: name, Msg: err.Error()}
}
