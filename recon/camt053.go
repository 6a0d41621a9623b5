package recon

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
)

// CAMT053NamespacePrefix is what the namespace of a camt.053 file
// begins with; the version (two digits) follows. Every version carries
// the elements read here under the same names.
const CAMT053NamespacePrefix = "urn:iso:std:iso:20022:tech:xsd:camt.053.001."

// Limits of the XML itself, beside the file's size.
const (
	xmlDepthMax = 32
	xmlNodesMax = 1 << 20
)

// notProvided is ISO 20022's value for a reference the sender did not
// give.
const notProvided = "NOTPROVIDED"

// xnode is one element of a camt.053 file, with its path from the root
// (Document/BkToCstmrStmt/Stmt/Ntry[2]/Amt) and line for errors.
type xnode struct {
	name   xml.Name
	attr   []xml.Attr
	text   []byte
	kids   []*xnode
	line   int
	path   string
	counts map[string]int
}

// repeated are the elements that may occur more than once where they
// are read; their paths carry their rank ([1], [2], ...) always.
var repeated = map[string]bool{"Stmt": true, "Ntry": true, "NtryDtls": true, "TxDtls": true, "Ustrd": true, "Bal": true}

// camtError is the error of a file's element: its line and path, and why.
func camtError(file string, line int, path, format string, args ...any) error {
	return citycard.E("recon.ParseCAMT053", citycard.Invalid, "%s: line %d: %s: %s", file, line, path, fmt.Sprintf(format, args...))
}

