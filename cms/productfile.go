package cms

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
)

// Limits on a products file: it is read whole, so everything is bounded.
const (
	ProductsFileBytesMax = 1 << 20 // the file
	ProductsMax          = 256     // [product] blocks
	CategoriesMax        = 64      // [rider_category] blocks
	valueBytesMax        = 256     // one value
	idBytesMax           = 32      // a product ID, a category name, a bank's party ID
	// AmountFenMax bounds every amount of a product but its balance cap:
	// 100,000 yuan.
	AmountFenMax = 10_000_000
	// BalanceMaxFenMax is the highest balance cap a card can carry (its
	// purse holds a signed 4-byte balance).
	BalanceMaxFenMax = 1<<31 - 1
)

// FileError is one problem of a products file: the file, the line (1 is
// the first) and the field it is in (empty for a problem of the line as a
// whole).
type FileError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

// Error gives "file:line: field: message".
func (e *FileError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
}

//go:embed products.conf
var defaultProducts []byte

// DefaultProducts returns the sample catalog, products.conf in this
// package: Ningbo's five products with a 10-yuan deposit and a 1,000-yuan
// balance cap. It panics if the embedded file does not parse, which a
// test rules out.
func DefaultProducts() *Catalog {
	c, err := ParseProducts("products.conf", defaultProducts)
	if err != nil {
		panic(err)
	}
	return c
}

// DefaultProductsFile returns the bytes of products.conf, the sample, for
// a city to start its own from.
func DefaultProductsFile() []byte { return append([]byte(nil), defaultProducts...) }

// field is one "name = value" line of a block.
type field struct {
	value string
	line  int
	used  bool
}

// block is one [kind id] section and its fields.
type block struct {
	kind, id string
	line     int
	fields   map[string]*field
}

// ParseProducts reads a products file (the format is in the package doc
// and products.conf): [rider_category NAME] and [product ID] blocks of
// "field = value" lines. It is strict: an unknown or repeated field, a
// missing one, a value out of its range or a rule broken between fields
// is an error naming file, line and field (a *FileError, kind Invalid).
// name is the file's name, for the errors.
func ParseProducts(name string, data []byte) (*Catalog, error) {
	const op = "cms.ParseProducts"
	blocks, err := splitBlocks(name, data)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Invalid, err)
	}
	c := &Catalog{products: make(map[string]*Product), categories: make(map[string]RiderCategory)}
	d := decoder{file: name}
	codes := make(map[uint8]string)
	// Categories first: products name them wherever they stand.
	for _, b := range blocks {
		if b.kind != "rider_category" {
			continue
		}
		d.b = b
		rc := RiderCategory{Name: b.id, Code: uint8(d.intField("code", true, 0, 255))}
		if d.err == nil {
			if other, dup := codes[rc.Code]; dup {
				d.fail(b.fields["code"].line, "code", "%d is rider category %q's already", rc.Code, other)
			}
		}
		if d.finish() != nil {
			return nil, citycard.Wrap(op, citycard.Invalid, d.err)
		}
		codes[rc.Code] = rc.Name
		c.categories[rc.Name] = rc
	}
	for _, b := range blocks {
		if b.kind != "product" {
			continue
		}
		d.b = b
		p := d.product(c)
		if d.finish() != nil {
			return nil, citycard.Wrap(op, citycard.Invalid, d.err)
		}
		c.products[p.ID] = p
	}
	if len(c.products) == 0 {
		return nil, citycard.Wrap(op, citycard.Invalid, &FileError{File: name, Line: 1, Msg: "no [product] block"})
	}
	return c, nil
}

