package clearing

import (
	"bytes"
	"cmp"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/registry"
)

// ConcessionKind is which discount a concession share compensates.
type ConcessionKind uint8

// The discounts compensated (the package doc's "Concessions").
const (
	// ConcessionCategory is the discount of a rider category: the leg's
	// full fare at the fare table's default category less its full fare
	// at the rider's (a student's half, a senior's whole fare).
	ConcessionCategory ConcessionKind = 1
	// ConcessionTransfer is what the fare rules took off the leg's full
	// fare at the rider's category: the record's full fare less its
	// amount (transfers, and the caps and spend tiers, which the record
	// does not tell apart from them).
	ConcessionTransfer ConcessionKind = 2
)

var concessionKindNames = [...]string{ConcessionCategory: "category", ConcessionTransfer: "transfer"}

// String returns the kind's name, as files and lines write it.
func (k ConcessionKind) String() string {
	if int(k) < len(concessionKindNames) && concessionKindNames[k] != "" {
		return concessionKindNames[k]
	}
	return "kind?"
}

func parseConcessionKind(s string) (ConcessionKind, bool) {
	for i, n := range concessionKindNames {
		if n != "" && n == s {
			return ConcessionKind(i), true
		}
	}
	return 0, false
}

// AnyCategory in a ConcessionShare matches every rider category.
const AnyCategory = 256

// Limits of concession shares.
const (
	SharePPMMax        = 1_000_000 // a funder compensates at most the whole discount
	ConcessionLinesMax = 1 << 12   // lines of one funder's version
)

// ConcessionShare is one line of a funder's concessions: the share, in
// parts per million, of the discounts of Kind that the funder compensates
// to an operator on the records of a rider category. RiderCategory is the
// code the card carries (0 to 255) or AnyCategory; Operator a party ID,
// or "" for every operator.
type ConcessionShare struct {
	Kind          ConcessionKind
	RiderCategory int
	Operator      string
	SharePPM      int64
}

// matches reports whether s applies to a discount of kind k of category
// cat on operator op's terminals.
func (s *ConcessionShare) matches(k ConcessionKind, cat uint8, op string) bool {
	return s.Kind == k && (s.RiderCategory == AnyCategory || s.RiderCategory == int(cat)) && (s.Operator == "" || s.Operator == op)
}

// ConcessionVersion is a funder's concession shares from day Effective
// until its next version's: the first share of it that applies to a
// discount gives the funder's part of it. A version, stored, is never
// changed.
type ConcessionVersion struct {
	Effective Day
	Funder    string
	Shares    []ConcessionShare
}

// validate checks v. Kind Invalid naming the funder and line.
func (v *ConcessionVersion) validate(op string) error {
	if v.Funder == "" || len(v.Funder) > registry.PartyIDLenMax || !plain(v.Funder) {
		return citycard.E(op, citycard.Invalid, "concessions: funder %q: want a party ID", v.Funder)
	}
	if len(v.Shares) == 0 || len(v.Shares) > ConcessionLinesMax {
		return citycard.E(op, citycard.Invalid, "concessions of %s from %v: %d shares, want 1 to %d", v.Funder, v.Effective, len(v.Shares), ConcessionLinesMax)
	}
	for i := range v.Shares {
		s := &v.Shares[i]
		where := "concessions of " + v.Funder + " from " + v.Effective.String() + ", share " + itoa(int64(i))
		switch {
		case s.Kind.String() == "kind?":
			return citycard.E(op, citycard.Invalid, "%s: kind %d", where, s.Kind)
		case s.RiderCategory < 0 || s.RiderCategory > AnyCategory:
			return citycard.E(op, citycard.Invalid, "%s: rider category %d: want 0 to 255, or any", where, s.RiderCategory)
		case s.Operator != "" && (len(s.Operator) > registry.PartyIDLenMax || !plain(s.Operator)):
			return citycard.E(op, citycard.Invalid, "%s: operator %q: want a party ID", where, s.Operator)
		case s.Operator == v.Funder:
			return citycard.E(op, citycard.Invalid, "%s: operator %q is the funder: a party compensates no discount to itself", where, s.Operator)
		case s.SharePPM < 0 || s.SharePPM > SharePPMMax:
			return citycard.E(op, citycard.Invalid, "%s: share %d ppm: want 0 to %d", where, s.SharePPM, SharePPMMax)
		}
		for j := range i {
			if o := &v.Shares[j]; o.Kind == s.Kind && o.RiderCategory == s.RiderCategory && o.Operator == s.Operator {
				return citycard.E(op, citycard.Invalid, "%s: kind, rider category and operator given at share %d already", where, j)
			}
		}
	}
	return nil
}

