package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/dburl"
	"github.com/citycard/citycard/registry"
)

const registryUsage = `usage: citycard registry <command> [--db URL] [flags]

The parties and terminals the back office knows.

  add-issuer    --code HEX16 --name NAME --account TEXT [--own]
                a card issuer, by its issuer code (ours with --own)
  add-operator  --id ID --code HEX16 --sector S --name NAME --account TEXT
                an operator (sector bus, metro, bike, parking, merchant, taxi, ferry, other);
                --code is the key store's code of its record master key
  add-funder    --id ID --code HEX16 --name NAME --account TEXT
                a funder of concessions (the transport bureau), which compensates operators
                by its concession shares (citycard clear params set concessions)
  add-payer     --id ID --code HEX16 --name NAME --account TEXT
                a payer (a payment company, a top-up agent) that collects remote top-ups and
                owes the issuer for them in each cycle
  add-terminal  --id HEX12 --psam HEX20 --operator ID --type T [--line N] [--station N] [--vehicle V]
                a terminal (type bus_validator, gate, pos, kiosk, parking_meter)
  credential    --terminal HEX12    issue the terminal's API token (printed once; the old one stops working);
                the token is alone on the last line of the output
  status        --terminal HEX12 --to active|suspended|retired
  list          [--json]

Every party settles to a bank account: --account is required for each.

flags:
`

func runRegistry(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("registry", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, registryUsage); fs.PrintDefaults() }
	db := fs.String("db", dburl.Default, "database: sqlite:PATH or postgres://...")
	code := fs.String("code", "", "issuer code, 16 hex digits")
	name := fs.String("name", "", "name")
	own := fs.Bool("own", false, "add-issuer: our own issuer")
	account := fs.String("account", "", "settlement bank account")
	id := fs.String("id", "", "add-operator, add-funder, add-payer: party ID; add-terminal: terminal ID, 12 hex digits")
	sector := fs.String("sector", "", "operator's sector")
	psam := fs.String("psam", "", "PSAM ID, 20 hex digits")
	operator := fs.String("operator", "", "the terminal's operator's party ID")
	typ := fs.String("type", "", "terminal type: bus_validator, gate, pos, kiosk, parking_meter")
	line := fs.Uint("line", 0, "line the terminal serves")
	station := fs.Uint("station", 0, "station the terminal stands at")
	vehicle := fs.String("vehicle", "", "vehicle the terminal is in")
	term := fs.String("terminal", "", "terminal ID, 12 hex digits")
	to := fs.String("to", "", "status: active, suspended or retired")
	asJSON := fs.Bool("json", false, "list: JSON")
	cmd, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	need := map[string][]string{
		"add-issuer":   {"code", "name", "account"},
		"add-operator": {"id", "code", "sector", "name", "account"},
		"add-funder":   {"id", "code", "name", "account"},
		"add-payer":    {"id", "code", "name", "account"},
		"add-terminal": {"id", "psam", "operator", "type"},
		"credential":   {"terminal"},
		"status":       {"terminal", "to"},
	}
	for _, name := range need[cmd] {
		if fs.Lookup(name).Value.String() == "" {
			return fmt.Errorf("registry %s: --%s is required (%s): %w", cmd, name, fs.Lookup(name).Usage, errUsage)
		}
	}
	st, err := openStores(ctx, *db)
	if err != nil {
		return err
	}
	defer st.close()
	reg := registry.New(st.registry, time.Now)
	switch cmd {
	case "add-issuer":
		c, err := citycard.ParseIssuerCode(*code)
		if err != nil {
			return err
		}
		p, err := reg.AddParty(ctx, registry.Party{ID: c.String(), Type: registry.PartyIssuer, Code: c, Name: *name, Own: *own, SettlementAccount: *account})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "added issuer %s (%s)\n", p.ID, p.Name)
	case "add-operator":
		c, err := citycard.ParseIssuerCode(*code)
		if err != nil {
			return err
		}
		sec, err := registry.ParseSector(*sector)
		if err != nil {
			return err
		}
		p, err := reg.AddParty(ctx, registry.Party{ID: *id, Type: registry.PartyOperator, Code: c, Sector: sec, Name: *name, SettlementAccount: *account})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "added operator %s (%s, %v)\n", p.ID, p.Name, p.Sector)
	case "add-funder", "add-payer":
		c, err := citycard.ParseIssuerCode(*code)
		if err != nil {
			return err
		}
		typ := registry.PartyFunder
		if cmd == "add-payer" {
			typ = registry.PartyPayer
		}
		p, err := reg.AddParty(ctx, registry.Party{ID: *id, Type: typ, Code: c, Name: *name, SettlementAccount: *account})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "added %v %s (%s)\n", p.Type, p.ID, p.Name)
	case "add-terminal":
		tid, err := citycard.ParseTerminalID(*id)
		if err != nil {
			return err
		}
		pid, err := citycard.ParsePSAMID(*psam)
		if err != nil {
			return err
		}
		k, err := registry.ParseTerminalType(*typ)
		if err != nil {
			return err
		}
		t, err := reg.AddTerminal(ctx, registry.Terminal{ID: tid, PSAM: pid, Operator: *operator, Type: k, Line: uint32(*line), Station: uint32(*station), Vehicle: *vehicle})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "added terminal %v (PSAM %v, %v of %s), %v; issue its token with: citycard registry credential --terminal %v\n", t.ID, t.PSAM, t.Type, t.Operator, t.Status, t.ID)
	case "credential":
		tid, err := citycard.ParseTerminalID(*term)
		if err != nil {
			return err
		}
		tok, err := reg.IssueCredential(ctx, tid)
		if err != nil {
			return err
		}
		// The token alone on the last line, for scripts (| tail -n 1).
		fmt.Fprintf(e.stdout, "terminal %v: its new API token, shown this once (the previous one no longer works):\n%s\n", tid, tok)
	case "status":
		tid, err := citycard.ParseTerminalID(*term)
		if err != nil {
			return err
		}
		s, err := registry.ParseStatus(*to)
		if err != nil {
			return err
		}
		t, err := reg.SetStatus(ctx, tid, s)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "terminal %v is %v\n", t.ID, t.Status)
	case "list":
		return listRegistry(ctx, e, st.registry, *asJSON)
	default:
		fs.Usage()
		return fmt.Errorf("registry: unknown command %q: %w", cmd, errUsage)
	}
	return nil
}