// parseXML reads data into a tree of elements, strictly: well-formed
// UTF-8 XML with one root, no DTD, within the depth and node limits. A
// truncated file fails naming the elements left open.
func parseXML(file string, data []byte) (*xnode, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	var stack []*xnode
	var root *xnode
	nodes := 0
	top := func() string {
		if len(stack) == 0 {
			return "(document)"
		}
		return stack[len(stack)-1].path
	}
	for {
		tok, err := d.Token()
		line, _ := d.InputPos()
		if errors.Is(err, io.EOF) {
			if len(stack) > 0 {
				return nil, camtError(file, line, top(), "the file ends inside the element: truncated")
			}
			if root == nil {
				return nil, camtError(file, line, "(document)", "no element: empty or not XML")
			}
			return root, nil
		}
		if err != nil {
			var se *xml.SyntaxError
			msg := err.Error()
			if errors.As(err, &se) {
				msg, line = se.Msg, se.Line
			}
			if len(stack) > 0 && strings.Contains(msg, "unexpected EOF") {
				msg = "the file ends inside the element: truncated"
			}
			return nil, camtError(file, line, top(), "%s", msg)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			nodes++
			if nodes > xmlNodesMax {
				return nil, camtError(file, line, top(), "more than %d elements", xmlNodesMax)
			}
			if len(stack) == xmlDepthMax {
				return nil, camtError(file, line, top(), "elements nested deeper than %d", xmlDepthMax)
			}
			n := &xnode{name: t.Name, attr: t.Attr, line: line}
			if len(stack) == 0 {
				if root != nil {
					return nil, camtError(file, line, t.Name.Local, "a second root element")
				}
				root, n.path = n, t.Name.Local
			} else {
				p := stack[len(stack)-1]
				if p.counts == nil {
					p.counts = map[string]int{}
				}
				p.counts[t.Name.Local]++
				n.path = p.path + "/" + t.Name.Local
				if repeated[t.Name.Local] {
					n.path += fmt.Sprintf("[%d]", p.counts[t.Name.Local])
				}
				p.kids = append(p.kids, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				n := stack[len(stack)-1]
				n.text = append(n.text, t...)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, camtError(file, line, "(document)", "text outside the root element")
			}
		case xml.Directive:
			return nil, camtError(file, line, top(), "a directive (DTD): not taken")
		}
	}
}

// camt reads the elements of one file, its errors naming the file.
type camt struct{ file string }

func (c camt) err(n *xnode, format string, args ...any) error {
	return camtError(c.file, n.line, n.path, format, args...)
}

// all returns n's children named name.
func (n *xnode) all(name string) []*xnode {
	var out []*xnode
	for _, k := range n.kids {
		if k.name.Local == name {
			out = append(out, k)
		}
	}
	return out
}

// opt returns n's child named name, nil if none; more than one is an
// error.
func (c camt) opt(n *xnode, name string) (*xnode, error) {
	ks := n.all(name)
	switch len(ks) {
	case 0:
		return nil, nil
	case 1:
		return ks[0], nil
	}
	return nil, c.err(ks[1], "more than one %s", name)
}

// one returns n's one child named name.
func (c camt) one(n *xnode, name string) (*xnode, error) {
	k, err := c.opt(n, name)
	if err == nil && k == nil {
		return nil, camtError(c.file, n.line, n.path+"/"+name, "missing")
	}
	return k, err
}

// value returns the text of leaf n, trimmed of XML white space, checked
// against max characters.
func (c camt) value(n *xnode, max int) (string, error) {
	if len(n.kids) > 0 {
		return "", c.err(n, "want a value, not elements")
	}
	s := strings.Trim(string(n.text), " \t\r\n")
	if why := checkText(s, max, true); why != "" {
		return "", c.err(n, "%s", why)
	}
	return s, nil
}

// optValue is value of n's child name, "" if there is none.
func (c camt) optValue(n *xnode, name string, max int) (string, error) {
	k, err := c.opt(n, name)
	if err != nil || k == nil {
		return "", err
	}
	return c.value(k, max)
}

// oneValue is value of n's one child name.
func (c camt) oneValue(n *xnode, name string, max int) (string, error) {
	k, err := c.one(n, name)
	if err != nil {
		return "", err
	}
	return c.value(k, max)
}

// amount reads an amount element: Ccy="CNY", yuan with at most two
// decimals, more than zero.
func (c camt) amount(n *xnode) (int64, error) {
	ccy := ""
	for _, a := range n.attr {
		if a.Name.Local == "Ccy" {
			ccy = a.Value
		}
	}
	if ccy != "CNY" {
		return 0, c.err(n, "currency %q: want Ccy=\"CNY\"", clip(ccy))
	}
	s, err := c.value(n, 32)
	if err != nil {
		return 0, err
	}
	fen, why := yuan(s)
	if why != "" {
		return 0, c.err(n, "amount %q: %s", clip(s), why)
	}
	if fen == 0 {
		return 0, c.err(n, "amount 0: a movement moves money")
	}
	return fen, nil
}

// date reads a date and time choice (BookgDt, ValDt): Dt (YYYY-MM-DD)
// or DtTm (an ISO date and time), its date as written.
func (c camt) date(n *xnode) (clearing.Day, error) {
	dt, err := c.opt(n, "Dt")
	if err != nil {
		return 0, err
	}
	tm, err := c.opt(n, "DtTm")
	if err != nil {
		return 0, err
	}
	switch {
	case dt != nil && tm != nil:
		return 0, c.err(n, "both Dt and DtTm: want one")
	case dt != nil:
		s, err := c.value(dt, 10)
		if err != nil {
			return 0, err
		}
		d, err := clearing.ParseDay(s)
		if err != nil {
			return 0, c.err(dt, "%q: want YYYY-MM-DD", s)
		}
		return d, nil
	case tm != nil:
		s, err := c.value(tm, 40)
		if err != nil {
			return 0, err
		}
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
			if t, err := time.Parse(layout, s); err == nil {
				return clearing.DayOf(t.Year(), t.Month(), t.Day()), nil
			}
		}
		return 0, c.err(tm, "%q: want an ISO date and time (2026-12-02T10:00:00+08:00)", clip(s))
	}
	return 0, c.err(n, "missing Dt or DtTm")
}

