package cms

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
)

// TestDefaultProducts checks the sample against the list: the five
// products, each with its profile and category, Ningbo's 10-yuan deposit
// and 1,000-yuan cap, the citizen card's partner bank, the senior card's
// age, the student card's school, the concessions' annual review.
func TestDefaultProducts(t *testing.T) {
	c := DefaultProducts()
	tests := []struct {
		id       string
		profile  card.Profile
		category string
		reg      Registration
		elig     EligibilityType
		review   bool
	}{
		{"citizen", card.ProfileCitizen, "adult", Registered, Anyone, false},
		{"transit", card.ProfileMOHURD, "adult", Optional, Anyone, false},
		{"mot", card.ProfileMoT, "adult", Optional, Anyone, false},
		{"student", card.ProfileMOHURD, "student", Registered, Student, true},
		{"senior", card.ProfileMOHURD, "senior", Registered, ByAge, true},
	}
	if n := len(c.Products()); n != len(tests) {
		t.Fatalf("%d products, want %d", n, len(tests))
	}
	for _, tt := range tests {
		p, err := c.Product(tt.id)
		if err != nil {
			t.Fatal(err)
		}
		if p.Profile != tt.profile || p.Category.Name != tt.category || p.Registration != tt.reg || p.Eligibility.Type != tt.elig || p.Concession() != tt.review {
			t.Errorf("%s: %+v", tt.id, p)
		}
		if p.DepositFen != 1000 || p.BalanceMaxFen != 100000 {
			t.Errorf("%s: deposit %d fen, cap %d fen; Ningbo's are 10 and 1,000 yuan", tt.id, p.DepositFen, p.BalanceMaxFen)
		}
		if (p.PartnerBank != "") != (tt.profile == card.ProfileCitizen) {
			t.Errorf("%s: partner bank %q", tt.id, p.PartnerBank)
		}
		if p.Concession() && p.CategoryOn(Date{2026, 1, 1}, Date{2027, 1, 1}).Name != "adult" {
			t.Errorf("%s: a lapsed review does not travel at the adult fare", tt.id)
		}
	}
	senior, _ := c.Product("senior")
	if senior.Eligibility.AgeMin != 70 || senior.Category.Code != 2 {
		t.Errorf("senior: age %d, code %d; want 70 and fare_codes.txt's 2", senior.Eligibility.AgeMin, senior.Category.Code)
	}
	citizen, _ := c.Product("citizen")
	want := RefundFee{MinFen: 500, PercentBp: 100, WithinDays: 90, PurchasesMax: 5}
	if citizen.RefundFee != want {
		t.Errorf("citizen refund fee %+v, want %+v", citizen.RefundFee, want)
	}
	if _, err := c.Product("nope"); !citycard.IsKind(err, citycard.NotFound) {
		t.Errorf("unknown product: %v", err)
	}
	if _, err := c.Category("disabled"); err != nil {
		t.Error(err)
	}
	if _, err := c.Category("nope"); !citycard.IsKind(err, citycard.NotFound) {
		t.Errorf("unknown category: %v", err)
	}
}

// minimal is the smallest valid file: one category, one product. Tests
// edit it to break one rule at a time.
const minimal = `[rider_category adult]
code = 0
[rider_category student]
code = 1
[product p]
name = P
profile = mohurd
rider_category = adult
registration = optional
deposit_yuan = 10
issue_fee_yuan = 0
replacement_fee_yuan = 20.00
balance_max_yuan = 1000
load_max_yuan = 500
daily_load_max_yuan = 1000
validity_years = 10
cooling_days = 7
`

// edit returns minimal with old replaced by new (old must occur).
func edit(t *testing.T, old, new string) string {
	t.Helper()
	if !strings.Contains(minimal, old) {
		t.Fatalf("%q is not in the minimal file", old)
	}
	return strings.Replace(minimal, old, new, 1)
}

