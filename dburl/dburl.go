// Package dburl parses the --db flag every subcommand that opens the
// database takes: "sqlite:PATH" for the embedded default, or a
// "postgres://" (or "postgresql://") URL for PostgreSQL. It names the
// engine and nothing more; cmd/citycard opens the matching store, so that
// neither store package knows of the other.
package dburl

import (
	"strings"

	"github.com/citycard/citycard"
)

// Default is the database the binary opens when --db is not given.
const Default = "sqlite:./citycard.db"

// Engine is a database engine.
type Engine uint8

// The engines.
const (
	SQLite   Engine = 1
	Postgres Engine = 2
)

// String returns the engine's name: "sqlite" or "postgres".
func (e Engine) String() string {
	switch e {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return "engine?"
}

// URL is a parsed --db value.
type URL struct {
	Engine Engine
	// Path is the SQLite database file (Engine SQLite).
	Path string
	// Conn is the PostgreSQL connection URL as given (Engine Postgres).
	Conn string
}

// Parse parses s: "sqlite:PATH" (also "sqlite://PATH"; PATH may not hold
// '?', which the SQLite driver would take for options) or
// "postgres://..." / "postgresql://...". Kind Invalid otherwise.
func Parse(s string) (URL, error) {
	const op = "dburl.Parse"
	switch {
	case strings.HasPrefix(s, "sqlite:"):
		p := strings.TrimPrefix(strings.TrimPrefix(s, "sqlite:"), "//")
		if p == "" {
			return URL{}, citycard.E(op, citycard.Invalid, "%q: no file after sqlite:", s)
		}
		if strings.ContainsAny(p, "?#") {
			return URL{}, citycard.E(op, citycard.Invalid, "%q: a SQLite path may not hold '?' or '#'", s)
		}
		return URL{Engine: SQLite, Path: p}, nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		return URL{Engine: Postgres, Conn: s}, nil
	}
	return URL{}, citycard.E(op, citycard.Invalid, "database %q: want sqlite:PATH or postgres://...", s)
}
