package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/registry"
)

func TestRegistryCommands(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "r.db")
	cli := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"registry"}, append(args, "--db", db)...), func(string) string { return "" }, &out, &errOut)
		return out.String(), err
	}
	steps := [][]string{
		{"add-issuer", "--code", "31500001FFFFFFFF", "--name", "Ningbo Citizen Card", "--own", "--account", "ICBC Ningbo 3901"},
		{"add-operator", "--id", "nb-bus", "--code", "3150090000000001", "--sector", "bus", "--name", "Ningbo Bus", "--account", "BOC 1"},
		{"add-terminal", "--id", "315001000001", "--psam", "31500000000001000001", "--operator", "nb-bus", "--kind", "bus_validator", "--line", "17"},
	}
	for _, s := range steps {
		if out, err := cli(s...); err != nil {
			t.Fatalf("%v: %v (%s)", s, err, out)
		}
	}
	tok, err := cli("credential", "--terminal", "315001000001")
	if err != nil || len(strings.TrimSpace(tok)) < 32 {
		t.Fatalf("credential: %q %v", tok, err)
	}
	// The token authenticates the terminal, and only it.
	st, err := openStores(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(st.registry, time.Now)
	tid, _ := citycard.ParseTerminalID("315001000001")
	if _, err := reg.Authenticate(context.Background(), tid, strings.TrimSpace(tok)); err != nil {
		t.Fatalf("the issued token does not authenticate: %v", err)
	}
	st.close()
	if out, err := cli("status", "--terminal", "315001000001", "--to", "suspended"); err != nil || !strings.Contains(out, "suspended") {
		t.Fatalf("status: %q %v", out, err)
	}
	out, err := cli("list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var l struct {
		Parties   []struct{ ID, Role string }
		Terminals []struct {
			ID, Status string
			Line       uint32
			HasToken   bool
		}
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l.Parties) != 2 || len(l.Terminals) != 1 ||
		l.Terminals[0].Status != "suspended" || !l.Terminals[0].HasToken || l.Terminals[0].Line != 17 {
		t.Fatalf("list: %s %v", out, err)
	}
	if out, err := cli("list"); err != nil || strings.Contains(out, strings.TrimSpace(tok)) || !strings.Contains(out, "nb-bus") {
		t.Fatalf("list table: %v\n%s", err, out)
	}
	// Bad input names what is wrong.
	if _, err := cli("add-terminal", "--id", "31500100", "--psam", "31500000000001000001", "--operator", "nb-bus", "--kind", "gate"); err == nil || !strings.Contains(err.Error(), "terminal ID") {
		t.Fatalf("short terminal ID: %v", err)
	}
	if _, err := cli("add-operator", "--id", "x", "--code", "3150090000000002", "--sector", "rocket", "--name", "x", "--account", "x"); !citycard.IsKind(err, citycard.Invalid) {
		t.Fatalf("bad sector: %v", err)
	}
}
