package cms

import (
	"errors"
	"strings"
	"testing"

	"github.com/citycard/citycard"
)

// FuzzParseProducts: any input either parses into products that keep every
// rule the decoder promises, or fails with an Invalid *FileError naming a
// line of the input; never a panic.
func FuzzParseProducts(f *testing.F) {
	f.Add(DefaultProductsFile())
	f.Add([]byte(minimal))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseProducts("f.conf", data)
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) || !citycard.IsKind(err, citycard.Invalid) {
				t.Fatalf("%v: not an Invalid *FileError", err)
			}
			if lines := strings.Count(string(data), "\n") + 1; fe.Line < 1 || fe.Line > lines {
				t.Fatalf("%v: line %d of %d", err, fe.Line, lines)
			}
			return
		}
		for _, p := range c.Products() {
			if p.BalanceMaxFen <= 0 || p.BalanceMaxFen > BalanceMaxFenMax || p.LoadMaxFen <= 0 || p.LoadMaxFen > p.BalanceMaxFen || p.DailyLoadMaxFen < p.LoadMaxFen {
				t.Fatalf("%s: limits %d %d %d", p.ID, p.BalanceMaxFen, p.LoadMaxFen, p.DailyLoadMaxFen)
			}
			if p.DepositFen < 0 || p.DepositFen > AmountFenMax || p.RefundFee.PercentBp > 10000 || !p.Profile.Valid() || p.ValidityYears < 1 {
				t.Fatalf("%s: %+v", p.ID, p)
			}
			if p.Concession() && p.Review.LapsedCategory == p.Category || p.Registration != Registered && (p.Concession() || p.Eligibility.Type != Anyone) {
				t.Fatalf("%s: review or eligibility rules broken: %+v", p.ID, p)
			}
			if _, err := c.Category(p.Category.Name); err != nil {
				t.Fatalf("%s: category %q not in the catalog", p.ID, p.Category.Name)
			}
		}
	})
}