// ParseCAMT053 reads an ISO 20022 camt.053 bank-to-customer statement
// (BkToCstmrStmt) of one account, strictly: file names it in errors. It
// takes GrpHdr/MsgId, one Stmt with its Id and Acct (Id/IBAN or
// Id/Othr/Id, Ccy CNY if given), and every Ntry: Amt (Ccy CNY),
// CdtDbtInd, Sts (BOOK if given), BookgDt, ValDt, AcctSvcrRef,
// AddtlNtryInf and NtryDtls/TxDtls with Refs (EndToEndId, MsgId,
// PmtInfId), Amt and RmtInf/Ustrd. Other elements are not read. The
// details of a movement with more than one must each give an amount, and
// sum to the movement's exactly. Kind Invalid naming the line, the
// element's path and the field, for a file past a limit, corrupt,
// truncated, or carrying a value that breaks these rules.
func ParseCAMT053(file string, data []byte) (*BankStatement, error) {
	if len(data) > FileBytesMax {
		return nil, citycard.E("recon.ParseCAMT053", citycard.Invalid, "%s: %d bytes, at most %d", file, len(data), FileBytesMax)
	}
	root, err := parseXML(file, data)
	if err != nil {
		return nil, err
	}
	c := camt{file}
	if root.name.Local != "Document" || !strings.HasPrefix(root.name.Space, CAMT053NamespacePrefix) {
		return nil, c.err(root, "element {%s}%s: want a camt.053 Document (namespace %sNN)", clip(root.name.Space), clip(root.name.Local), CAMT053NamespacePrefix)
	}
	bk, err := c.one(root, "BkToCstmrStmt")
	if err != nil {
		return nil, err
	}
	hdr, err := c.one(bk, "GrpHdr")
	if err != nil {
		return nil, err
	}
	st := &BankStatement{Format: CAMT053, SHA256: hashOf(data)}
	if st.MessageID, err = c.oneValue(hdr, "MsgId", IDLenMax); err != nil {
		return nil, err
	}
	stmts := bk.all("Stmt")
	if len(stmts) != 1 {
		return nil, camtError(file, bk.line, bk.path+"/Stmt", "%d statements: want one (a file per statement)", len(stmts))
	}
	s := stmts[0]
	if st.ID, err = c.oneValue(s, "Id", IDLenMax); err != nil {
		return nil, err
	}
	if st.Account, err = c.account(s); err != nil {
		return nil, err
	}
	entries := s.all("Ntry")
	if len(entries) > MovementsMax {
		return nil, c.err(entries[MovementsMax], "more than %d entries", MovementsMax)
	}
	parts := 0
	for i, e := range entries {
		m, err := c.movement(e)
		if err != nil {
			return nil, err
		}
		if parts += len(m.Parts); parts > PartsTotalMax {
			return nil, c.err(e, "more than %d transaction details in the statement", PartsTotalMax)
		}
		m.Statement, m.Seq = st.ID, i+1
		st.Movements = append(st.Movements, m)
	}
	return st, nil
}

// account reads Stmt/Acct: its identification and currency.
func (c camt) account(s *xnode) (string, error) {
	acct, err := c.one(s, "Acct")
	if err != nil {
		return "", err
	}
	if ccy, err := c.optValue(acct, "Ccy", 3); err != nil {
		return "", err
	} else if ccy != "" && ccy != "CNY" {
		return "", camtError(c.file, acct.line, acct.path+"/Ccy", "%q: want CNY", ccy)
	}
	id, err := c.one(acct, "Id")
	if err != nil {
		return "", err
	}
	iban, err := c.optValue(id, "IBAN", AccountLenMax)
	if err != nil {
		return "", err
	}
	othr, err := c.opt(id, "Othr")
	if err != nil {
		return "", err
	}
	switch {
	case othr != nil && iban != "":
		return "", c.err(id, "both IBAN and Othr: want one")
	case othr != nil:
		return c.oneValue(othr, "Id", AccountLenMax)
	case iban != "":
		return iban, nil
	}
	return "", c.err(id, "missing IBAN or Othr/Id")
}

