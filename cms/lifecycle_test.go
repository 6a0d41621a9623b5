package cms

import (
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
)

// allowed is the state machine as the package doc states it, written out
// again here rather than read from the code: move -> from -> to.
var allowed = map[Move]map[State]State{
	Personalize:   {Applied: Personalized},
	Issue:         {Personalized: Issued},
	Activate:      {Issued: Active},
	ReportLoss:    {Issued: Lost, Active: Lost},
	CancelLoss:    {Lost: Active},
	Replace:       {Lost: Replaced, Damaged: Replaced},
	MoveBalance:   {Replaced: Closed},
	ReportDamaged: {Active: Damaged, Expired: Damaged},
	Expire:        {Issued: Expired, Active: Expired},
	Renew:         {Active: Active, Expired: Active},
	Refund:        {Active: Closed, Lost: Closed, Damaged: Closed, Expired: Closed},
	Void:          {Applied: Closed, Personalized: Closed},
}

var t0 = time.Date(2026, 3, 1, 9, 30, 0, 0, citycard.ChinaTime)

// cardIn returns a registered citizen card in state s whose clock rules
// all pass at t0: expired yesterday, lost long enough ago to be past its
// cooling period.
func cardIn(s State) Card {
	asn, _ := citycard.ParseASN("0123456789ABCDEF")
	issuer, _ := citycard.ParseIssuerCode("31500001FFFFFFFF")
	return Card{Issuer: issuer, ASN: asn, Product: "citizen", Holder: 42, State: s, Version: 7,
		Expiry: Date{2026, 2, 28}, LostAt: t0.AddDate(0, 0, -30), StateBefore: Active}
}

// TestEveryMove tries every move from every state: the allowed ones lead
// where the table says, the others are a Conflict naming the card's
// state and the move, and leave the card as it was.
func TestEveryMove(t *testing.T) {
	p, _ := DefaultProducts().Product("citizen")
	n := 0
	for _, m := range Moves {
		for _, s := range States {
			c := cardIn(s)
			got, err := c.Move(p, m, t0)
			want, ok := allowed[m][s]
			if ok {
				n++
				if err != nil || got.State != want || got.Version != c.Version+1 {
					t.Errorf("%v from %v: %v, %v; want %v", m, s, got.State, err, want)
				}
				if _, again := Next(s, m); !again {
					t.Errorf("Next(%v, %v) says forbidden", s, m)
				}
				continue
			}
			if !citycard.IsKind(err, citycard.Conflict) {
				t.Errorf("%v from %v: %v, want a Conflict", m, s, err)
				continue
			}
			msg := err.Error()
			if !strings.Contains(msg, "is "+s.String()+":") || !strings.Contains(msg, m.String()) || !strings.Contains(msg, c.ASN.String()) {
				t.Errorf("%v from %v: %q does not name the card, its state and the move", m, s, msg)
			}
			if got != c {
				t.Errorf("%v from %v: a refused move changed the card", m, s)
			}
		}
	}
	if n != 21 {
		t.Errorf("%d allowed moves, the table has 21", n)
	}
	if _, ok := Next(Active, Move(0)); ok || Move(99).String() != "move(99)" || State(0).String() != "state(0)" {
		t.Error("an unknown move or state")
	}
	if _, err := cardIn(Active).Move(p, Move(99), t0); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("an unknown move: %v", err)
	}
}