func TestParseProductsErrors(t *testing.T) {
	big := strings.Repeat("x", valueBytesMax+1)
	tests := []struct {
		name, file string
		line       int
		field      string
	}{
		{"unknown field", minimal + "colour = red\n", 18, "colour"},
		{"repeated field", minimal + "name = Q\n", 18, "name"},
		{"missing field", edit(t, "cooling_days = 7\n", ""), 5, "cooling_days"},
		{"field before a block", "name = x\n" + minimal, 1, "name"},
		{"bad header", "[product]\n" + minimal, 1, ""},
		{"unknown block", "[bus x]\n" + minimal, 1, ""},
		{"repeated product", minimal + "[product p]\n", 18, ""},
		{"bad ID", "[product P Q]\n" + minimal, 1, ""},
		{"no equals", minimal + "cooling\n", 18, ""},
		{"upper-case field", minimal + "Name = x\n", 18, ""},
		{"value too long", minimal + "partner_bank = " + big + "\n", 18, "partner_bank"},
		{"unknown profile", edit(t, "profile = mohurd", "profile = oyster"), 7, "profile"},
		{"unknown category", edit(t, "rider_category = adult", "rider_category = child"), 8, "rider_category"},
		{"repeated code", edit(t, "code = 1", "code = 0"), 4, "code"},
		{"code too big", edit(t, "code = 1", "code = 256"), 4, "code"},
		{"unknown registration", edit(t, "registration = optional", "registration = maybe"), 9, "registration"},
		{"three decimals", edit(t, "deposit_yuan = 10", "deposit_yuan = 10.000"), 10, "deposit_yuan"},
		{"one decimal", edit(t, "deposit_yuan = 10", "deposit_yuan = 10.5"), 10, "deposit_yuan"},
		{"negative", edit(t, "deposit_yuan = 10", "deposit_yuan = -1"), 10, "deposit_yuan"},
		{"float form", edit(t, "deposit_yuan = 10", "deposit_yuan = 1e3"), 10, "deposit_yuan"},
		{"amount over the bound", edit(t, "deposit_yuan = 10", "deposit_yuan = 100000.01"), 10, "deposit_yuan"},
		{"zero cap", edit(t, "balance_max_yuan = 1000", "balance_max_yuan = 0"), 13, "balance_max_yuan"},
		{"cap over the purse", edit(t, "balance_max_yuan = 1000", "balance_max_yuan = 21474836.48"), 13, "balance_max_yuan"},
		{"load over the cap", edit(t, "load_max_yuan = 500", "load_max_yuan = 1000.01"), 14, "load_max_yuan"},
		{"daily under a load", edit(t, "daily_load_max_yuan = 1000", "daily_load_max_yuan = 499.99"), 15, "daily_load_max_yuan"},
		{"zero validity", edit(t, "validity_years = 10", "validity_years = 0"), 16, "validity_years"},
		{"leading zero", edit(t, "validity_years = 10", "validity_years = 010"), 16, "validity_years"},
		{"percent over 100", minimal + "refund_fee_percent = 100.01\n", 18, "refund_fee_percent"},
		{"bank on a transit card", minimal + "partner_bank = icbc\n", 18, "partner_bank"},
		{"citizen without a bank", edit(t, "profile = mohurd", "profile = citizen"), 5, "partner_bank"},
		{"age without eligibility age", minimal + "age_min = 70\n", 18, "age_min"},
		{"eligibility age without age", edit(t, "registration = optional", "registration = registered\neligibility = age"), 5, "age_min"},
		{"age zero", edit(t, "registration = optional", "registration = registered\neligibility = age\nage_min = 0"), 11, "age_min"},
		{"review without a lapse", edit(t, "registration = optional", "registration = registered\nreview_months = 12"), 5, "review_lapse_category"},
		{"lapse without a review", minimal + "review_lapse_category = adult\n", 18, "review_lapse_category"},
		{"grace without a review", minimal + "review_grace_days = 30\n", 18, "review_grace_days"},
		{"lapse to its own category", edit(t, "registration = optional", "registration = registered\nreview_months = 12\nreview_lapse_category = adult"), 11, "review_lapse_category"},
		{"anonymous concession", edit(t, "cooling_days = 7", "cooling_days = 7\neligibility = student"), 9, "registration"},
		{"no product", "[rider_category adult]\ncode = 0\n", 1, ""},
		{"not UTF-8", minimal + "name = \xff\n", 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseProducts("p.conf", []byte(tt.file))
			var fe *FileError
			if !errors.As(err, &fe) || !citycard.IsKind(err, citycard.Invalid) {
				t.Fatalf("err %v: want an Invalid *FileError", err)
			}
			if fe.File != "p.conf" || fe.Line != tt.line || fe.Field != tt.field {
				t.Errorf("%v: want p.conf line %d field %q", err, tt.line, tt.field)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("p.conf:%d: ", tt.line)) {
				t.Errorf("%q does not name the file and line", err)
			}
		})
	}
}

