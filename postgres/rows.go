package postgres

import (
	"fmt"
	"strings"
)

// rowsMax bounds the rows of one multi-row INSERT (rowInsert). Each
// column is one array parameter, so the statement stays far below the
// protocol's 65,535 parameters whatever its rows; the bound keeps one
// message, and one statement's work, of a size the server handles at
// ease. A variable for the boundary tests only.
var rowsMax = 4096

// mixedOwner is the owner of a statement writing the rows of more than
// one operation (rowBuf.queue): its error is no one operation's.
const mixedOwner = -2

// rowInsert is an INSERT of many rows in one statement: each column one
// array parameter of its type, unnested, the rows written in the order
// given (serial columns count in that order). Its text is the same for
// any number of rows, so the server plans it once per connection. One
// row goes in by a plain INSERT (one), which costs the server less.
type rowInsert struct {
	sql, one string
	suffix   string // after either: ON CONFLICT ...
	cols     int
}

// newRowInsert is the rowInsert of table's columns (comma-separated, as
// cms.CardColumns) of types (PostgreSQL's names, one a column).
func newRowInsert(table, columns string, types ...string) rowInsert {
	cols := strings.Split(columns, ", ")
	if len(cols) != len(types) {
		panic(fmt.Sprintf("postgres: %s: %d columns, %d types", table, len(cols), len(types)))
	}
	params, values := make([]string, len(cols)), make([]string, len(cols))
	for i, t := range types {
		params[i] = fmt.Sprintf("$%d::%s[]", i+1, t)
		values[i] = fmt.Sprintf("$%d", i+1)
	}
	return rowInsert{
		sql: "INSERT INTO " + table + " (" + columns + ") SELECT " + columns + " FROM unnest(" + strings.Join(params, ", ") +
			") WITH ORDINALITY AS r (" + columns + ", ord) ORDER BY ord",
		one:  "INSERT INTO " + table + " (" + columns + ") VALUES (" + strings.Join(values, ", ") + ")",
		cols: len(cols),
	}
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
		args := make([]any, len(r.cols))
		if to-from == 1 {
			for c := range r.cols {
				args[c] = r.cols[c][from]
			}
			q(owner, r.ins.one+r.ins.suffix, args...)
			continue
		}
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
