package ledger

import (
	"strings"

	"github.com/citycard/citycard"
)

// PartyLenMax is the longest party ID an account may name, as the
// registry allows.
const PartyLenMax = 32

// AccountKind is what an account holds.
type AccountType uint8

// The types of account. The list only grows at the end; the names are
// stored and never change.
const (
	CardFloat              AccountType = 1 // an issuer's float: stored value on its cards (liability)
	OperatorPayable        AccountType = 2 // owed to an operator, pending clearing (liability)
	Suspense               AccountType = 3 // held apart until a later fact confirms or releases it (liability)
	InterconnectReceivable AccountType = 4 // owed by another city's issuer for its cards used here (asset)
	FeeIncome              AccountType = 5 // our fees (income); the party, if any, is whom it was earned from
	Settlement             AccountType = 6 // money through a party's settlement bank account (asset)
	CardDeposit            AccountType = 7 // deposits held for an issuer's cards, refunded on return (liability)
	IssuerLoss             AccountType = 8 // what an issuer bears of lost cards' use after the loss report (expense)
	TopUpPending           AccountType = 9 // remote top-ups paid for an issuer's cards, not yet claimed on them (liability)
	// ErrorReceivable is what a party owes back after an error (差错处理):
	// money paid out to it that proved owed elsewhere, such as a remote
	// top-up refunded to its payer whose claim's load the card had
	// credited after all (asset).
	ErrorReceivable AccountType = 10
	// Adjustment is what an issuer has paid onto (debit) or taken back
	// from (credit) its cards by manual adjustments a supervisor
	// approved (package cms, Manager.Adjust): an expense, as
	// issuer_loss is.
	Adjustment AccountType = 11
)

var accountTypeNames = [...]string{
	CardFloat:              "card_float",
	OperatorPayable:        "operator_payable",
	Suspense:               "suspense",
	InterconnectReceivable: "interconnect_receivable",
	FeeIncome:              "fee_income",
	Settlement:             "settlement",
	CardDeposit:            "card_deposit",
	IssuerLoss:             "issuer_loss",
	TopUpPending:           "topup_pending",
	ErrorReceivable:        "error_receivable",
	Adjustment:             "adjustment",
}

// String returns the type's name, the first part of its accounts' names.
func (k AccountType) String() string {
	if k.valid() {
		return accountTypeNames[k]
	}
	return "account_type?"
}

func (k AccountType) valid() bool { return int(k) < len(accountTypeNames) && accountTypeNames[k] != "" }

// DebitNormal reports whether accounts of type k normally carry a debit
// balance (assets, expenses), as opposed to a credit balance
// (liabilities, income): what reports use to show a balance on its
// natural side.
func (k AccountType) DebitNormal() bool {
	return k == InterconnectReceivable || k == Settlement || k == IssuerLoss || k == ErrorReceivable || k == Adjustment
}

// partyOptional reports whether an account of type k may have no party.
func (k AccountType) partyOptional() bool { return k == FeeIncome || k == Suspense }

// Account names a ledger account.
type Account struct {
	Type  AccountType
	Party string // the party's registry ID; empty only where the type allows
}

// String returns the account's name, "type:party" or "type": the form
// stored and shown.
func (a Account) String() string {
	if a.Party == "" {
		return a.Type.String()
	}
	return a.Type.String() + ":" + a.Party
}

// Validate checks the kind and the party. Kind Invalid.
func (a Account) Validate() error {
	const op = "ledger.Account.Validate"
	if !a.Type.valid() {
		return citycard.E(op, citycard.Invalid, "account kind %d", a.Type)
	}
	if a.Party == "" {
		if a.Type.partyOptional() {
			return nil
		}
		return citycard.E(op, citycard.Invalid, "account %v: needs a party", a.Type)
	}
	if len(a.Party) > PartyLenMax {
		return citycard.E(op, citycard.Invalid, "account %v: party of %d bytes, at most %d", a.Type, len(a.Party), PartyLenMax)
	}
	for i := 0; i < len(a.Party); i++ {
		c := a.Party[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return citycard.E(op, citycard.Invalid, "account %v: party %q: byte %q", a.Type, a.Party, c)
		}
	}
	return nil
}

// ParseAccount parses an account name as String writes it. Kind Invalid.
func ParseAccount(s string) (Account, error) {
	const op = "ledger.ParseAccount"
	kind, party, _ := strings.Cut(s, ":")
	for i, n := range accountTypeNames {
		if n != "" && n == kind {
			a := Account{Type: AccountType(i), Party: party}
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
