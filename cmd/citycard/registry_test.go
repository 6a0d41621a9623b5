package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"regexp"
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
		{"add-terminal", "--id", "315001000001", "--psam", "31500000000001000001", "--operator", "nb-bus", "--type", "bus_validator", "--line", "17"},
		{"add-funder", "--id", "nb-transport", "--code", "3150FB0000000001", "--name", "Ningbo Transport Bureau", "--account", "PBOC 1"},
		{"add-payer", "--id", "alipay", "--code", "3150FA0000000001", "--name", "Alipay", "--account", "CMB 0571"},
	}
	for _, s := range steps {
		if out, err := cli(s...); err != nil {
			t.Fatalf("%v: %v (%s)", s, err, out)
		}
	}
	out, err := cli("credential", "--terminal", "315001000001")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	tok := lines[len(lines)-1]
	if err != nil || len(tok) != 2*registry.CredentialBytes || strings.TrimSpace(tok) != tok {
		t.Fatalf("credential: the last line of %q is not the token alone (%v)", out, err)
	}
	// The token authenticates the terminal, and only it.
	st, err := openStores(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(st.registry, time.Now)
	tid, _ := citycard.ParseTerminalID("315001000001")
	if _, err := reg.Authenticate(context.Background(), tid, tok); err != nil {
		t.Fatalf("the issued token does not authenticate: %v", err)
	}
	st.close()
	if out, err := cli("status", "--terminal", "315001000001", "--to", "suspended"); err != nil || !strings.Contains(out, "suspended") {
		t.Fatalf("status: %q %v", out, err)
	}
	out, err = cli("list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var l struct {
		Parties []struct {
			ID   string `json:"id"`
			Type string `json:"type"`
		} `json:"parties"`
		Terminals []struct {
			ID       string `json:"id"`
			Type     string `json:"type"`
			Status   string `json:"status"`
			Line     uint32 `json:"line"`
			HasToken bool   `json:"has_token"`
		} `json:"terminals"`
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l.Parties) != 4 || l.Parties[3].ID != "nb-transport" || l.Parties[3].Type != "funder" ||
		l.Parties[1].ID != "alipay" || l.Parties[1].Type != "payer" || len(l.Terminals) != 1 ||
		l.Terminals[0].Status != "suspended" || !l.Terminals[0].HasToken || l.Terminals[0].Line != 17 ||
		l.Terminals[0].Type != "bus_validator" || l.Parties[0].Type == "" {
		t.Fatalf("list: %s %v", out, err)
	}
	// The JSON speaks snake_case, never Go's field names.
	if strings.ContainsAny(strings.Join(regexp.MustCompile(`"([A-Za-z_]+)":`).FindAllString(out, -1), ""), "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		t.Fatalf("list --json has Go field names: %s", out)
	}
	if out, err := cli("list"); err != nil || strings.Contains(out, tok) || !strings.Contains(out, "nb-bus") {
		t.Fatalf("list table: %v\n%s", err, out)
	}
	// A terminal is an operator's, never a funder's.
	if _, err := cli("add-terminal", "--id", "315001000002", "--psam", "31500000000001000002", "--operator", "nb-transport", "--type", "gate"); !citycard.IsKind(err, citycard.Invalid) {
		t.Fatalf("a funder's terminal: %v, want Invalid", err)
	}
	// Bad input names what is wrong.
	if _, err := cli("add-terminal", "--id", "31500100", "--psam", "31500000000001000001", "--operator", "nb-bus", "--type", "gate"); err == nil || !strings.Contains(err.Error(), "terminal ID") {
		t.Fatalf("short terminal ID: %v", err)
	}
	if _, err := cli("add-operator", "--id", "x", "--code", "3150090000000002", "--sector", "rocket", "--name", "x", "--account", "x"); !citycard.IsKind(err, citycard.Invalid) {
		t.Fatalf("bad sector: %v", err)
	}
	// What the store refuses, it refuses in the registry's words.
	for _, c := range []struct {
		args []string
		kind citycard.Kind
		says string
	}{
		{[]string{"add-issuer", "--code", "31500001FFFFFFFF", "--name", "again", "--account", "x"}, citycard.Exists, "issuer 31500001FFFFFFFF is already registered"},
		{[]string{"add-issuer", "--code", "3150000200000000", "--name", "a second own", "--own", "--account", "x"}, citycard.Exists, "our own issuer is already registered: 31500001FFFFFFFF"},
		{[]string{"add-terminal", "--id", "315001000002", "--psam", "31500000000001000001", "--operator", "nb-bus", "--type", "gate"}, citycard.Exists, "PSAM 31500000000001000001 is already in terminal 315001000001"},
		{[]string{"credential", "--terminal", "315001000002"}, citycard.NotFound, "no terminal 315001000002"},
		{[]string{"status", "--terminal", "315001000002", "--to", "retired"}, citycard.NotFound, "no terminal 315001000002"},
	} {
		_, err := cli(c.args...)
		if !citycard.IsKind(err, c.kind) || !strings.Contains(err.Error(), c.says) || strings.Contains(err.Error(), "constraint") || strings.Contains(err.Error(), "no rows") {
			t.Errorf("%v: %v; want kind %v saying %q", c.args, err, c.kind, c.says)
		}
	}
}

// TestRegistryRequiredFlags: a missing required flag is a usage error
// that names it, before anything is written; --account is required of
// issuers and operators alike, as the usage shows.
func TestRegistryRequiredFlags(t *testing.T) {
	if !strings.Contains(registryUsage, "add-issuer    --code HEX16 --name NAME --account TEXT") {
		t.Error("the usage does not show --account as required for add-issuer")
	}
	db := "sqlite:" + filepath.Join(t.TempDir(), "r.db")
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"add-issuer", "--code", "31500001FFFFFFFF", "--name", "Ningbo Citizen Card", "--own"}, "--account"},
		{[]string{"add-operator", "--id", "nb-bus", "--code", "3150090000000001", "--sector", "bus", "--account", "x"}, "--name"},
		{[]string{"add-terminal", "--id", "315001000001", "--operator", "nb-bus", "--type", "gate"}, "--psam"},
		{[]string{"credential"}, "--terminal"},
		{[]string{"status", "--terminal", "315001000001"}, "--to"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"registry", "--db", db}, c.args...), func(string) string { return "" }, &out, &errOut)
		if !errors.Is(err, errUsage) || !strings.Contains(errOut.String(), c.flag+" is required") {
			t.Errorf("%v: %v, stderr %q; want a usage error naming %s", c.args, err, errOut.String(), c.flag)
		}
	}
	st, err := openStores(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	if ps, err := st.registry.Parties(context.Background()); err != nil || len(ps) != 0 {
		t.Errorf("after refused commands: parties %v, %v; want none", ps, err)
	}
}
