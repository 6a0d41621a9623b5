package city

import (
	"errors"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/terminal"
)

// listedCards is a blacklist of our cards.
type listedCards map[citycard.ASN]bool

func (l listedCards) Contains(issuer citycard.IssuerCode, asn citycard.ASN) bool {
	return issuer == Issuer && l[asn]
}

// countingCard counts the APDUs a terminal sends the card.
type countingCard struct {
	*card.Card
	n int
}

func (c *countingCard) Transmit(cmd []byte) ([]byte, error) { c.n++; return c.Card.Transmit(cmd) }

// TestInterconnectionKeyVersion: key version 2 is the interconnection's.
// Our MoT card taps at our terminal (versions 2, then 1) under version 2
// and in another city under version 2, its TAC verifying under our keys
// there too; our citizen card, without version 2, falls back to version
// 1 at our terminal, one APDU more than at a terminal of version 1
// only, and is refused by the other
// city's terminal (whose PSAM holds the national key only); a visiting
// card taps here under version 2. Blacklisted, our MoT card is blocked
// by our terminal (its maintenance key is version 1's in both sets).
func TestInterconnectionKeyVersion(t *testing.T) {
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, citycard.ChinaTime)
	c := &City{cfg: Config{Seed: 5, Cards: 10, Days: 1, Start: start, Dir: t.TempDir()}}
	if err := c.cfg.check(); err != nil {
		t.Fatal(err)
	}
	c.setNow(start.Add(9 * time.Hour))
	if err := c.buildKeys(); err != nil {
		t.Fatal(err)
	}
	ourTerminal := func(n byte, bl terminal.Blacklist, versions ...uint8) *terminal.Terminal {
		t.Helper()
		tid := citycard.TerminalID{0x31, 0x50, 0x1A, 0, 0, n}
		psamID := citycard.PSAMID{0x31, 0x50, 0, 0, 0, 0x1A, 0, 0, 0, n}
		psam := c.vendor.NewPSAM(psamID)
		if err := terminal.ProvisionPSAM(c.store, psam, tid, ourPSAMKeys(operatorCode(opMart)), 1); err != nil {
			t.Fatal(err)
		}
		term, err := terminal.New(terminal.Config{PSAM: psam, PSAMID: psamID, RecordKeyVersion: 1, Mode: terminal.ModePOS, Fare: terminal.FlatFare{},
			Spool: &memSpool{c: c}, Blacklist: bl, KeyVersions: versions, MaintenanceKeyVersion: 1, Now: c.now})
		if err != nil {
			t.Fatal(err)
		}
		return term
	}
	ours, v1Only := ourTerminal(1, nil, interconnectVersion, 1), ourTerminal(2, nil, 1)
	newCard := func(is issuer, profile card.Profile, asn citycard.ASN, ks []card.KeySet) *countingCard {
		t.Helper()
		from, _ := citycard.DateTime(start.AddDate(-1, 0, 0))
		to, _ := citycard.DateTime(start.AddDate(5, 0, 0))
		cd, err := card.New(card.Config{Profile: profile, Issuer: is.code, ASN: asn, CardType: cardTypeOurs, Start: from, Expiry: to,
			KeySets: ks, InitialBalanceFen: 10000})
		if err != nil {
			t.Fatal(err)
		}
		return &countingCard{Card: cd}
	}
	mot := citycard.ASN{0x31, 0x50, 0x31, 0x50, byte(card.ProfileMoT), 0, 0, 0, 0, 1}
	citizen := citycard.ASN{0, 0, 0x31, 0x50, byte(card.ProfileCitizen), 0, 0, 0, 0, 2}
	ksMoT, err := c.ourKeySets(card.ProfileMoT, mot)
	if err != nil || len(ksMoT) != 2 {
		t.Fatalf("MoT key sets: %d, %v", len(ksMoT), err)
	}
	ksCitizen, err := c.ourKeySets(card.ProfileCitizen, citizen)
	if err != nil || len(ksCitizen) != 1 {
		t.Fatalf("citizen key sets: %d, %v", len(ksCitizen), err)
	}
	motCard, citizenCard := newCard(c.issuers[0], card.ProfileMoT, mot, ksMoT), newCard(c.issuers[0], card.ProfileCitizen, citizen, ksCitizen)
	v := record.NewVerifier(c.store, Issuer)
	tap := func(term *terminal.Terminal, cd *countingCard, wantVersion uint8) int {
		t.Helper()
		cd.n = 0
		res, err := term.Tap(cd, 300)
		if err != nil {
			t.Fatalf("card %v at %v: %v", cd.State().ASN, term.ID(), err)
		}
		if res.Record.KeyVersion != wantVersion {
			t.Errorf("card %v at %v: key version %d, want %d", cd.State().ASN, term.ID(), res.Record.KeyVersion, wantVersion)
		}
		if res.Record.Issuer == Issuer {
			if err := v.VerifyTAC(&res.Record); err != nil {
				t.Errorf("card %v at %v: its TAC under our keys: %v", cd.State().ASN, term.ID(), err)
			}
		}
		return cd.n
	}
	tap(ours, motCard, interconnectVersion)
	if n, n1 := tap(ours, citizenCard, 1), tap(v1Only, citizenCard, 1); n != n1+1 {
		t.Errorf("the citizen card's tap took %d APDUs at a terminal of versions 2 and 1, %d at one of version 1: want one more", n, n1)
	}
	for _, cp := range c.travel.terms {
		tap(cp.term, motCard, interconnectVersion)
		if _, err := cp.term.Tap(citizenCard, 300); err == nil {
			t.Errorf("our citizen card tapped at %s's terminal, whose PSAM holds no key of ours", c.issuers[cp.issuer].name)
		}
	}
	// Blacklisted, our MoT card is blocked by our terminal, under the
	// maintenance key (version 1) both its key sets hold.
	listed := ourTerminal(3, listedCards{mot: true}, interconnectVersion, 1)
	if _, err := listed.Tap(motCard, 300); !errors.Is(err, terminal.ErrBlacklisted) {
		t.Errorf("our MoT card blacklisted: %v, want it blocked (%v)", err, terminal.ErrBlacklisted)
	}
	if _, err := ours.Tap(motCard, 300); !errors.Is(err, terminal.ErrBlocked) {
		t.Errorf("our MoT card once blocked: %v, want %v", err, terminal.ErrBlocked)
	}
	is := c.issuers[1]
	asn := citycard.ASN{is.code[0], is.code[1], 0, 1, is.code[0], is.code[1], 0, 0, 0, 3}
	ks, err := interconnectKeys(c.store, is.keys, is.code, asn, interconnectVersion)
	if err != nil {
		t.Fatal(err)
	}
	tap(ours, newCard(is, card.ProfileMoT, asn, []card.KeySet{ks}), interconnectVersion)
}
