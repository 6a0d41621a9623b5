package cms

import (
	"strings"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/ledger"
)

// A partner bank's branch is a service point of the bank's own staff: its
// ID names the bank, "BANK/BRANCH" (the bank's registry party, a slash,
// the branch: "icbc-ningbo/haishu-03"), so that the bank a member of
// staff works for is a fact of where they work (Staffing.Add refuses a
// branch's ID of another form). Its staff act for their bank at their
// branch only (StaffMember.MayServe, MayRead): the money they take or
// pay goes through their bank (channel partner_bank, the bank's party),
// which clearing pays its commission on; the cards they serve are not
// another bank's co-branded cards; and of clearing they read their own
// bank's statement, not the cycle's other parties. Staff at the issuer's
// own counters, agents and mobile points are not limited here.

// BranchBank returns the partner bank whose branch m works at (the part
// of a branch's service point ID before the slash), or "" for a member
// at any other kind of point.
func (m *StaffMember) BranchBank() string {
	if m.PointType != BankBranch {
		return ""
	}
	bank, _, _ := strings.Cut(m.ServicePoint, "/")
	return bank
}

// checkBranchPoint checks a bank branch's service point ID: BANK/BRANCH,
// the bank a registry party. Kind Invalid.
func checkBranchPoint(op string, m *StaffMember) error {
	bank, branch, ok := strings.Cut(m.ServicePoint, "/")
	if !ok || branch == "" || (ledger.Account{Type: ledger.Settlement, Party: bank}).Validate() != nil {
		return citycard.E(op, citycard.Invalid, "staff %s: service point %q of a bank branch: want BANK/BRANCH, BANK the bank's registry party", m.Name, m.ServicePoint)
	}
	return nil
}

// who names m, their role and their service point, as a refusal does.
func (m *StaffMember) who() string {
	return "staff " + m.Name + " (" + m.Role.String() + " at " + m.PointType.String() + " " + m.ServicePoint + ")"
}

// MayServe says whether m may act on a card of product p (nil: no card)
// with money through ch (nil: none). A member at a partner bank's branch
// moves money only through their bank (channel partner_bank of the
// bank's party: not cash at the issuer's counter, not another bank) and
// serves no card co-branded with another bank. Kind Permission naming
// the member, their role, their service point and what they may not do.
func (m *StaffMember) MayServe(p *Product, ch *Channel) error {
	const op = "cms.StaffMember.MayServe"
	bank := m.BranchBank()
	switch {
	case m.PointType != BankBranch:
		return nil
	case ch != nil && (ch.Type != PartnerBank || ch.Party != bank):
		return citycard.E(op, citycard.Permission, "%s moves money only through %s (channel partner_bank, party %s), not %v of %q", m.who(), bank, bank, ch.Type, ch.Party)
	case p != nil && p.PartnerBank != "" && p.PartnerBank != bank:
		return citycard.E(op, citycard.Permission, "%s serves no %s card: it is co-branded with %s, not %s", m.who(), p.ID, p.PartnerBank, bank)
	}
	return nil
}

// MayRead says whether m may read party's clearing figures ("" for
// every party's: a cycle's whole result, its files): a member at a
// partner bank's branch reads their own bank's statement only. Kind
// Permission as MayServe.
func (m *StaffMember) MayRead(party string) error {
	const op = "cms.StaffMember.MayRead"
	switch bank := m.BranchBank(); {
	case m.PointType != BankBranch || party == bank && bank != "":
		return nil
	case party == "":
		return citycard.E(op, citycard.Permission, "%s reads only the statement of %s, not every party's figures", m.who(), bank)
	default:
		return citycard.E(op, citycard.Permission, "%s reads only the statement of %s, not %s's", m.who(), bank, party)
	}
}
