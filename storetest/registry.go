package storetest

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/registry"
)

func mustCode(t *testing.T, s string) citycard.IssuerCode {
	t.Helper()
	c, err := citycard.ParseIssuerCode(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wantKind(t *testing.T, what string, err error, k citycard.Kind) {
	t.Helper()
	if !citycard.IsKind(err, k) {
		t.Fatalf("%s: error %v (kind %v), want kind %v", what, err, citycard.KindOf(err), k)
	}
}

// seedParties adds our issuer, another city's issuer and a bus operator.
func seedParties(t *testing.T, r *registry.Registry) (own, other, bus registry.Party) {
	t.Helper()
	ctx := context.Background()
	var err error
	own, err = r.AddParty(ctx, registry.Party{ID: "3150000000000001", Type: registry.PartyIssuer, Code: mustCode(t, "3150000000000001"),
		Name: "Ningbo Citizen Card Co.", Own: true, SettlementAccount: "ICBC Ningbo 3901 0000 0000 0001"})
	if err != nil {
		t.Fatal(err)
	}
	other, err = r.AddParty(ctx, registry.Party{ID: "2900000000000002", Type: registry.PartyIssuer, Code: mustCode(t, "2900000000000002"),
		Name: "Shanghai Public Transportation Card", SettlementAccount: "BOC Shanghai 4500 0000 0002"})
	if err != nil {
		t.Fatal(err)
	}
	bus, err = r.AddParty(ctx, registry.Party{ID: "nb-bus", Type: registry.PartyOperator, Code: mustCode(t, "3150FF0000000010"),
		Sector: registry.SectorBus, Name: "Ningbo Bus Group", SettlementAccount: "ABC Ningbo 1100 2200"})
	if err != nil {
		t.Fatal(err)
	}
	return own, other, bus
}

func testParties(t *testing.T, s Stores) {
	ctx := context.Background()
	r := registry.New(s.Registry, clock())
	own, other, bus := seedParties(t, r)

	got, err := s.Registry.Party(ctx, own.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, own) {
		t.Errorf("Party(%q) = %+v, want %+v", own.ID, got, own)
	}
	all, err := s.Registry.Parties(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []registry.Party{other, own, bus}; !reflect.DeepEqual(all, want) {
		t.Errorf("Parties = %+v, want %+v (by ID)", all, want)
	}

	_, err = s.Registry.Party(ctx, "nobody")
	wantKind(t, "Party(nobody)", err, citycard.NotFound)

	dupID := bus
	dupID.Code = mustCode(t, "3150FF0000000011")
	_, err = r.AddParty(ctx, dupID)
	wantKind(t, "AddParty same ID", err, citycard.Exists)
	dupCode := bus
	dupCode.ID = "nb-bus-2"
	_, err = r.AddParty(ctx, dupCode)
	wantKind(t, "AddParty same code", err, citycard.Exists)
	secondOwn := registry.Party{ID: "3150000000000009", Type: registry.PartyIssuer, Code: mustCode(t, "3150000000000009"),
		Name: "Another", Own: true, SettlementAccount: "x"}
	_, err = r.AddParty(ctx, secondOwn)
	wantKind(t, "AddParty a second own issuer", err, citycard.Exists)

	for _, bad := range []registry.Party{
		{ID: "nb metro", Type: registry.PartyOperator, Code: mustCode(t, "3150FF0000000020"), Sector: registry.SectorMetro, Name: "M", SettlementAccount: "x"},
		{ID: "nb-metro", Type: registry.PartyOperator, Code: mustCode(t, "3150FF0000000020"), Name: "M", SettlementAccount: "x"},
		{ID: "nb-metro", Type: registry.PartyOperator, Code: mustCode(t, "3150FF0000000020"), Sector: registry.SectorMetro, Name: "M"},
		{ID: "3150000000000003", Type: registry.PartyIssuer, Code: mustCode(t, "3150000000000004"), Name: "I", SettlementAccount: "x"},
		{ID: "nb-metro", Type: 9, Code: mustCode(t, "3150FF0000000020"), Name: "M", SettlementAccount: "x"},
		{ID: "nb-transport", Type: registry.PartyFunder, Code: mustCode(t, "3150FB0000000001"), Sector: registry.SectorBus, Name: "T", SettlementAccount: "x"},
		{ID: "nb-transport", Type: registry.PartyFunder, Code: mustCode(t, "3150FB0000000001"), Own: true, Name: "T", SettlementAccount: "x"},
		{ID: "alipay", Type: registry.PartyPayer, Code: mustCode(t, "3150FA0000000001"), Sector: registry.SectorMerchant, Name: "A", SettlementAccount: "x"},
		{ID: "alipay", Type: registry.PartyPayer, Code: mustCode(t, "3150FA0000000001"), Own: true, Name: "A", SettlementAccount: "x"},
	} {
		_, err := r.AddParty(ctx, bad)
		wantKind(t, "AddParty invalid", err, citycard.Invalid)
	}
	// The transport bureau, which funds concessions: a party of its own
	// type (registry.PartyFunder), stored and read back as it is.
	bureau, err := r.AddParty(ctx, registry.Party{ID: "nb-transport", Type: registry.PartyFunder, Code: mustCode(t, "3150FB0000000001"),
		Name: "Ningbo Transport Bureau", SettlementAccount: "PBOC Ningbo 0001"})
	if err != nil {
		t.Fatalf("AddParty a funder: %v", err)
	}
	if got, err := s.Registry.Party(ctx, bureau.ID); err != nil || !reflect.DeepEqual(got, bureau) || got.Type.String() != "funder" {
		t.Errorf("Party(%q) = %+v, %v; want %+v", bureau.ID, got, err, bureau)
	}

	// A payment company collecting remote top-ups: a party of its own
	// type (registry.PartyPayer).
	payer, err := r.AddParty(ctx, registry.Party{ID: "alipay", Type: registry.PartyPayer, Code: mustCode(t, "3150FA0000000001"),
		Name: "Alipay", SettlementAccount: "CMB Hangzhou 0571"})
	if err != nil {
		t.Fatalf("AddParty a payer: %v", err)
	}
	if got, err := s.Registry.Party(ctx, payer.ID); err != nil || !reflect.DeepEqual(got, payer) || got.Type.String() != "payer" {
		t.Errorf("Party(%q) = %+v, %v; want %+v", payer.ID, got, err, payer)
	}

	changed, err := r.SetSettlementAccount(ctx, bus.ID, "CCB Ningbo 7788")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Registry.Party(ctx, bus.ID); err != nil || !reflect.DeepEqual(got, changed) || got.SettlementAccount != "CCB Ningbo 7788" || !got.Updated.After(got.Created) {
		t.Errorf("after SetSettlementAccount: %+v, %v; want %+v", got, err, changed)
	}
	_, err = r.SetSettlementAccount(ctx, "nobody", "x")
	wantKind(t, "SetSettlementAccount(nobody)", err, citycard.NotFound)
	ghost := bus
	ghost.ID = "ghost"
	wantKind(t, "UpdateParty(ghost)", s.Registry.UpdateParty(ctx, &ghost), citycard.NotFound)
}

func testTerminals(t *testing.T, s Stores) {
	ctx := context.Background()
	r := registry.New(s.Registry, clock())
	own, _, bus := seedParties(t, r)
	metro, err := r.AddParty(ctx, registry.Party{ID: "nb-metro", Type: registry.PartyOperator, Code: mustCode(t, "3150FF0000000020"),
		Sector: registry.SectorMetro, Name: "Ningbo Rail Transit", SettlementAccount: "x"})
	if err != nil {
		t.Fatal(err)
	}

	tid := func(s string) citycard.TerminalID {
		id, err := citycard.ParseTerminalID(s)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	psam := func(s string) citycard.PSAMID {
		id, err := citycard.ParsePSAMID(s)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	v, err := r.AddTerminal(ctx, registry.Terminal{ID: tid("0000000000A1"), PSAM: psam("11111111111111110001"), Operator: bus.ID,
		Type: registry.TerminalBusValidator, Line: 501, Vehicle: "浙B-12345"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != registry.StatusActive {
		t.Errorf("new terminal status %v, want active", v.Status)
	}
	g, err := r.AddTerminal(ctx, registry.Terminal{ID: tid("0000000000B1"), PSAM: psam("11111111111111110002"), Operator: metro.ID,
		Type: registry.TerminalGate, Line: 1, Station: 12})
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		what string
		t    registry.Terminal
		kind citycard.Kind
	}{
		{"same ID", registry.Terminal{ID: v.ID, PSAM: psam("11111111111111110003"), Operator: bus.ID, Type: registry.TerminalPOS}, citycard.Exists},
		{"same PSAM", registry.Terminal{ID: tid("0000000000A2"), PSAM: v.PSAM, Operator: bus.ID, Type: registry.TerminalPOS}, citycard.Exists},
		{"no such operator", registry.Terminal{ID: tid("0000000000A3"), PSAM: psam("11111111111111110004"), Operator: "nobody", Type: registry.TerminalPOS}, citycard.NotFound},
		{"an issuer as operator", registry.Terminal{ID: tid("0000000000A4"), PSAM: psam("11111111111111110005"), Operator: own.ID, Type: registry.TerminalPOS}, citycard.Invalid},
		{"no kind", registry.Terminal{ID: tid("0000000000A5"), PSAM: psam("11111111111111110006"), Operator: bus.ID}, citycard.Invalid},
		{"zero PSAM", registry.Terminal{ID: tid("0000000000A6"), Operator: bus.ID, Type: registry.TerminalPOS}, citycard.Invalid},
	} {
		_, err := r.AddTerminal(ctx, c.t)
		wantKind(t, "AddTerminal "+c.what, err, c.kind)
	}
	// The store itself refuses a terminal of an unknown operator.
	orphan := registry.Terminal{ID: tid("0000000000A7"), PSAM: psam("11111111111111110007"), Operator: "nobody", Type: registry.TerminalPOS, Status: registry.StatusActive}
	wantKind(t, "CreateTerminal orphan", s.Registry.CreateTerminal(ctx, &orphan), citycard.NotFound)

	got, err := s.Registry.Terminal(ctx, v.ID)
	if err != nil || !reflect.DeepEqual(got, v) {
		t.Errorf("Terminal = %+v, %v; want %+v", got, err, v)
	}
	got, err = s.Registry.TerminalByPSAM(ctx, g.PSAM)
	if err != nil || !reflect.DeepEqual(got, g) {
		t.Errorf("TerminalByPSAM = %+v, %v; want %+v", got, err, g)
	}
	_, err = s.Registry.Terminal(ctx, tid("FFFFFFFFFFFF"))
	wantKind(t, "Terminal(unknown)", err, citycard.NotFound)
	_, err = s.Registry.TerminalByPSAM(ctx, psam("FFFFFFFFFFFFFFFFFFFF"))
	wantKind(t, "TerminalByPSAM(unknown)", err, citycard.NotFound)

	list, err := s.Registry.Terminals(ctx, "")
	if err != nil || !reflect.DeepEqual(list, []registry.Terminal{v, g}) {
		t.Errorf("Terminals(all) = %+v, %v", list, err)
	}
	list, err = s.Registry.Terminals(ctx, metro.ID)
	if err != nil || !reflect.DeepEqual(list, []registry.Terminal{g}) {
		t.Errorf("Terminals(metro) = %+v, %v", list, err)
	}

	// Status: active <-> suspended, either -> retired, retired is final.
	steps := []struct {
		to registry.Status
		ok bool
	}{
		{registry.StatusActive, false},
		{registry.StatusSuspended, true},
		{registry.StatusSuspended, false},
		{registry.StatusActive, true},
		{registry.StatusRetired, true},
		{registry.StatusActive, false},
		{registry.StatusSuspended, false},
	}
	for i, st := range steps {
		got, err := r.SetStatus(ctx, v.ID, st.to)
		if st.ok {
			if err != nil || got.Status != st.to {
				t.Fatalf("step %d: SetStatus(%v) = %v, %v", i, st.to, got.Status, err)
			}
			stored, err := s.Registry.Terminal(ctx, v.ID)
			if err != nil || stored.Status != st.to {
				t.Fatalf("step %d: stored status %v, %v; want %v", i, stored.Status, err, st.to)
			}
		} else {
			wantKind(t, "SetStatus to "+st.to.String(), err, citycard.Conflict)
		}
	}
	_, err = r.SetStatus(ctx, tid("FFFFFFFFFFFF"), registry.StatusSuspended)
	wantKind(t, "SetStatus(unknown)", err, citycard.NotFound)
}

func testCredentials(t *testing.T, s Stores) {
	ctx := context.Background()
	r := registry.New(s.Registry, clock())
	_, _, bus := seedParties(t, r)
	id, _ := citycard.ParseTerminalID("0000000000C1")
	ps, _ := citycard.ParsePSAMID("22222222222222220001")
	term, err := r.AddTerminal(ctx, registry.Terminal{ID: id, PSAM: ps, Operator: bus.ID, Type: registry.TerminalPOS})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Authenticate(ctx, id, "")
	wantKind(t, "Authenticate before any credential", err, citycard.Permission)

	tok, err := r.IssueCredential(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != 2*registry.CredentialBytes {
		t.Errorf("token %q: want %d hex digits", tok, 2*registry.CredentialBytes)
	}
	stored, err := s.Registry.Terminal(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Credential != registry.HashCredential(tok) {
		t.Errorf("stored credential %x, want the token's SHA-256", stored.Credential)
	}
	if got, err := r.Authenticate(ctx, id, tok); err != nil || got.ID != term.ID {
		t.Errorf("Authenticate(right token) = %v, %v", got.ID, err)
	}
	wrong := tok[:len(tok)-1] + "0"
	if wrong == tok {
		wrong = tok[:len(tok)-1] + "1"
	}
	_, err = r.Authenticate(ctx, id, wrong)
	wantKind(t, "Authenticate(wrong token)", err, citycard.Permission)
	other, _ := citycard.ParseTerminalID("0000000000C2")
	_, err = r.Authenticate(ctx, other, tok)
	wantKind(t, "Authenticate(unknown terminal)", err, citycard.Permission)

	// A new token revokes the old one.
	tok2, err := r.IssueCredential(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if tok2 == tok {
		t.Fatal("IssueCredential gave the same token twice")
	}
	_, err = r.Authenticate(ctx, id, tok)
	wantKind(t, "Authenticate(revoked token)", err, citycard.Permission)
	if _, err := r.Authenticate(ctx, id, tok2); err != nil {
		t.Error(err)
	}
	// A suspended terminal does not authenticate; a retired one gets no token.
	if _, err := r.SetStatus(ctx, id, registry.StatusSuspended); err != nil {
		t.Fatal(err)
	}
	_, err = r.Authenticate(ctx, id, tok2)
	wantKind(t, "Authenticate(suspended)", err, citycard.Permission)
	if _, err := r.SetStatus(ctx, id, registry.StatusRetired); err != nil {
		t.Fatal(err)
	}
	_, err = r.IssueCredential(ctx, id)
	wantKind(t, "IssueCredential(retired)", err, citycard.Conflict)
}

// wantErr checks err's kind and that its message says phrase, in the
// registry's words: no driver's text reaches the user.
func wantErr(t *testing.T, what string, err error, k citycard.Kind, phrase string) {
	t.Helper()
	wantKind(t, what, err, k)
	msg := err.Error()
	if !strings.Contains(msg, phrase) {
		t.Errorf("%s: %q does not say %q", what, msg, phrase)
	}
	for _, driver := range []string{"sql:", "no rows", "constraint", "SQLSTATE", "duplicate key", "violates"} {
		if strings.Contains(msg, driver) {
			t.Errorf("%s: %q speaks the driver's words (%q)", what, msg, driver)
		}
	}
}

// testRegistryWords: what the stores refuse, they refuse in the
// registry's words, naming the thing and, for a clash, who holds it.
func testRegistryWords(t *testing.T, s Stores) {
	ctx := context.Background()
	r := registry.New(s.Registry, clock())
	own, _, bus := seedParties(t, r)
	tid, _ := citycard.ParseTerminalID("315001000001")
	ps, _ := citycard.ParsePSAMID("31500000000001000001")
	term, err := r.AddTerminal(ctx, registry.Terminal{ID: tid, PSAM: ps, Operator: bus.ID, Type: registry.TerminalBusValidator})
	if err != nil {
		t.Fatal(err)
	}
	unknown, _ := citycard.ParseTerminalID("315001000099")
	unknownPSAM, _ := citycard.ParsePSAMID("31500000000001000099")

	_, err = s.Registry.Party(ctx, "nobody")
	wantErr(t, "Party(nobody)", err, citycard.NotFound, `no party "nobody"`)
	_, err = s.Registry.Terminal(ctx, unknown)
	wantErr(t, "Terminal(unknown)", err, citycard.NotFound, "no terminal 315001000099")
	_, err = s.Registry.TerminalByPSAM(ctx, unknownPSAM)
	wantErr(t, "TerminalByPSAM(unknown)", err, citycard.NotFound, "no terminal holds PSAM 31500000000001000099")
	_, err = r.SetStatus(ctx, unknown, registry.StatusSuspended)
	wantErr(t, "SetStatus(unknown)", err, citycard.NotFound, "no terminal 315001000099")
	_, err = r.IssueCredential(ctx, unknown)
	wantErr(t, "IssueCredential(unknown)", err, citycard.NotFound, "no terminal 315001000099")
	_, err = r.SetSettlementAccount(ctx, "nobody", "x")
	wantErr(t, "SetSettlementAccount(nobody)", err, citycard.NotFound, `no party "nobody"`)
	ghost := bus
	ghost.ID = "ghost"
	wantErr(t, "UpdateParty(ghost)", s.Registry.UpdateParty(ctx, &ghost), citycard.NotFound, `no party "ghost"`)
	ghostTerm := term
	ghostTerm.ID = unknown
	ghostTerm.PSAM = unknownPSAM
	wantErr(t, "UpdateTerminal(ghost)", s.Registry.UpdateTerminal(ctx, &ghostTerm), citycard.NotFound, "no terminal 315001000099")

	dupID := bus
	dupID.Code = mustCode(t, "3150FF0000000011")
	_, err = r.AddParty(ctx, dupID)
	wantErr(t, "AddParty same ID", err, citycard.Exists, "operator nb-bus is already registered")
	dupCode := bus
	dupCode.ID = "nb-bus-2"
	_, err = r.AddParty(ctx, dupCode)
	wantErr(t, "AddParty same code", err, citycard.Exists, "operator nb-bus-2: issuer code 3150FF0000000010 is already party nb-bus's")
	secondOwn := registry.Party{ID: "31500001FFFFFFFF", Type: registry.PartyIssuer, Code: mustCode(t, "31500001FFFFFFFF"),
		Name: "Another", Own: true, SettlementAccount: "x"}
	_, err = r.AddParty(ctx, secondOwn)
	wantErr(t, "AddParty a second own issuer", err, citycard.Exists, "our own issuer is already registered: "+own.ID)
	// The same party again clashes on every rule it has (ID, code, own);
	// whichever the engine checks first, it is "already registered".
	_, err = r.AddParty(ctx, own)
	wantErr(t, "AddParty our issuer again", err, citycard.Exists, "issuer "+own.ID+" is already registered")
	// An update collides as a create does.
	recoded := bus
	recoded.Code = own.Code
	wantErr(t, "UpdateParty to another's code", s.Registry.UpdateParty(ctx, &recoded), citycard.Exists, "issuer code "+own.Code.String()+" is already party "+own.ID+"'s")

	sameID := registry.Terminal{ID: tid, PSAM: unknownPSAM, Operator: bus.ID, Type: registry.TerminalPOS}
	_, err = r.AddTerminal(ctx, sameID)
	wantErr(t, "AddTerminal same ID", err, citycard.Exists, "terminal 315001000001 is already registered")
	_, err = r.AddTerminal(ctx, term)
	wantErr(t, "AddTerminal the same again", err, citycard.Exists, "terminal 315001000001 is already registered")
	samePSAM := registry.Terminal{ID: unknown, PSAM: ps, Operator: bus.ID, Type: registry.TerminalPOS}
	_, err = r.AddTerminal(ctx, samePSAM)
	wantErr(t, "AddTerminal same PSAM", err, citycard.Exists, "terminal 315001000099: PSAM 31500000000001000001 is already in terminal 315001000001")
	_, err = r.AddTerminal(ctx, registry.Terminal{ID: unknown, PSAM: unknownPSAM, Operator: "nobody", Type: registry.TerminalPOS})
	wantErr(t, "AddTerminal of no operator", err, citycard.NotFound, `no party "nobody"`)
	orphan := registry.Terminal{ID: unknown, PSAM: unknownPSAM, Operator: "nobody", Type: registry.TerminalPOS, Status: registry.StatusActive}
	wantErr(t, "CreateTerminal orphan", s.Registry.CreateTerminal(ctx, &orphan), citycard.NotFound, `terminal 315001000099: its operator "nobody" is no registered party`)
	moved := term
	moved.Operator = "nobody"
	wantErr(t, "UpdateTerminal to no operator", s.Registry.UpdateTerminal(ctx, &moved), citycard.NotFound, `its operator "nobody" is no registered party`)
}

// testRegistryTransient: a lookup that fails for the database's sake
// (a cancelled or timed-out request, a closed database) is kind IO, never
// NotFound or Permission: the back office must refuse the batch for now
// (503), not reject its records as from an unknown terminal, and the API
// must not answer 401 to a terminal whose token it could not check.
func testRegistryTransient(t *testing.T, s Stores) {
	r := registry.New(s.Registry, clock())
	_, _, bus := seedParties(t, r)
	tid, _ := citycard.ParseTerminalID("315001000001")
	ps, _ := citycard.ParsePSAMID("31500000000001000001")
	if _, err := r.AddTerminal(context.Background(), registry.Terminal{ID: tid, PSAM: ps, Operator: bus.ID, Type: registry.TerminalBusValidator}); err != nil {
		t.Fatal(err)
	}
	tok, err := r.IssueCredential(context.Background(), tid)
	if err != nil {
		t.Fatal(err)
	}
	unknown, _ := citycard.ParseTerminalID("315001000099")

	reads := func(ctx context.Context) map[string]error {
		errs := map[string]error{}
		_, errs["Terminal(known)"] = s.Registry.Terminal(ctx, tid)
		_, errs["Terminal(unknown)"] = s.Registry.Terminal(ctx, unknown)
		_, errs["TerminalByPSAM"] = s.Registry.TerminalByPSAM(ctx, ps)
		_, errs["Party(known)"] = s.Registry.Party(ctx, bus.ID)
		_, errs["Party(unknown)"] = s.Registry.Party(ctx, "nobody")
		_, errs["Parties"] = s.Registry.Parties(ctx)
		_, errs["Terminals"] = s.Registry.Terminals(ctx, "")
		_, errs["Authenticate"] = r.Authenticate(ctx, tid, tok)
		_, errs["Authenticate(unknown)"] = r.Authenticate(ctx, unknown, tok)
		_, errs["IssueCredential"] = r.IssueCredential(ctx, tid)
		return errs
	}
	check := func(how string, errs map[string]error) {
		t.Helper()
		for what, err := range errs {
			wantKind(t, how+": "+what, err, citycard.IO)
		}
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	check("cancelled", reads(cancelled))
	expired, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	check("timed out", reads(expired))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check("closed", reads(context.Background()))
}
