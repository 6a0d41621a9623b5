package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/citycard/citycard"
)

// FreshSchema creates a new, empty schema named prefix plus a random
// suffix on the server of base, and returns base with search_path set to
// it and a function that drops it (with everything in it). Benchmarks and
// demos use it to run against a real server without touching its other
// schemas. Kinds Invalid (a bad URL), IO.
func FreshSchema(ctx context.Context, base, prefix string) (string, func(context.Context) error, error) {
	const op = "postgres.FreshSchema"
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, citycard.E(op, citycard.Invalid, "%w", err)
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", nil, citycard.E(op, citycard.IO, "%w", err)
	}
	schema := prefix + hex.EncodeToString(rnd[:])
	// The URL may carry the pool's own parameters (pool_max_conns, ...),
	// which a plain connection would send the server as settings: the
	// pool's parser takes them out.
	pc, err := pgxpool.ParseConfig(base)
	if err != nil {
		return "", nil, citycard.E(op, citycard.Invalid, "%w", err)
	}
	connect := func(ctx context.Context) (*pgx.Conn, error) { return pgx.ConnectConfig(ctx, pc.ConnConfig.Copy()) }
	conn, err := connect(ctx)
	if err != nil {
		return "", nil, citycard.E(op, citycard.IO, "%w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, mapErr(op, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop := func(ctx context.Context) error {
		c, err := connect(ctx)
		if err != nil {
			return citycard.E(op, citycard.IO, "%w", err)
		}
		defer c.Close(ctx)
		_, err = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
		return mapErr(op, err)
	}
	return u.String(), drop, nil
}
