package registry

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/citycard/citycard"
)

func TestStatusCanBecome(t *testing.T) {
	all := []Status{StatusActive, StatusSuspended, StatusRetired}
	allowed := map[[2]Status]bool{
		{StatusActive, StatusSuspended}:  true,
		{StatusActive, StatusRetired}:    true,
		{StatusSuspended, StatusActive}:  true,
		{StatusSuspended, StatusRetired}: true,
	}
	for _, from := range all {
		for _, to := range all {
			if got := from.CanBecome(to); got != allowed[[2]Status{from, to}] {
				t.Errorf("%v.CanBecome(%v) = %v", from, to, got)
			}
		}
	}
}

func TestEnums(t *testing.T) {
	for r := PartyIssuer; r <= PartyOperator; r++ {
		if got, err := ParsePartyType(r.String()); err != nil || got != r {
			t.Errorf("ParsePartyType(%q) = %v, %v", r, got, err)
		}
	}
	for s := SectorNone; s <= SectorOther; s++ {
		if got, err := ParseSector(s.String()); err != nil || got != s {
			t.Errorf("ParseSector(%q) = %v, %v", s, got, err)
		}
	}
	for k := TerminalBusValidator; k <= TerminalParkingMeter; k++ {
		if got, err := ParseTerminalType(k.String()); err != nil || got != k {
			t.Errorf("ParseTerminalType(%q) = %v, %v", k, got, err)
		}
	}
	for s := StatusActive; s <= StatusRetired; s++ {
		if got, err := ParseStatus(s.String()); err != nil || got != s {
			t.Errorf("ParseStatus(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseStatus("broken"); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("ParseStatus(broken) = %v, want kind Invalid", err)
	}
	if _, err := ParsePartyType(""); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("ParsePartyType(\"\") = %v, want kind Invalid", err)
	}
	if s := Status(9).String(); s != "unknown(9)" {
		t.Errorf("Status(9) = %q", s)
	}
}

func code(t *testing.T, s string) citycard.IssuerCode {
	t.Helper()
	c, err := citycard.ParseIssuerCode(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPartyValidate(t *testing.T) {
	issuer := func() Party {
		return Party{ID: "3150000000000001", Type: PartyIssuer, Code: code(t, "3150000000000001"), Name: "NB", Own: true, SettlementAccount: "ICBC 1"}
	}
	operator := func() Party {
		return Party{ID: "nb-bus", Type: PartyOperator, Code: code(t, "3150FF0000000010"), Sector: SectorBus, Name: "Bus", SettlementAccount: "ABC 2"}
	}
	tests := []struct {
		name string
		p    func() Party
		edit func(p *Party)
		ok   bool
	}{
		{"issuer", issuer, func(p *Party) {}, true},
		{"operator", operator, func(p *Party) {}, true},
		{"issuer ID not its code", issuer, func(p *Party) { p.ID = "3150000000000002" }, false},
		{"issuer with a sector", issuer, func(p *Party) { p.Sector = SectorBus }, false},
		{"operator that is ours", operator, func(p *Party) { p.Own = true }, false},
		{"operator without sector", operator, func(p *Party) { p.Sector = SectorNone }, false},
		{"unknown sector", operator, func(p *Party) { p.Sector = 99 }, false},
		{"no role", operator, func(p *Party) { p.Type = 0 }, false},
		{"zero code", operator, func(p *Party) { p.Code = citycard.IssuerCode{} }, false},
		{"empty ID", operator, func(p *Party) { p.ID = "" }, false},
		{"ID with a colon", operator, func(p *Party) { p.ID = "nb:bus" }, false},
		{"long ID", operator, func(p *Party) { p.ID = strings.Repeat("x", PartyIDLenMax+1) }, false},
		{"no name", operator, func(p *Party) { p.Name = "" }, false},
		{"name with a newline", operator, func(p *Party) { p.Name = "Bus\nGroup" }, false},
		{"Chinese name", operator, func(p *Party) { p.Name = "宁波公交" }, true},
		{"no settlement account", operator, func(p *Party) { p.SettlementAccount = "" }, false},
		{"long settlement account", operator, func(p *Party) { p.SettlementAccount = strings.Repeat("1", AccountLenMax+1) }, false},
	}
	for _, tt := range tests {
		p := tt.p()
		tt.edit(&p)
		err := p.Validate()
		if tt.ok != (err == nil) {
			t.Errorf("%s: Validate = %v, want ok %v", tt.name, err, tt.ok)
		}
		if err != nil && !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("%s: kind %v, want Invalid", tt.name, citycard.KindOf(err))
		}
	}
}

func TestTerminalValidate(t *testing.T) {
	id, _ := citycard.ParseTerminalID("0000000000A1")
	psam, _ := citycard.ParsePSAMID("11111111111111110001")
	ok := Terminal{ID: id, PSAM: psam, Operator: "nb-bus", Type: TerminalGate, Status: StatusActive, Vehicle: "浙B-12345"}
	tests := []struct {
		name string
		edit func(t *Terminal)
		ok   bool
	}{
		{"valid", func(t *Terminal) {}, true},
		{"zero ID", func(t *Terminal) { t.ID = citycard.TerminalID{} }, false},
		{"zero PSAM", func(t *Terminal) { t.PSAM = citycard.PSAMID{} }, false},
		{"no operator", func(t *Terminal) { t.Operator = "" }, false},
		{"no kind", func(t *Terminal) { t.Type = 0 }, false},
		{"unknown kind", func(t *Terminal) { t.Type = 77 }, false},
		{"no status", func(t *Terminal) { t.Status = 0 }, false},
		{"long vehicle", func(t *Terminal) { t.Vehicle = strings.Repeat("v", VehicleLenMax+1) }, false},
	}
	for _, tt := range tests {
		term := ok
		tt.edit(&term)
		err := term.Validate()
		if tt.ok != (err == nil) {
			t.Errorf("%s: Validate = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

func TestCredential(t *testing.T) {
	tok, hash, err := NewCredential(bytes.NewReader(bytes.Repeat([]byte{0xAB}, CredentialBytes)))
	if err != nil {
		t.Fatal(err)
	}
	if tok != strings.Repeat("ab", CredentialBytes) || hash != HashCredential(tok) {
		t.Errorf("NewCredential = %q, %x", tok, hash)
	}
	term := Terminal{Credential: hash}
	if !term.CheckCredential(tok) || term.CheckCredential(tok+"0") || term.CheckCredential("") {
		t.Error("CheckCredential accepts the wrong token or refuses the right one")
	}
	if (&Terminal{}).CheckCredential("") {
		t.Error("a terminal without a credential matched the empty token")
	}
	_, _, err = NewCredential(bytes.NewReader(nil))
	if !citycard.IsKind(err, citycard.IO) {
		t.Errorf("NewCredential(empty reader) = %v, want kind IO", err)
	}
	var e *citycard.Error
	if !errors.As(err, &e) {
		t.Errorf("NewCredential error %T is not a *citycard.Error", err)
	}
}
