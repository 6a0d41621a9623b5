package clearing

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
)

// TextRow is one version of a parameter as the stores keep it: its key
// columns' values, its text, and what an error calls it. The fee
// schedules and the other parameters are kept so, in a TextTable.
type TextRow struct {
	What string
	Keys []any
	Text string
}

// TextTable is a table of TextRows: key columns KeyColumns, the text in
// TextColumn, then set_by and set_ns.
type TextTable struct {
	Name, TextColumn string
	KeyColumns       []string
}

// The tables of the parameters and of the fee schedules.
var (
	ParamTable = TextTable{Name: "clearing_param_versions", TextColumn: "body", KeyColumns: []string{"kind", "party", "effective_day"}}
	FeeTable   = TextTable{Name: "clearing_fee_versions", TextColumn: "schedule", KeyColumns: []string{"party", "effective_day"}}
)

// Queries returns t's query of a row's stored text by its keys and its
// insert of a row (TextRow.Args), mark(i) being the dialect's
// placeholder of argument i (from 1).
func (t TextTable) Queries(mark func(i int) string) (sel, ins string) {
	conds := make([]string, len(t.KeyColumns))
	marks := make([]string, len(t.KeyColumns)+3)
	for i, k := range t.KeyColumns {
		conds[i] = k + " = " + mark(i+1)
	}
	for i := range marks {
		marks[i] = mark(i + 1)
	}
	sel = `SELECT ` + t.TextColumn + ` FROM ` + t.Name + ` WHERE ` + strings.Join(conds, " AND ")
	ins = `INSERT INTO ` + t.Name + ` (` + strings.Join(t.KeyColumns, ", ") + `, ` + t.TextColumn + `, set_by, set_ns) VALUES (` + strings.Join(marks, ", ") + `)`
	return sel, ins
}

// Args are the values of r's insert, set by by at at.
func (r *TextRow) Args(by string, at time.Time) []any {
	return append(slices.Clone(r.Keys), r.Text, by, at.UnixNano())
}

// Keep says whether r is to be inserted, given the text stored under its
// keys (found false for none): a row stored already with the same text
// is left as it is, with another text it is kind Exists under op.
func (r *TextRow) Keep(op, stored string, found bool) (insert bool, err error) {
	switch {
	case !found:
		return true, nil
	case stored == r.Text:
		return false, nil
	}
	return false, citycard.E(op, citycard.Exists, "%s was set otherwise: set a new version", r.What)
}

// ParamRows lays vs out as rows of ParamTable.
func ParamRows(vs []ParamVersion) []TextRow {
	rows := make([]TextRow, len(vs))
	for i, v := range vs {
		rows[i] = TextRow{What: v.Kind + " of " + v.Party + " from " + v.Effective.String(), Keys: []any{v.Kind, v.Party, int64(v.Effective)}, Text: v.Text}
	}
	return rows
}

// FeeRows lays vs out as rows of FeeTable.
func FeeRows(vs []FeeVersion) []TextRow {
	rows := make([]TextRow, len(vs))
	for i, v := range vs {
		rows[i] = TextRow{What: "fee schedule of " + v.Schedule.Party + " from " + v.Effective.String(), Keys: []any{v.Schedule.Party, int64(v.Effective)}, Text: EncodeFeeVersion(v)}
	}
	return rows
}

// ScanParamVersions reads the versions of kind from rows of party,
// effective_day, body.
func ScanParamVersions(rows acquire.Rows, kind string) ([]ParamVersion, error) {
	var out []ParamVersion
	for rows.Next() {
		v := ParamVersion{Kind: kind}
		var day int64
		if err := rows.Scan(&v.Party, &day, &v.Text); err != nil {
			return nil, err
		}
		v.Effective = Day(day)
		out = append(out, v)
	}
	return out, rows.Err()
}

// FeeVersionsQuery is the stores' query of every fee schedule version,
// read by ScanFeeVersions.
const FeeVersionsQuery = `SELECT party, effective_day, schedule FROM clearing_fee_versions ORDER BY party, effective_day`

// ScanFeeVersions reads rows of FeeVersionsQuery. A schedule that does
// not decode is DecodeFeeVersion's error.
func ScanFeeVersions(rows acquire.Rows) ([]FeeVersion, error) {
	var out []FeeVersion
	for rows.Next() {
		var party, text string
		var day int64
		if err := rows.Scan(&party, &day, &text); err != nil {
			return nil, err
		}
		v, err := DecodeFeeVersion(fmt.Sprintf("clearing_fee_versions (%s, %v)", party, Day(day)), text)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