// ConcessionHeader is the first line of a concession file (README.md,
// "Concession files").
const ConcessionHeader = "funder,effective,kind,rider_category,operator,share_ppm"

var concessionColumns = strings.Split(ConcessionHeader, ",")

// DecodeConcessions reads a concession file: ConcessionHeader, then one
// share a line, the shares of one version (funder, effective) on
// consecutive lines in the order they apply; rider_category is a code 0
// to 255 or "*" for any, operator a party ID or "*" for any. Blank lines
// and lines starting with "#" are skipped. Strict as DecodeFees is. Kind
// Invalid naming the file, the line and the field.
func DecodeConcessions(name string, r io.Reader) ([]ConcessionVersion, error) {
	const op = "clearing.DecodeConcessions"
	var out []ConcessionVersion
	seen := map[string]bool{}
	err := readParamFile(op, name, r, ConcessionHeader, func(n int, fields []string, bad badField) error {
		if len(fields) != len(concessionColumns) {
			return bad(-1, "%d fields, want %d (%s)", len(fields), len(concessionColumns), ConcessionHeader)
		}
		funder := fields[0]
		if funder == "" || len(funder) > registry.PartyIDLenMax || !plain(funder) {
			return bad(0, "%q: want a party ID, 1 to %d letters, digits, '_', '-' or '.'", funder, registry.PartyIDLenMax)
		}
		eff, err := ParseDay(fields[1])
		if err != nil {
			return bad(1, "%q: want YYYY-MM-DD", fields[1])
		}
		var s ConcessionShare
		var ok bool
		if s.Kind, ok = parseConcessionKind(fields[2]); !ok {
			return bad(2, "%q: want category or transfer", fields[2])
		}
		if fields[3] == "*" {
			s.RiderCategory = AnyCategory
		} else {
			v, err := feeInt(fields[3], 255)
			if err != nil {
				return bad(3, "%v (or * for any)", err)
			}
			s.RiderCategory = int(v)
		}
		if fields[4] != "*" {
			if fields[4] == "" || len(fields[4]) > registry.PartyIDLenMax || !plain(fields[4]) {
				return bad(4, "%q: want a party ID or * for any", fields[4])
			}
			s.Operator = fields[4]
		}
		if s.SharePPM, err = feeInt(fields[5], SharePPMMax); err != nil {
			return bad(5, "%v", err)
		}
		last := len(out) - 1
		if last >= 0 && out[last].Funder == funder && out[last].Effective == eff {
			out[last].Shares = append(out[last].Shares, s)
		} else {
			key := funder + "\x00" + fields[1]
			if seen[key] {
				return bad(1, "the concessions of %s from %v were given earlier: their shares go on consecutive lines", funder, eff)
			}
			seen[key] = true
			out = append(out, ConcessionVersion{Effective: eff, Funder: funder, Shares: []ConcessionShare{s}})
			last++
		}
		if err := out[last].validate(""); err != nil {
			return bad(-1, "%s", strings.TrimPrefix(err.Error(), ": "))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, citycard.E(op, citycard.Invalid, "%s: no shares", name)
	}
	return out, nil
}

// EncodeConcessions writes versions in the file format DecodeConcessions
// reads.
func EncodeConcessions(w io.Writer, versions []ConcessionVersion) error {
	var b strings.Builder
	b.WriteString(ConcessionHeader + "\n")
	for _, v := range versions {
		for _, s := range v.Shares {
			cat, oper := "*", "*"
			if s.RiderCategory != AnyCategory {
				cat = strconv.Itoa(s.RiderCategory)
			}
			if s.Operator != "" {
				oper = s.Operator
			}
			b.WriteString(v.Funder + "," + v.Effective.String() + "," + s.Kind.String() + "," + cat + "," + oper + "," + strconv.FormatInt(s.SharePPM, 10) + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// badField makes the error of a field of a parameter file's line: col
// its column (-1 for the line).
type badField func(col int, format string, args ...any) error

// readParamFile reads a parameter file of header and comma-separated
// lines, bounded as a fee file is (FeeFileBytesMax, FeeFileLinesMax),
// calling line for each line neither blank nor a comment. Kind Invalid
// naming the file, the line and the field.
func readParamFile(op, name string, r io.Reader, header string, line func(n int, fields []string, bad badField) error) error {
	data, err := io.ReadAll(io.LimitReader(r, FeeFileBytesMax+1))
	if err != nil {
		return citycard.Wrap(op, citycard.IO, err)
	}
	if len(data) > FeeFileBytesMax {
		return citycard.E(op, citycard.Invalid, "%s: more than %d bytes", name, FeeFileBytesMax)
	}
	if !utf8.Valid(data) {
		return citycard.E(op, citycard.Invalid, "%s: not UTF-8", name)
	}
	lines := bytes.Split(data, []byte("\n"))
	if len(lines) > FeeFileLinesMax+1 {
		return citycard.E(op, citycard.Invalid, "%s: more than %d lines", name, FeeFileLinesMax)
	}
	cols := strings.Split(header, ",")
	seenHeader := false
	for i, raw := range lines {
		n := i + 1
		text := string(raw)
		if i == len(lines)-1 && text == "" {
			break
		}
		if strings.HasSuffix(text, "\r") {
			return citycard.E(op, citycard.Invalid, "%s:%d: a carriage return: lines end with LF alone", name, n)
		}
		if len(text) > feeLineBytesMax {
			return citycard.E(op, citycard.Invalid, "%s:%d: %d bytes, at most %d", name, n, len(text), feeLineBytesMax)
		}
		if !seenHeader {
			if text != header {
				return citycard.E(op, citycard.Invalid, "%s:%d: header %q: want %q", name, n, text, header)
			}
			seenHeader = true
			continue
		}
		if text == "" || text[0] == '#' {
			continue
		}
		bad := func(col int, format string, args ...any) error {
			if col < 0 {
				return citycard.E(op, citycard.Invalid, "%s:%d: "+format, append([]any{name, n}, args...)...)
			}
			return citycard.E(op, citycard.Invalid, "%s:%d: field %s: "+format, append([]any{name, n, cols[col]}, args...)...)
		}
		if err := line(n, strings.Split(text, ","), bad); err != nil {
			return err
		}
	}
	if !seenHeader {
		return citycard.E(op, citycard.Invalid, "%s:1: empty: want the header %q", name, header)
	}
	return nil
}

// ConcessionsInForce returns the concession versions in force on day d:
// per funder, its latest effective on or before d; by funder.
func ConcessionsInForce(versions []ConcessionVersion, d Day) []ConcessionVersion {
	return latestInForce(versions, d, func(v *ConcessionVersion) (string, Day) { return v.Funder, v.Effective })
}

// latestInForce returns, per party, the version of xs of the latest
// effective day on or before d, by party.
func latestInForce[T any](xs []T, d Day, key func(*T) (string, Day)) []T {
	best := map[string]int{}
	for i := range xs {
		p, eff := key(&xs[i])
		if eff > d {
			continue
		}
		if j, ok := best[p]; !ok {
			best[p] = i
		} else if _, e := key(&xs[j]); e < eff {
			best[p] = i
		}
	}
	out := make([]T, 0, len(best))
	for _, p := range sortedKeys(best) {
		out = append(out, xs[best[p]])
	}
	return out
}

// ConcessionLine is one compensation claim of a cycle: what Funder owes
// Operator for the discounts of Kind on the records of RiderCategory it
// compensates: Records records whose discounts sum to DiscountFen, of
// which the funder's share, each record's rounded the way the cycle's
// Config.Rounding says, is ClaimFen; what rounding left is
// RemainderMicro, booked with the funder's rounding (RoundingLine).
type ConcessionLine struct {
	Funder         string
	Operator       string
	RiderCategory  uint8
	Kind           string
	Records        int64
	DiscountFen    int64
	ClaimFen       int64
	RemainderMicro int64
}

// concessionKey is what a concession line sums by.
type concessionKey struct {
	funder, operator string
	cat              uint8
	kind             ConcessionKind
}

// funderShare is one funder's share of a discount.
type funderShare struct {
	funder string
	ppm    int64
}

// shareKey is what the funders' shares of a discount depend on.
type shareKey struct {
	kind     ConcessionKind
	cat      uint8
	operator string
}

// shares returns the funders' shares of a discount of k, category cat,
// on operator's terminals: per funder, the first of its shares that
// applies; by funder. Kind Invalid when they sum to more than the whole
// discount.
func (c *Clearer) shares(cache map[shareKey][]funderShare, k ConcessionKind, cat uint8, operator string) ([]funderShare, error) {
	key := shareKey{k, cat, operator}
	if fs, ok := cache[key]; ok {
		return fs, nil
	}
	var fs []funderShare
	var sum int64
	for i := range c.cfg.Concessions {
		v := &c.cfg.Concessions[i]
		if v.Funder == operator {
			continue
		}
		for j := range v.Shares {
			if s := &v.Shares[j]; s.matches(k, cat, operator) {
				if s.SharePPM != 0 {
					fs = append(fs, funderShare{v.Funder, s.SharePPM})
					sum += s.SharePPM
				}
				break
			}
		}
	}
	if sum > SharePPMMax {
		return nil, citycard.E("clearing.Clearer.Clear", citycard.Invalid, "concessions: the shares of %v discounts of rider category %d on %s's terminals sum to %d ppm, more than the whole discount (%d)", k, cat, operator, sum, SharePPMMax)
	}
	slices.SortFunc(fs, func(a, b funderShare) int { return strings.Compare(a.funder, b.funder) })
	cache[key] = fs
	return fs, nil
}

// concessions sums a cycle's compensation claims.
type concessions struct {
	lines  map[concessionKey]*ConcessionLine
	shares map[shareKey][]funderShare
}

// concede claims the concessions of cleared record it: for each kind of
// discount it carries, each funder's share of it, rounded per record.
func (c *Clearer) concede(conc *concessions, it *Item) error {
	for _, k := range [...]ConcessionKind{ConcessionCategory, ConcessionTransfer} {
		var disc int64
		switch k {
		case ConcessionCategory:
			disc = it.CategoryFen
		case ConcessionTransfer:
			if it.Product == 0 {
				disc = max(it.FareFullFen-it.AmountFen, 0)
			}
		}
		if disc <= 0 {
			continue
		}
		fs, err := c.shares(conc.shares, k, it.RiderCategory, it.Operator)
		if err != nil {
			return err
		}
		for _, f := range fs {
			fen, rem := c.cfg.Rounding.round(disc * f.ppm)
			key := concessionKey{f.funder, it.Operator, it.RiderCategory, k}
			l := conc.lines[key]
			if l == nil {
				l = &ConcessionLine{Funder: f.funder, Operator: it.Operator, RiderCategory: it.RiderCategory, Kind: k.String()}
				conc.lines[key] = l
			}
			l.Records++
			l.DiscountFen += disc
			l.ClaimFen += fen
			l.RemainderMicro += rem
		}
	}
	return nil
}

// sorted returns the lines by funder, operator, rider category and kind.
func (conc *concessions) sorted() []ConcessionLine {
	out := make([]ConcessionLine, 0, len(conc.lines))
	for _, l := range conc.lines {
		out = append(out, *l)
	}
	slices.SortFunc(out, func(a, b ConcessionLine) int {
		return cmp.Or(strings.Compare(a.Funder, b.Funder), strings.Compare(a.Operator, b.Operator),
			cmp.Compare(a.RiderCategory, b.RiderCategory), strings.Compare(a.Kind, b.Kind))
	})
	return out
}
