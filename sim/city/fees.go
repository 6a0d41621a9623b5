package city

import (
	"context"
	"fmt"
	"strings"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
)

// The clearing fees the city's operators and merchants pay the collector
// for each record it clears of theirs (clearing.FeeSchedule), written as
// a fee schedule file and read by the same decoder as citycard clear fees
// reads: the transport operators a rate on their records (less on ours
// than on other cities' cards), the merchants a rate plus a fixed fee
// with a minimum and a cap, the service points nothing. On the run's
// second day the metro's rate falls (a second version in force from
// then), so that the cycles clear under two versions of one schedule.
// Rates of a few per mille on fares of a few yuan leave remainders of
// fractions of a fen on nearly every record: the cycles round them and
// book what rounding left (positions_sum_to_zero and
// conservation_across_clearing count both), as a real collector's must.
//
// The card types are the city's (network.go: 1 ours, 2 a national
// interconnection card of another city); channels are the terminal types
// of the registry.
const feeRules = `# {{first}}: the schedules from the run's first day
nb-bus,{{first}},ours,,1,,5000,0,0,100
nb-bus,{{first}},national,,2,,6000,0,1,100
nb-metro,{{first}},gates,,,gate,4000,0,1,200
nb-coach,{{first}},all,,,,4500,0,0,0
nb-bike,{{first}},all,,,,3000,0,0,50
nb-parking,{{first}},all,,,,8000,0,1,300
nb-taxi,{{first}},all,,,,6000,0,1,0
m-mart,{{first}},pos,,,pos,6000,2,3,500
m-canteen,{{first}},pos,,,pos,2500,0,0,200
m-bakery,{{first}},pos,,,pos,6000,2,3,500
m-pharmacy,{{first}},pos,,,pos,5500,0,2,800
# {{second}}: the metro lowers its rate, and charges other cities' cards more
nb-metro,{{second}},national,,2,gate,5000,0,1,200
nb-metro,{{second}},gates,,,gate,3500,0,1,200
`

// setFees stores the city's fee schedules before its first cycle. Kinds
// of clearing.DecodeFees and clearing.Cycles.SetFees.
func (c *City) setFees(ctx context.Context) error {
	const op = "city.setFees"
	cs, _, err := c.bo.Clearing(ctx)
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	first := c.cfg.Start.Format("2006-01-02")
	second := c.cfg.Start.AddDate(0, 0, 1).Format("2006-01-02")
	text := strings.NewReplacer("{{first}}", first, "{{second}}", second).Replace(clearing.FeeHeader + "\n" + feeRules)
	vs, err := clearing.DecodeFees("sim-fees.csv", strings.NewReader(text))
	if err != nil {
		return citycard.Wrap(op, citycard.Invalid, err)
	}
	if err := cs.SetFees(ctx, vs, staffRun); err != nil {
		return citycard.Wrap(op, citycard.Other, fmt.Errorf("storing %d fee schedule versions: %w", len(vs), err))
	}
	return nil
}
