package migration

import (
	"testing"
	"testing/fstest"
)

func TestList(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0010_later.sql": {Data: []byte("B")},
		"m/0002_first.sql": {Data: []byte("A")},
		"m/README":         {Data: []byte("not a migration")},
	}
	ms := List(fsys, "m")
	if len(ms) != 2 || ms[0].Version != 2 || ms[0].Name != "0002_first" || ms[0].SQL != "A" || ms[1].Version != 10 {
		t.Fatalf("%+v", ms)
	}
	for name, bad := range map[string]fstest.MapFS{
		"unnumbered": {"m/first.sql": {}},
		"zero":       {"m/0000_x.sql": {}},
		"twice":      {"m/0001_a.sql": {}, "m/1_b.sql": {}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			List(bad, "m")
		}()
	}
}