// TestMoveRules checks what Card.Move records and the rules of product and
// clock beside the state, each at its boundary.
func TestMoveRules(t *testing.T) {
	c := DefaultProducts()
	citizen, _ := c.Product("citizen")
	student, _ := c.Product("student")

	// Issue: validity from the day of issue (China time), a concession's
	// first review a year on.
	s := cardIn(Personalized)
	s.Product, s.Expiry, s.LostAt = "student", Date{}, time.Time{}
	issued, err := s.Move(student, Issue, t0)
	if err != nil || !issued.IssuedAt.Equal(t0) || issued.Expiry != (Date{2032, 3, 1}) || issued.ReviewDue != (Date{2027, 3, 1}) {
		t.Fatalf("issue: %+v %v", issued, err)
	}
	// 23:30 UTC on 28 February is 1 March in China: the day of issue is 1 March.
	late := time.Date(2026, 2, 28, 23, 30, 0, 0, time.UTC)
	if got, _ := s.Move(student, Issue, late); got.Expiry != (Date{2032, 3, 1}) {
		t.Errorf("issued at %v: expiry %v", late, got.Expiry)
	}

	// Report loss: the time kept, an anonymous card refused; cancel loss
	// back to where it was.
	lost, err := cardIn(Active).Move(citizen, ReportLoss, t0)
	if err != nil || !lost.LostAt.Equal(t0) {
		t.Fatalf("report loss: %+v %v", lost, err)
	}
	found, err := lost.Move(citizen, CancelLoss, t0.Add(time.Hour))
	if err != nil || found.State != Active || !found.LostAt.IsZero() {
		t.Fatalf("cancel loss: %+v %v", found, err)
	}
	lostIssued, _ := cardIn(Issued).Move(citizen, ReportLoss, t0)
	if back, _ := lostIssued.Move(citizen, CancelLoss, t0); back.State != Issued {
		t.Errorf("a card lost before activation came back %v", back.State)
	}
	anon := cardIn(Active)
	anon.Holder = 0
	if _, err := anon.Move(citizen, ReportLoss, t0); !citycard.IsKind(err, citycard.Conflict) || !strings.Contains(err.Error(), "anonymous") {
		t.Errorf("an anonymous card reported lost: %v", err)
	}
	damaged, err := anon.Move(citizen, ReportDamaged, t0)
	if err != nil || !damaged.LostAt.Equal(t0) {
		t.Errorf("an anonymous card reported damaged: %+v %v", damaged, err)
	}

	// Expire: not on the last day, from the day after.
	a := cardIn(Active)
	a.Expiry = Date{2026, 3, 1}
	if _, err := a.Move(citizen, Expire, t0); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("expired on its last day: %v", err)
	}
	if got, err := a.Move(citizen, Expire, t0.AddDate(0, 0, 1)); err != nil || got.State != Expired {
		t.Errorf("the day after: %v %v", got.State, err)
	}
	// Renew: from the old expiry while it runs, from today once past.
	if got, _ := a.Move(citizen, Renew, t0); got.Expiry != (Date{2036, 3, 1}) {
		t.Errorf("renewed on its last day: %v", got.Expiry)
	}
	e := cardIn(Expired)
	e.Expiry = Date{2020, 1, 1}
	if got, _ := e.Move(citizen, Renew, t0); got.Expiry != (Date{2036, 3, 1}) || got.State != Active {
		t.Errorf("renewed when expired: %v %v", got.Expiry, got.State)
	}

	// Move balance: not a nanosecond before the cooling period ends (7
	// days in products.conf), from its end.
	r := cardIn(Replaced)
	r.LostAt = t0
	ends := t0.Add(7 * 24 * time.Hour)
	if !CoolingEnds(citizen, &r).Equal(ends) {
		t.Fatalf("cooling ends %v", CoolingEnds(citizen, &r))
	}
	if _, err := r.Move(citizen, MoveBalance, ends.Add(-time.Nanosecond)); !citycard.IsKind(err, citycard.Conflict) {
		t.Errorf("moved inside the cooling period: %v", err)
	}
	closed, err := r.Move(citizen, MoveBalance, ends)
	if err != nil || closed.State != Closed || !closed.ClosedAt.Equal(ends) {
		t.Errorf("moved at its end: %+v %v", closed, err)
	}

	// Another product's card.
	if _, err := cardIn(Active).Move(student, Renew, t0); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("a citizen card moved as a student card: %v", err)
	}
}
