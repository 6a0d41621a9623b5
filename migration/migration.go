// Package migration reads the schema migrations a store embeds: files
// named NNNN_name.sql, applied in version order, each once. The stores
// (sqlite, postgres) apply them each in their own way; the naming rules,
// and what is a build mistake, are here once.
package migration

import (
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migration is one schema change.
type Migration struct {
	Version int
	Name    string // the file name without .sql: "0005_acquire"
	SQL     string
}

// List returns the migrations in dir of fsys ("migrations"), in version
// order. A file not named NNNN_name.sql, or two files of one version, is a
// build mistake, not an operating error: List panics, naming the file.
func List(fsys fs.FS, dir string) []Migration {
	names, err := fs.Glob(fsys, dir+"/*.sql")
	if err != nil {
		panic(err)
	}
	var ms []Migration
	for _, n := range names {
		base := path.Base(n)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			panic("migration file " + base + " is not named NNNN_name.sql")
		}
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			panic(err)
		}
		ms = append(ms, Migration{Version: v, Name: strings.TrimSuffix(base, ".sql"), SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			panic("two migrations of version " + strconv.Itoa(ms[i].Version))
		}
	}
	return ms
}
