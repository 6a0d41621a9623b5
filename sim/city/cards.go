package city

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/cms"
)

// saleWorkers sell the cards at once, so that card management's group
// commit batches their sales (one writer transaction each otherwise).
const saleWorkers = 32

// counterStaff is the city's counter clerk, where staff sell cards and
// take loss reports (loads go through the terminals' own credentials).
var counterStaff = cms.Actor{Who: "sim-clerk", ServicePoint: "sim-counter"}

// productOf is the card product rider r's card is sold as: the citizen
// card, the MoT card, and on the MOHURD profile the student card, the
// senior card (70 and over: the senior category) or the city transit
// card (every other category, the 60-69 and disabled concessions
// included, as their cards carry the category byte themselves).
func productOf(r *rider) string {
	switch {
	case r.profile == card.ProfileCitizen:
		return "citizen"
	case r.profile == card.ProfileMoT:
		return "mot"
	case r.category == catStudent:
		return "student"
	case r.category == catSenior:
		return "senior"
	}
	return "transit"
}

// holderFor draws rider ri's cardholder from rng: a synthetic name, a
// resident ID number (Ningbo's region code, a date of birth that fits the
// product, a sequence and the GB 11643 check character), a mobile number
// (1390574 and four digits), and for a student a school and the end of
// studies. Deterministic from the seed; it is never printed.
func (c *City) holderFor(rng *rand.Rand, ri int, product string) cms.Cardholder {
	start := cms.Today(c.cfg.Start)
	age := 20 + rng.IntN(40)
	switch product {
	case "senior":
		age = 70 + rng.IntN(20)
	case "student":
		age = 7 + rng.IntN(15)
	}
	// The date of birth and the sequence make the number unique: the
	// sequence is ri's last three digits, the day ri's thousands (under
	// a year apart, so no two riders meet on one day).
	dob := start.AddDate(-age, 0, -1-ri/1000)
	id := fmt.Sprintf("330203%04d%02d%02d%03d", dob.Year, int(dob.Month), dob.Day, ri%1000)
	h := cms.Cardholder{
		Name:        cms.PersonName(surnames[rng.IntN(len(surnames))] + givenNames[rng.IntN(len(givenNames))]),
		DocType:     cms.ResidentID,
		DocNumber:   cms.DocNumber(id + string(residentIDCheck(id))),
		DateOfBirth: dob,
		Phone:       cms.Phone(fmt.Sprintf("1390574%04d", rng.IntN(10_000))), // a prefix of its own, so that a test finds them
	}
	if product == "student" {
		h.School = "宁波市第" + fmt.Sprint(1+rng.IntN(40)) + "中学"
		h.StudiesEnd = start.AddDate(1+rng.IntN(4), 0, 0)
	}
	return h
}