func listRegistry(ctx context.Context, e env, rs registry.Store, asJSON bool) error {
	ps, err := rs.Parties(ctx)
	if err != nil {
		return err
	}
	ts, err := rs.Terminals(ctx, "")
	if err != nil {
		return err
	}
	if asJSON {
		type party struct {
			ID      string `json:"id"`
			Type    string `json:"type"`
			Code    string `json:"code"`
			Sector  string `json:"sector"`
			Name    string `json:"name"`
			Account string `json:"settlement_account"`
			Own     bool   `json:"own"`
		}
		type term struct {
			ID       string `json:"id"`
			PSAM     string `json:"psam"`
			Operator string `json:"operator"`
			Type     string `json:"type"`
			Status   string `json:"status"`
			Vehicle  string `json:"vehicle"`
			Line     uint32 `json:"line"`
			Station  uint32 `json:"station"`
			HasToken bool   `json:"has_token"`
		}
		out := struct {
			Parties   []party `json:"parties"`
			Terminals []term  `json:"terminals"`
		}{Parties: []party{}, Terminals: []term{}}
		for _, p := range ps {
			out.Parties = append(out.Parties, party{p.ID, p.Type.String(), p.Code.String(), p.Sector.String(), p.Name, p.SettlementAccount, p.Own})
		}
		for _, t := range ts {
			out.Terminals = append(out.Terminals, term{t.ID.String(), t.PSAM.String(), t.Operator, t.Type.String(), t.Status.String(), t.Vehicle, t.Line, t.Station, t.Credential != [32]byte{}})
		}
		return json.NewEncoder(e.stdout).Encode(out)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PARTY\tTYPE\tCODE\tSECTOR\tNAME\tOWN")
	for _, p := range ps {
		fmt.Fprintf(w, "%s\t%v\t%v\t%v\t%s\t%v\n", p.ID, p.Type, p.Code, p.Sector, p.Name, p.Own)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "TERMINAL\tPSAM\tOPERATOR\tTYPE\tLINE\tSTATION\tSTATUS\tTOKEN")
	for _, t := range ts {
		tok := "no"
		if t.Credential != [32]byte{} {
			tok = "yes"
		}
		fmt.Fprintf(w, "%v\t%v\t%s\t%v\t%d\t%d\t%v\t%s\n", t.ID, t.PSAM, t.Operator, t.Type, t.Line, t.Station, t.Status, tok)
	}
	return w.Flush()
}
