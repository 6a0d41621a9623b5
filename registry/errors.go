package registry

import (
	"github.com/citycard/citycard"
)

// The stores answer in the registry's words, not their drivers': a user
// reads "no terminal 315001000001", never "sql: no rows in result set".
// Both stores build their NotFound and Exists errors here, from the rule
// of the schema that a write broke, so the sentence is the same whichever
// engine holds the registry. The driver's error is left out of these: it
// says nothing the sentence does not, in words the user does not use.
// Every other failure (busy, locked, closed, timed out) stays the
// driver's, as kind IO.

// Clash is the rule of the registry's schema that a write broke, as a
// store reads it from its driver's error.
type Clash uint8

// The clashes.
const (
	ClashNone      Clash = iota // not a clash of the registry's rules
	ClashPartyID                // a party of that ID exists
	ClashPartyCode              // a party of that issuer code exists
	ClashOwn                    // another party is our own issuer
	ClashTerminal               // a terminal of that ID exists
	ClashPSAM                   // another terminal holds that PSAM
	ClashOperator               // a terminal's operator is no party
)

// NoParty is the error of a lookup or update of a party that is not
// registered: kind NotFound.
func NoParty(op, id string) error {
	return citycard.E(op, citycard.NotFound, "no party %q", id)
}

// NoTerminal is the error of a lookup or update of a terminal that is not
// registered: kind NotFound.
func NoTerminal(op string, id citycard.TerminalID) error {
	return citycard.E(op, citycard.NotFound, "no terminal %v", id)
}

// NoTerminalWithPSAM is the error of a lookup by a PSAM no terminal
// holds: kind NotFound.
func NoTerminalWithPSAM(op string, psam citycard.PSAMID) error {
	return citycard.E(op, citycard.NotFound, "no terminal holds PSAM %v", psam)
}

// PartyClash is the error of a write of p that broke rule c; holder is
// the party that holds what p wanted (its ID), or empty if the store
// could not tell. A holder that is p itself means p is registered
// already, whichever of its rules the engine happened to check first.
// Kind Exists; for ClashNone or a terminal's clash, kind Other (a store's
// bug).
func PartyClash(op string, p *Party, c Clash, holder string) error {
	if holder == p.ID && (c == ClashPartyCode || c == ClashOwn) {
		c = ClashPartyID
	}
	switch c {
	case ClashPartyID:
		return citycard.E(op, citycard.Exists, "%v %s is already registered", p.Type, p.ID)
	case ClashPartyCode:
		if holder == "" {
			return citycard.E(op, citycard.Exists, "%v %s: issuer code %v is already another party's", p.Type, p.ID, p.Code)
		}
		return citycard.E(op, citycard.Exists, "%v %s: issuer code %v is already party %s's", p.Type, p.ID, p.Code, holder)
	case ClashOwn:
		if holder == "" {
			return citycard.E(op, citycard.Exists, "our own issuer is already registered; %s cannot be ours too", p.ID)
		}
		return citycard.E(op, citycard.Exists, "our own issuer is already registered: %s; %s cannot be ours too", holder, p.ID)
	}
	return citycard.E(op, citycard.Other, "party %s: clash %d is not a party's", p.ID, c)
}

// TerminalClash is the error of a write of t that broke rule c; holder is
// the terminal that holds t's PSAM (ClashPSAM, its ID in upper-case hex),
// or empty if the store could not tell; a holder that is t itself means
// t is registered already. Kind Exists, or NotFound for ClashOperator;
// for ClashNone or a party's clash, kind Other (a store's bug).
func TerminalClash(op string, t *Terminal, c Clash, holder string) error {
	if c == ClashPSAM && holder == t.ID.String() {
		c = ClashTerminal
	}
	switch c {
	case ClashTerminal:
		return citycard.E(op, citycard.Exists, "terminal %v is already registered", t.ID)
	case ClashPSAM:
		if holder == "" {
			return citycard.E(op, citycard.Exists, "terminal %v: PSAM %v is already in another terminal", t.ID, t.PSAM)
		}
		return citycard.E(op, citycard.Exists, "terminal %v: PSAM %v is already in terminal %s", t.ID, t.PSAM, holder)
	case ClashOperator:
		return citycard.E(op, citycard.NotFound, "terminal %v: its operator %q is no registered party", t.ID, t.Operator)
	}
	return citycard.E(op, citycard.Other, "terminal %v: clash %d is not a terminal's", t.ID, c)
}