var (
	surnames   = []string{"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "胡", "朱"}
	givenNames = []string{"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "杰", "涛", "明", "超", "秀英"}
)

// residentIDCheck is the check character of a resident ID number's 17
// digits: ISO 7064 MOD 11-2, as GB 11643-1999 weighs them.
func residentIDCheck(digits string) byte {
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(digits[i]-'0') * weights[i]
	}
	return "10X98765432"[sum%11]
}

// sellCards sells every card of our issuer through card management at
// its counter, paid in cash: the registered ones to their cardholders
// (registered first), applied, personalized and sold with their balance
// as the first load and the product's deposit. The anonymous products
// are registered for a third of their cards. The cards are sold
// concurrently, so that the sales share group commits: which holder
// number each cardholder gets and the order of the audit log depend on
// the scheduler, and the report shows neither.
func (c *City) sellCards(ctx context.Context) error {
	const op = "city.sellCards"
	m, _ := c.bo.Cards()
	rng := rngFor(c.cfg.Seed, "cardholders")
	type sale struct {
		ri     int
		holder *cms.Cardholder
	}
	var sales []sale
	for ri, r := range c.riders {
		if r.issuer != 0 {
			continue
		}
		r.product = productOf(r)
		s := sale{ri: ri}
		if reg := rng.IntN(3) == 0; reg || r.product == "citizen" || r.product == "student" || r.product == "senior" {
			h := c.holderFor(rng, ri, r.product)
			s.holder, r.registered = &h, true
		}
		sales = append(sales, s)
	}
	cash := cms.Channel{Type: cms.Cash, Party: Issuer.String()}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan sale)
	)
	sell := func(s sale) error {
		r := c.riders[s.ri]
		var holder int64
		if s.holder != nil {
			h, err := m.Register(ctx, counterStaff, *s.holder)
			if err != nil {
				return err
			}
			holder = h.ID
		}
		if _, err := m.Apply(ctx, counterStaff, Issuer, r.asn, r.product, holder); err != nil {
			return err
		}
		if _, err := m.Move(ctx, counterStaff, Issuer, r.asn, cms.Personalize); err != nil {
			return err
		}
		_, err := m.Sell(ctx, counterStaff, "sim-sale:"+r.asn.String(), Issuer, r.asn, cash, r.startFen)
		return err
	}
	for w := 0; w < saleWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range next {
				if err := sell(s); err != nil {
					mu.Lock()
					if first == nil {
						first = citycard.E(op, citycard.Other, "card %v (%s): %w", c.riders[s.ri].asn, c.riders[s.ri].product, err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, s := range sales {
		next <- s
	}
	close(next)
	wg.Wait()
	c.fig.CardsSold, c.fig.CardsRegistered = 0, 0
	for _, s := range sales {
		c.fig.CardsSold++
		if s.holder != nil {
			c.fig.CardsRegistered++
		}
	}
	return first
}

// loadHost is the terminal's load host: card management's online load
// host over HTTP, the load routes of the terminal's own credentials
// (api.LoadClient), paid in cash at a counter or by bank card at a
// kiosk. It follows restarts of the back office (Link.Loads).
func (c *City) loadHost(d *device) *api.LoadClient {
	if d.kind == devCounter {
		return d.link.Loads(cms.Channel{Type: cms.Cash, Party: Issuer.String()})
	}
	return d.link.Loads(cms.Channel{Type: cms.BankCard, Party: Issuer.String()})
}

// refusalKind is the error kind card management answers a load it
// refuses for the reason the city expected (loadRefusal): the per-load
// limit is a load no card of the product may take (Invalid), the others
// a conflict with the card as it stands (Conflict: its balance cap, its
// day's loads, its state).
func refusalKind(expect string) citycard.Kind {
	if strings.HasSuffix(expect, "_refused_per_load_limit") {
		return citycard.Invalid
	}
	return citycard.Conflict
}

// settleLoads settles the loads whose TAC never came from the cards'
// records, as the back office does now and then.
func (c *City) settleLoads(ctx context.Context) {
	_, h := c.bo.Cards()
	n, err := h.Settle(ctx, counterStaff)
	if err != nil {
		c.violate("settling unconfirmed loads: %v", err)
	}
	c.fig.LoadsSettled += int64(n)
}

// cardBook is what card management owes on card asn by its flows
// (cms.BookBalances): loads - loads reversed - refunds - moved out +
// moved in + loss borne (it books no purchases: acquisition does).
func (c *City) cardBook(ctx context.Context, asn citycard.ASN) (int64, error) {
	flows, err := c.bo.CardFlows(ctx, asn)
	if err != nil {
		return 0, err
	}
	return cms.BookBalances(flows)[asn], nil
}

// planRefunds draws the day's refunds: now and then a rider of ours hands
// the card back at a counter in the evening (about one card in 4,000 a
// day, at least one).
func (c *City) planRefunds(p *planner) {
	rng := rngFor(c.cfg.Seed, "refunds", uint64(p.day))
	for k := 0; k < max(1, c.cfg.Cards/4000); k++ {
		ri := rng.IntN(len(c.riders))
		if c.riders[ri].issuer == 0 {
			p.add(int64(1020+rng.IntN(120))*60, evRefund, 0, int32(ri), -1, 0, 0)
		}
	}
}

// refund refunds rider ri's card at a counter, as its holder hands it
// back: the balance the counter reads on the chip (the card is there)
// and the deposit, less the product's refund fee (the sample's: the card
// was sold at the run's start, within its 90 days), paid in cash; card
// management closes the card, and it taps no more. A lost card is not
// refunded here (its balance waits for the cooling period).
func (c *City) refund(ctx context.Context, ri int32, day int) {
	r := c.riders[ri]
	if r.lostOn >= 0 || r.handedIn() || r.bikeOut {
		return // (a bike out comes back before its card is handed back)
	}
	m, _ := c.bo.Cards()
	// Card management activates a card at its first load; one that has
	// only travelled since its sale is still issued there, and is
	// activated first (a refund is from active).
	if cd, err := m.Card(ctx, Issuer, r.asn); err == nil && cd.State == cms.Issued {
		if _, err := m.Move(ctx, counterStaff, Issuer, r.asn, cms.Activate); err != nil {
			c.violate("card %v: activating it: %v", r.asn, err)
			return
		}
	}
	bal := int64(r.card.State().BalanceFen)
	cash := cms.Channel{Type: cms.Cash, Party: Issuer.String()}
	if _, err := m.Refund(ctx, counterStaff, "sim-refund:"+r.asn.String(), Issuer, r.asn, cash, bal, nil); err != nil {
		c.violate("card %v: refunding it: %v", r.asn, err)
		return
	}
	r.refundedOn, r.refundedFen = day, bal
	c.fig.Refunds++
	c.fig.RefundsFen += bal
}
