package postgres

import (
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestPlainOnLoopback: a URL without sslmode to this machine connects in
// clear, once (no second try of the same host); one that says an sslmode,
// or names another host, keeps TLS as pgx set it.
func TestPlainOnLoopback(t *testing.T) {
	t.Setenv("PGSSLMODE", "")
	for _, c := range []struct {
		url   string
		plain bool // no TLS at all: neither the first try nor a fallback
	}{
		{"postgres://postgres@127.0.0.1:5432/test", true},
		{"postgres://postgres@localhost:5432/test", true},
		{"postgres://postgres@[::1]:5432/test", true},
		{"postgres://postgres@127.0.0.1:5432,127.0.0.1:5433/test", true},
		{"postgres://postgres@127.0.0.1:5432/test?sslmode=prefer", false},
		{"postgres://postgres@127.0.0.1:5432/test?sslmode=require", false},
		{"postgres://postgres@db.example.org:5432/test", false},
		{"postgres://postgres@10.0.0.7:5432/test", false},
		{"postgres://postgres@127.0.0.1:5432,db.example.org:5432/test", false},
		{"host=127.0.0.1 user=postgres dbname=test", true},
		{"host=127.0.0.1 user=postgres dbname=test sslmode=verify-full", false},
	} {
		cfg, err := pgconn.ParseConfig(c.url)
		if err != nil {
			t.Fatalf("%s: %v", c.url, err)
		}
		tlsBefore := cfg.TLSConfig != nil
		plainOnLoopback(cfg, sslModeGiven(c.url))
		tls := cfg.TLSConfig != nil
		for _, f := range cfg.Fallbacks {
			tls = tls || f.TLSConfig != nil
			if c.plain && f.Host == cfg.Host && f.Port == cfg.Port {
				t.Errorf("%s: a fallback tries %s:%d again", c.url, f.Host, f.Port)
			}
		}
		if c.plain && tls {
			t.Errorf("%s: TLS kept on loopback without sslmode", c.url)
		}
		if !c.plain && (!tls || !tlsBefore) {
			t.Errorf("%s: TLS dropped (before: %v)", c.url, tlsBefore)
		}
	}
	t.Setenv("PGSSLMODE", "require")
	cfg, err := pgconn.ParseConfig("postgres://postgres@127.0.0.1:5432/test")
	if err != nil {
		t.Fatal(err)
	}
	plainOnLoopback(cfg, sslModeGiven(""))
	if cfg.TLSConfig == nil {
		t.Error("PGSSLMODE=require: TLS dropped")
	}
}
