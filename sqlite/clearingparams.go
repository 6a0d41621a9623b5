package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
)

var _ clearing.ParamStore = (*Clearing)(nil)

// AddParams implements clearing.ParamStore, in one write transaction.
func (c *Clearing) AddParams(ctx context.Context, vs []clearing.ParamVersion, by string, at time.Time) error {
	rows := make([]textVersion, len(vs))
	for i, v := range vs {
		rows[i] = textVersion{what: v.Kind + " of " + v.Party + " from " + v.Effective.String(), keys: []any{v.Kind, v.Party, int64(v.Effective)}, text: v.Text}
	}
	return c.addTexts(ctx, "sqlite.Clearing.AddParams", "clearing_param_versions", "body", []string{"kind", "party", "effective_day"}, rows, by, at)
}

// textVersion is one version of a parameter kept as text: its key
// columns' values, its text, and what an error calls it.
type textVersion struct {
	what string
	keys []any
	text string
}

// addTexts stores rows into table (key columns keyCols, the text in
// textCol, then set_by and set_ns), all or none, in one transaction: a
// row stored already with the same text is left as it is, with another
// text it is kind Exists. The fee schedules and the other parameters are
// kept so.
func (c *Clearing) addTexts(ctx context.Context, op, table, textCol string, keyCols []string, rows []textVersion, by string, at time.Time) error {
	conds := make([]string, len(keyCols))
	marks := make([]string, len(keyCols)+3)
	for i, k := range keyCols {
		conds[i] = k + " = " + "?"
	}
	for i := range marks {
		marks[i] = "?"
	}
	where := strings.Join(conds, " AND ")
	insert := `INSERT INTO ` + table + ` (` + strings.Join(keyCols, ", ") + `, ` + textCol + `, set_by, set_ns) VALUES (` + strings.Join(marks, ", ") + `)`
	err := c.db.write(ctx, func(tx *sql.Tx) error {
		for _, r := range rows {
			var stored string
			err := tx.QueryRowContext(ctx, `SELECT `+textCol+` FROM `+table+` WHERE `+where, r.keys...).Scan(&stored)
			switch {
			case err == nil && stored == r.text:
				continue
			case err == nil:
				return citycard.E(op, citycard.Exists, "%s was set otherwise: set a new version", r.what)
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
			if _, err := tx.ExecContext(ctx, insert, append(slices.Clone(r.keys), r.text, by, at.UnixNano())...); err != nil {
				return err
			}
		}
		return nil
	})
	return mapErr(op, err)
}

// ParamVersions implements clearing.ParamStore.
func (c *Clearing) ParamVersions(ctx context.Context, kind string) ([]clearing.ParamVersion, error) {
	const op = "sqlite.Clearing.ParamVersions"
	rows, err := c.db.r.QueryContext(ctx, `SELECT party, effective_day, body FROM clearing_param_versions WHERE kind = ? ORDER BY party, effective_day`, kind)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []clearing.ParamVersion
	for rows.Next() {
		v := clearing.ParamVersion{Kind: kind}
		var day int64
		if err := rows.Scan(&v.Party, &day, &v.Text); err != nil {
			return nil, mapErr(op, err)
		}
		v.Effective = clearing.Day(day)
		out = append(out, v)
	}
	return out, mapErr(op, rows.Err())
}