// splitBlocks cuts data into blocks, checking the syntax of every line,
// the block kinds, their IDs and their counts, and repeated fields.
func splitBlocks(name string, data []byte) ([]*block, error) {
	errAt := func(line int, field, format string, args ...any) error {
		return &FileError{File: name, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if len(data) > ProductsFileBytesMax {
		return nil, errAt(1, "", "%d bytes, at most %d", len(data), ProductsFileBytesMax)
	}
	if !utf8.Valid(data) {
		return nil, errAt(1, "", "not UTF-8")
	}
	var blocks []*block
	seen := make(map[string]int) // "kind id" -> line
	count := map[string]int{}
	var cur *block
	for i, raw := range strings.Split(string(data), "\n") {
		line := i + 1
		s := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
		if s == "" || s[0] == '#' {
			continue
		}
		if s[0] == '[' {
			if !strings.HasSuffix(s, "]") {
				return nil, errAt(line, "", "a block header is [kind id], have %q", s)
			}
			kind, id, ok := strings.Cut(strings.TrimSpace(s[1:len(s)-1]), " ")
			id = strings.TrimSpace(id)
			if !ok || id == "" {
				return nil, errAt(line, "", "a block header is [kind id], have %q", s)
			}
			if kind != "product" && kind != "rider_category" {
				return nil, errAt(line, "", "block kind %q: want product or rider_category", kind)
			}
			if err := checkID(id); err != nil {
				return nil, errAt(line, "", "%s %q: %v", kind, id, err)
			}
			if first, dup := seen[kind+" "+id]; dup {
				return nil, errAt(line, "", "%s %q is defined already on line %d", kind, id, first)
			}
			seen[kind+" "+id] = line
			count[kind]++
			if count["product"] > ProductsMax || count["rider_category"] > CategoriesMax {
				return nil, errAt(line, "", "more than %d products or %d rider categories", ProductsMax, CategoriesMax)
			}
			cur = &block{kind: kind, id: id, line: line, fields: make(map[string]*field)}
			blocks = append(blocks, cur)
			continue
		}
		key, value, ok := strings.Cut(s, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok || key == "" {
			return nil, errAt(line, "", "want field = value, have %q", s)
		}
		if cur == nil {
			return nil, errAt(line, key, "a field before any [block]")
		}
		for j := 0; j < len(key); j++ {
			if c := key[j]; !('a' <= c && c <= 'z' || c == '_') {
				return nil, errAt(line, "", "field name %q: want a-z and '_'", key)
			}
		}
		if f, dup := cur.fields[key]; dup {
			return nil, errAt(line, key, "given already on line %d", f.line)
		}
		if len(value) > valueBytesMax {
			return nil, errAt(line, key, "%d bytes, at most %d", len(value), valueBytesMax)
		}
		cur.fields[key] = &field{value: value, line: line}
	}
	return blocks, nil
}

// checkID checks a product ID, a category name or a party ID: 1 to 32
// bytes of a-z, 0-9, '-', '_', '.' (upper case too for a party ID, as
// the registry spells an issuer's).
func checkID(id string) error {
	if id == "" || len(id) > idBytesMax {
		return fmt.Errorf("want 1 to %d bytes", idBytesMax)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("byte %q: want letters, digits, '-', '_' or '.'", c)
		}
	}
	return nil
}

// decoder reads the fields of one block, keeping the first error.
type decoder struct {
	file string
	b    *block
	err  error
}

func (d *decoder) fail(line int, fieldName, format string, args ...any) {
	if d.err == nil {
		d.err = &FileError{File: d.file, Line: line, Field: fieldName, Msg: fmt.Sprintf(format, args...)}
	}
}

// get returns the field's value and line; a missing required field is an
// error on the block's header line.
func (d *decoder) get(name string, required bool) (string, int, bool) {
	f, ok := d.b.fields[name]
	if !ok {
		if required {
			d.fail(d.b.line, name, "missing in %s %q", d.b.kind, d.b.id)
		}
		return "", d.b.line, false
	}
	f.used = true
	return f.value, f.line, true
}

// finish reports an unknown field (one no getter asked for), then d.err.
func (d *decoder) finish() error {
	if d.err != nil {
		return d.err
	}
	line, name := 0, ""
	for n, f := range d.b.fields {
		if !f.used && (line == 0 || f.line < line) {
			line, name = f.line, n
		}
	}
	if line != 0 {
		d.fail(line, name, "unknown field of a %s", d.b.kind)
	}
	return d.err
}

func (d *decoder) str(name string, required bool) string {
	v, _, _ := d.get(name, required)
	return v
}

// intField reads a decimal integer in [lo, hi]; def when absent.
func (d *decoder) intField(name string, required bool, def, hi int) int {
	v, line, ok := d.get(name, required)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > hi || v != strconv.Itoa(n) {
		d.fail(line, name, "%q: want a whole number from 0 to %d", v, hi)
		return def
	}
	return n
}

// fen reads an amount in yuan, "12" or "12.30" (two decimals or none),
// exactly, as fen in [0, hi].
func (d *decoder) fen(name string, required bool, hi int64) int64 {
	v, line, ok := d.get(name, required)
	if !ok {
		return 0
	}
	n, ok := parseCents(v)
	if !ok || n > hi {
		d.fail(line, name, "%q: want yuan as 12 or 12.30, at most %s", v, citycard.Yuan(hi))
		return 0
	}
	return n
}

// parseCents parses "digits" or "digits.dd" (at most 12 digits before the
// point) as hundredths.
func parseCents(v string) (int64, bool) {
	whole, frac, dot := strings.Cut(v, ".")
	if whole == "" || len(whole) > 12 || dot && len(frac) != 2 {
		return 0, false
	}
	n := int64(0)
	for _, c := range whole + frac {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if !dot {
		n *= 100
	}
	return n, true
}

// choice reads one of names (index 1 upward, as the enums count); def
// when absent.
func (d *decoder) choice(name string, required bool, def int, names []string) int {
	v, line, ok := d.get(name, required)
	if !ok {
		return def
	}
	for i, n := range names {
		if n != "" && n == v {
			return i
		}
	}
	d.fail(line, name, "%q: want one of %s", v, strings.Join(nonEmpty(names), ", "))
	return def
}

func nonEmpty(l []string) []string {
	var out []string
	for _, s := range l {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (d *decoder) category(c *Catalog, name string, required bool) RiderCategory {
	v, line, ok := d.get(name, required)
	if !ok {
		return RiderCategory{}
	}
	rc, found := c.categories[v]
	if !found {
		d.fail(line, name, "%q: no [rider_category %s] block", v, v)
	}
	return rc
}

// product decodes a [product] block and checks the rules between its
// fields.
func (d *decoder) product(c *Catalog) *Product {
	p := &Product{ID: d.b.id}
	p.Name = d.str("name", true)
	if v, line, ok := d.get("profile", true); ok {
		prof, err := card.ParseProfile(v)
		if err != nil {
			d.fail(line, "profile", "%q: want citizen, mohurd or mot", v)
		}
		p.Profile = prof
	}
	p.CardType = uint8(d.intField("card_type", false, 0, 255))
	p.Category = d.category(c, "rider_category", true)
	p.Registration = Registration(d.choice("registration", true, 0, registrationNames[:]))
	bank, bankLine, hasBank := d.get("partner_bank", false)
	p.PartnerBank = bank
	p.DepositFen = d.fen("deposit_yuan", true, AmountFenMax)
	p.IssueFeeFen = d.fen("issue_fee_yuan", true, AmountFenMax)
	p.ReplacementFeeFen = d.fen("replacement_fee_yuan", true, AmountFenMax)
	p.RefundFee = RefundFee{
		MinFen:         d.fen("refund_fee_min_yuan", false, AmountFenMax),
		PercentBp:      d.fen("refund_fee_percent", false, 100_00),
		WithinDays:     d.intField("refund_fee_within_days", false, 0, 3650),
		PurchasesMax:   d.intField("refund_fee_purchases_max", false, 0, 1_000_000),
		BalanceOverFen: d.fen("refund_fee_balance_over_yuan", false, BalanceMaxFenMax),
	}
	p.BalanceMaxFen = d.fen("balance_max_yuan", true, BalanceMaxFenMax)
	p.LoadMaxFen = d.fen("load_max_yuan", true, BalanceMaxFenMax)
	p.DailyLoadMaxFen = d.fen("daily_load_max_yuan", true, BalanceMaxFenMax)
	p.ValidityYears = d.intField("validity_years", true, 0, 50)
	p.CoolingDays = d.intField("cooling_days", true, 0, 365)
	p.DormantYears = d.intField("dormant_years", false, 0, 50)
	p.TopUpDays = d.intField("topup_days", false, DefaultTopUpDays, 365)
	p.Eligibility.Type = EligibilityType(d.choice("eligibility", false, int(Anyone), eligibilityNames[:]))
	ageMin, ageLine, hasAge := d.get("age_min", false)
	p.Review.EveryMonths = d.intField("review_months", false, 0, 120)
	p.Review.GraceDays = d.intField("review_grace_days", false, 0, 365)
	p.Review.LapsedCategory = d.category(c, "review_lapse_category", false)
	lapse, hasLapse := d.b.fields["review_lapse_category"]
	grace, hasGrace := d.b.fields["review_grace_days"]
	if d.err != nil {
		return p
	}

	// The rules between fields, each on the line of the field that breaks it.
	switch {
	case p.Profile == card.ProfileCitizen && !hasBank:
		d.fail(d.b.line, "partner_bank", "missing: a citizen card is co-branded with a partner bank")
	case p.Profile != card.ProfileCitizen && hasBank:
		d.fail(bankLine, "partner_bank", "only a citizen card (profile citizen) has a partner bank")
	case hasBank && checkID(bank) != nil:
		d.fail(bankLine, "partner_bank", "%q: %v", bank, checkID(bank))
	}
	if p.BalanceMaxFen == 0 {
		d.fail(d.b.fields["balance_max_yuan"].line, "balance_max_yuan", "must be more than 0")
	}
	if p.LoadMaxFen == 0 || p.LoadMaxFen > p.BalanceMaxFen {
		d.fail(d.b.fields["load_max_yuan"].line, "load_max_yuan", "%s: want more than 0 and at most the balance cap %s",
			citycard.Yuan(p.LoadMaxFen), citycard.Yuan(p.BalanceMaxFen))
	}
	if p.DailyLoadMaxFen < p.LoadMaxFen {
		d.fail(d.b.fields["daily_load_max_yuan"].line, "daily_load_max_yuan", "%s: want at least one load's %s",
			citycard.Yuan(p.DailyLoadMaxFen), citycard.Yuan(p.LoadMaxFen))
	}
	if p.ValidityYears == 0 {
		d.fail(d.b.fields["validity_years"].line, "validity_years", "must be at least 1")
	}
	if p.Eligibility.Type == ByAge {
		if !hasAge {
			d.fail(d.b.line, "age_min", "missing: eligibility age needs it")
		} else if n, err := strconv.Atoi(ageMin); err != nil || n < 1 || n > 150 || ageMin != strconv.Itoa(n) {
			d.fail(ageLine, "age_min", "%q: want years from 1 to 150", ageMin)
		} else {
			p.Eligibility.AgeMin = n
		}
	} else if hasAge {
		d.fail(ageLine, "age_min", "only for eligibility age")
	}
	if p.Review.EveryMonths > 0 && !hasLapse {
		d.fail(d.b.line, "review_lapse_category", "missing: a reviewed card needs the category it lapses to")
	}
	if p.Review.EveryMonths == 0 {
		if hasLapse {
			d.fail(lapse.line, "review_lapse_category", "only with review_months")
		} else if hasGrace {
			d.fail(grace.line, "review_grace_days", "only with review_months")
		}
	}
	if hasLapse && p.Review.LapsedCategory == p.Category {
		d.fail(lapse.line, "review_lapse_category", "%q is the product's own category", p.Category.Name)
	}
	if p.Registration != Registered && (p.Eligibility.Type != Anyone || p.Review.EveryMonths > 0) {
		d.fail(d.b.fields["registration"].line, "registration", "%v: a product with an eligibility or a review needs registered cardholders", p.Registration)
	}
	return p
}
