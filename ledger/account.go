package ledger

import (
	"strings"

	"github.com/citycard/citycard"
)

// PartyLenMax is the longest party ID an account may name, as the
// registry allows.
const PartyLenMax = 32

// AccountKind is what an account holds.
type AccountKind uint8

// The kinds of account. The list only grows at the end; the names are
// stored and never change.
const (
	CardFloat              AccountKind = 1 // an issuer's float: stored value on its cards (liability)
	OperatorPayable        AccountKind = 2 // owed to an operator, pending clearing (liability)
	Suspense               AccountKind = 3 // held apart until a later fact confirms or releases it (liability)
	InterconnectReceivable AccountKind = 4 // owed by another city's issuer for its cards used here (asset)
	FeeIncome              AccountKind = 5 // our fees (income); the party, if any, is whom it was earned from
	Settlement             AccountKind = 6 // money through a party's settlement bank account (asset)
)

var accountKindNames = [...]string{
	CardFloat:              "card_float",
	OperatorPayable:        "operator_payable",
	Suspense:               "suspense",
	InterconnectReceivable: "interconnect_receivable",
	FeeIncome:              "fee_income",
	Settlement:             "settlement",
}

// String returns the kind's name, the first part of its accounts' names.
func (k AccountKind) String() string {
	if k.valid() {
		return accountKindNames[k]
	}
	return "account_kind?"
}

func (k AccountKind) valid() bool { return int(k) < len(accountKindNames) && accountKindNames[k] != "" }

// DebitNormal reports whether accounts of kind k normally carry a debit
// balance (assets), as opposed to a credit balance (liabilities, income):
// what reports use to show a balance on its natural side.
func (k AccountKind) DebitNormal() bool { return k == InterconnectReceivable || k == Settlement }

// partyOptional reports whether an account of kind k may have no party.
func (k AccountKind) partyOptional() bool { return k == FeeIncome || k == Suspense }

// Account names a ledger account.
type Account struct {
	Kind  AccountKind
	Party string // the party's registry ID; empty only where the kind allows
}

// String returns the account's name, "kind:party" or "kind": the form
// stored and shown.
func (a Account) String() string {
	if a.Party == "" {
		return a.Kind.String()
	}
	return a.Kind.String() + ":" + a.Party
}

// Validate checks the kind and the party. Kind Invalid.
func (a Account) Validate() error {
	const op = "ledger.Account.Validate"
	if !a.Kind.valid() {
		return citycard.E(op, citycard.Invalid, "account kind %d", a.Kind)
	}
	if a.Party == "" {
		if a.Kind.partyOptional() {
			return nil
		}
		return citycard.E(op, citycard.Invalid, "account %v: needs a party", a.Kind)
	}
	if len(a.Party) > PartyLenMax {
		return citycard.E(op, citycard.Invalid, "account %v: party of %d bytes, at most %d", a.Kind, len(a.Party), PartyLenMax)
	}
	for i := 0; i < len(a.Party); i++ {
		c := a.Party[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return citycard.E(op, citycard.Invalid, "account %v: party %q: byte %q", a.Kind, a.Party, c)
		}
	}
	return nil
}

// ParseAccount parses an account name as String writes it. Kind Invalid.
func ParseAccount(s string) (Account, error) {
	const op = "ledger.ParseAccount"
	kind, party, _ := strings.Cut(s, ":")
	for i, n := range accountKindNames {
		if n != "" && n == kind {
			a := Account{Kind: AccountKind(i), Party: party}
			if strings.HasSuffix(s, ":") {
				return Account{}, citycard.E(op, citycard.Invalid, "account %q: empty party", s)
			}
			if err := a.Validate(); err != nil {
				return Account{}, citycard.Wrap(op, citycard.Other, err)
			}
			return a, nil
		}
	}
	return Account{}, citycard.E(op, citycard.Invalid, "account %q: unknown kind %q", s, kind)
}
