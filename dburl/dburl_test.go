package dburl

import (
	"testing"

	"github.com/citycard/citycard"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want URL
		ok   bool
	}{
		{Default, URL{Engine: SQLite, Path: "./citycard.db"}, true},
		{"sqlite:/var/lib/citycard/db", URL{Engine: SQLite, Path: "/var/lib/citycard/db"}, true},
		{"sqlite:///var/db", URL{Engine: SQLite, Path: "/var/db"}, true},
		{"postgres://u@h:5432/d?sslmode=disable", URL{Engine: Postgres, Conn: "postgres://u@h:5432/d?sslmode=disable"}, true},
		{"postgresql://h/d", URL{Engine: Postgres, Conn: "postgresql://h/d"}, true},
		{"sqlite:", URL{}, false},
		{"sqlite:a.db?mode=ro", URL{}, false},
		{"./citycard.db", URL{}, false},
		{"mysql://h/d", URL{}, false},
		{"", URL{}, false},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("Parse(%q): kind %v, want Invalid", tt.in, citycard.KindOf(err))
		}
	}
}
