package postgres

import (
	"fmt"
	"strings"
)

// rowsMax bounds the rows of one multi-row INSERT (rowInsert). Past
// valuesMax rows each column is one array parameter, so the statement
// stays far below the protocol's 65,535 parameters whatever its rows
// (and by VALUES it has at most valuesMax times its columns); the bound
// keeps one message, and one statement's work, of a size the server
// handles at ease. A variable for the boundary tests only.
var rowsMax = 4096

// valuesMax is the most rows a rowInsert writes by INSERT ... VALUES,
// a text for each number of rows (each prepared once a connection, in
// pgx's statement cache of 512); more go in by its unnest, one text for
// any number. Measured on PostgreSQL 15, group commits of two
// operations cost the server about an eighth less CPU by VALUES than by
// unnest; from some dozens of rows on the two are alike.
const valuesMax = 16

// mixedOwner is the owner of a statement writing the rows of more than
// one operation (rowBuf.queue): its error is no one operation's.
const mixedOwner = -2

// rowInsert is an INSERT of many rows in one statement, the rows
// written in the order given (serial columns count in that order): up
// to valuesMax rows by INSERT ... VALUES (values[n-1] for n rows), more
// by sql, each column one array parameter of its type, unnested.
type rowInsert struct {
	sql    string
	values []string
	suffix string // after either: ON CONFLICT ...
	cols   int
}

// newRowInsert is the rowInsert of table's columns (comma-separated, as
// cms.CardColumns) of types (PostgreSQL's names, one a column).
func newRowInsert(table, columns string, types ...string) rowInsert {
	cols := strings.Split(columns, ", ")
	if len(cols) != len(types) {
		panic(fmt.Sprintf("postgres: %s: %d columns, %d types", table, len(cols), len(types)))
	}
	params := make([]string, len(cols))
	for i, t := range types {
		params[i] = fmt.Sprintf("$%d::%s[]", i+1, t)
	}
	r := rowInsert{
		sql: "INSERT INTO " + table + " (" + columns + ") SELECT " + columns + " FROM unnest(" + strings.Join(params, ", ") +
			") WITH ORDINALITY AS r (" + columns + ", ord) ORDER BY ord",
		cols: len(cols),
	}
	var rows []string
	for n := 0; n < valuesMax; n++ {
		row := make([]string, len(cols))
		for i := range row {
			row[i] = fmt.Sprintf("$%d", n*len(cols)+i+1)
		}
		rows = append(rows, "("+strings.Join(row, ", ")+")")
		r.values = append(r.values, "INSERT INTO "+table+" ("+columns+") VALUES "+strings.Join(rows, ", "))
	}
	return r
}

// rowBuf gathers rows of one rowInsert, each with its owner (the
// operation it writes, or -1), until queue sends them.
type rowBuf struct {
	ins    *rowInsert
	cols   [][]any // column-major: cols[c][row]
	owners []int
}

func newRowBuf(ins *rowInsert) rowBuf { return rowBuf{ins: ins, cols: make([][]any, ins.cols)} }

// add appends a row of owner, its values in the columns' order.
func (r *rowBuf) add(owner int, values ...any) {
	if len(values) != len(r.cols) {
		panic(fmt.Sprintf("postgres: %d values for %d columns: %s", len(values), len(r.cols), r.ins.sql))
	}
	for c, v := range values {
		r.cols[c] = append(r.cols[c], v)
	}
	r.owners = append(r.owners, owner)
}

// queue passes the rows gathered to q in statements of at most rowsMax
// rows, in order, each with its owner (mixedOwner if its rows have more
// than one), and empties the buffer.
func (r *rowBuf) queue(q func(owner int, sql string, args ...any)) {
	for from := 0; from < len(r.owners); from += rowsMax {
		to := min(from+rowsMax, len(r.owners))
		owner := r.owners[from]
		for _, o := range r.owners[from+1 : to] {
			if o != owner {
				owner = mixedOwner
				break
			}
		}
		if n := to - from; n <= valuesMax {
			args := make([]any, 0, n*len(r.cols))
			for row := from; row < to; row++ {
				for c := range r.cols {
					args = append(args, r.cols[c][row])
				}
			}
			q(owner, r.ins.values[n-1]+r.ins.suffix, args...)
			continue
		}
		args := make([]any, len(r.cols))
		for c := range r.cols {
			args[c] = r.cols[c][from:to]
		}
		q(owner, r.ins.sql+r.ins.suffix, args...)
	}
	for c := range r.cols {
		r.cols[c] = nil
	}
	r.owners = r.owners[:0]
}