// TestParseProductsBounds takes every bound at its limit: accepted there,
// refused one step past it (the step past is in TestParseProductsErrors).
func TestParseProductsBounds(t *testing.T) {
	file := edit(t, "balance_max_yuan = 1000", "balance_max_yuan = 21474836.47")
	file = strings.Replace(file, "load_max_yuan = 500", "load_max_yuan = 21474836.47", 1)
	file = strings.Replace(file, "daily_load_max_yuan = 1000", "daily_load_max_yuan = 21474836.47", 1)
	file = strings.Replace(file, "deposit_yuan = 10", "deposit_yuan = 100000.00", 1)
	file += "refund_fee_percent = 100.00\ncard_type = 255\n"
	c, err := ParseProducts("p.conf", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := c.Product("p")
	if p.BalanceMaxFen != BalanceMaxFenMax || p.LoadMaxFen != p.BalanceMaxFen || p.DepositFen != AmountFenMax || p.RefundFee.PercentBp != 10000 || p.CardType != 255 {
		t.Errorf("%+v", p)
	}
	// A value of exactly valueBytesMax bytes is taken.
	long := minimal + "[product q]\nname = " + strings.Repeat("n", valueBytesMax) + "\n" + minimal[strings.Index(minimal, "profile"):]
	if c, err := ParseProducts("p.conf", []byte(long)); err != nil || len(c.Products()) != 2 {
		t.Fatalf("a %d-byte name: %v", valueBytesMax, err)
	}
	// ProductsMax products are taken, one more is refused.
	var b strings.Builder
	b.WriteString("[rider_category adult]\ncode = 0\n")
	body := minimal[strings.Index(minimal, "name ="):]
	for i := range ProductsMax + 1 {
		fmt.Fprintf(&b, "[product p%d]\n%s", i, body)
		if i == ProductsMax-1 {
			if c, err := ParseProducts("p.conf", []byte(b.String())); err != nil || len(c.Products()) != ProductsMax {
				t.Fatalf("%d products: %v", ProductsMax, err)
			}
		}
	}
	if _, err := ParseProducts("p.conf", []byte(b.String())); err == nil {
		t.Fatalf("%d products taken", ProductsMax+1)
	}
	huge := make([]byte, ProductsFileBytesMax+1)
	if _, err := ParseProducts("p.conf", huge); err == nil {
		t.Fatal("a file over the size bound taken")
	}
	// CRLF line ends and comments parse as the same file.
	crlf := "# a comment\r\n" + strings.ReplaceAll(minimal, "\n", "\r\n")
	if _, err := ParseProducts("p.conf", []byte(crlf)); err != nil {
		t.Fatal(err)
	}
}

func TestDefaultProductsFile(t *testing.T) {
	b := DefaultProductsFile()
	b[0] = 'X' // a copy: the package's own bytes are untouched
	if DefaultProductsFile()[0] == 'X' {
		t.Fatal("DefaultProductsFile returns the package's own bytes")
	}
}