// movement reads one Ntry.
func (c camt) movement(e *xnode) (Movement, error) {
	var m Movement
	amt, err := c.one(e, "Amt")
	if err != nil {
		return m, err
	}
	if m.AmountFen, err = c.amount(amt); err != nil {
		return m, err
	}
	ind, err := c.one(e, "CdtDbtInd")
	if err != nil {
		return m, err
	}
	if m.Direction, err = c.direction(ind); err != nil {
		return m, err
	}
	if sts, err := c.opt(e, "Sts"); err != nil {
		return m, err
	} else if sts != nil {
		code := sts
		if cd, err := c.opt(sts, "Cd"); err != nil {
			return m, err
		} else if cd != nil {
			code = cd
		}
		v, err := c.value(code, 4)
		if err != nil {
			return m, err
		}
		if v != "BOOK" {
			return m, c.err(code, "status %q: a statement reconciles booked entries (BOOK)", v)
		}
	}
	bd, err := c.one(e, "BookgDt")
	if err != nil {
		return m, err
	}
	if m.Booked, err = c.date(bd); err != nil {
		return m, err
	}
	m.Value = m.Booked
	if vd, err := c.opt(e, "ValDt"); err != nil {
		return m, err
	} else if vd != nil {
		if m.Value, err = c.date(vd); err != nil {
			return m, err
		}
	}
	if m.BankRef, err = c.optValue(e, "AcctSvcrRef", IDLenMax); err != nil {
		return m, err
	}
	if m.Info, err = c.optValue(e, "AddtlNtryInf", InfoLenMax); err != nil {
		return m, err
	}
	var details []*xnode
	for _, nd := range e.all("NtryDtls") {
		details = append(details, nd.all("TxDtls")...)
		if len(details) > PartsMax {
			return m, c.err(details[PartsMax], "more than %d transaction details in the entry", PartsMax)
		}
	}
	var sum int64
	for _, td := range details {
		p, err := c.part(td, m.Direction, len(details) > 1)
		if err != nil {
			return m, err
		}
		if p.AmountFen == 0 {
			p.AmountFen = m.AmountFen
		}
		sum += p.AmountFen
		m.Parts = append(m.Parts, p)
	}
	if len(details) > 0 && sum != m.AmountFen {
		return m, camtError(c.file, details[0].line, e.path+"/NtryDtls", "the transaction details' amounts sum to %s, the entry's Amt is %s", citycard.Yuan(sum), citycard.Yuan(m.AmountFen))
	}
	return m, nil
}

func (c camt) direction(n *xnode) (Direction, error) {
	v, err := c.value(n, 4)
	if err != nil {
		return 0, err
	}
	d, err := ParseDirection(v)
	if err != nil {
		return 0, c.err(n, "%q: want DBIT or CRDT", v)
	}
	return d, nil
}

// part reads one TxDtls of an entry moving dir; amountNeeded when the
// entry has several.
func (c camt) part(td *xnode, dir Direction, amountNeeded bool) (Part, error) {
	var p Part
	if refs, err := c.opt(td, "Refs"); err != nil {
		return p, err
	} else if refs != nil {
		for _, f := range []struct {
			name string
			dst  *string
		}{{"EndToEndId", &p.EndToEndID}, {"MsgId", &p.MessageID}, {"PmtInfId", &p.PaymentInfoID}} {
			if *f.dst, err = c.optValue(refs, f.name, IDLenMax); err != nil {
				return p, err
			}
		}
		if p.EndToEndID == notProvided {
			p.EndToEndID = ""
		}
	}
	amt, err := c.opt(td, "Amt")
	if err != nil {
		return p, err
	}
	if amt == nil {
		if ad, err := c.opt(td, "AmtDtls"); err != nil {
			return p, err
		} else if ad != nil {
			if tx, err := c.opt(ad, "TxAmt"); err != nil {
				return p, err
			} else if tx != nil {
				if amt, err = c.one(tx, "Amt"); err != nil {
					return p, err
				}
			}
		}
	}
	switch {
	case amt != nil:
		if p.AmountFen, err = c.amount(amt); err != nil {
			return p, err
		}
	case amountNeeded:
		return p, camtError(c.file, td.line, td.path+"/Amt", "missing: an entry of several transaction details gives each its amount")
	}
	if ind, err := c.opt(td, "CdtDbtInd"); err != nil {
		return p, err
	} else if ind != nil {
		d, err := c.direction(ind)
		if err != nil {
			return p, err
		}
		if d != dir {
			return p, c.err(ind, "%v in an entry of %v", d, dir)
		}
	}
	if rmt, err := c.opt(td, "RmtInf"); err != nil {
		return p, err
	} else if rmt != nil {
		lines := rmt.all("Ustrd")
		if len(lines) > RemittanceLines {
			return p, c.err(lines[RemittanceLines], "more than %d lines of remittance information", RemittanceLines)
		}
		var vs []string
		for _, l := range lines {
			v, err := c.value(l, RemittanceMax)
			if err != nil {
				return p, err
			}
			vs = append(vs, v)
		}
		p.Remittance = strings.Join(vs, " ")
	}
	return p, nil
}
