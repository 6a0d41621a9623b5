package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/cms"
)

// Limits of card management's requests.
const (
	maxCardBody = 4096
	// DefaultRefundApprovalFen is Server.RefundApprovalFen's default: a
	// refund paying out more than 500 yuan needs a supervisor.
	DefaultRefundApprovalFen = 50000
	keyLenMax                = 128 // an idempotency key
)

// Balances gives what a refund or a balance move needs of a card's
// purse: its balance and its purchases booked (for the fee rule and a
// lost card's cut).
type Balances interface {
	Balance(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) (balanceFen int64, purchases []cms.Purchase, err error)
}

// ShadowBalances gives a card's purse from acquisition: its purchases
// booked, read from the journal (acquire.Acquirer.CardPurchases) and,
// with Elsewhere, those accepted in other cities (the INC records of
// our card: the chip spent them there, and the float paid that city),
// and its balance. A card in use is not there to be read at a refund
// made without it, so its balance is the one its newest record
// reported (the card shadow's), or card management's book less its
// purchases for a card no record of which came in here. The shadow's
// balance does not show a purchase elsewhere after the card's newest
// record here, so for a card with purchases elsewhere it is taken at
// most at the book less every purchase: that is the chip's balance
// once all its records are in, and more while some are still to come,
// so it takes from the holder nothing the chip still holds. A card
// with a cut (lost or damaged, replaced) is reckoned from card
// management's book less its purchases, here and elsewhere
// (cms.Manager.BookPurse), each at its tap's time for the cut: a late
// load record cannot make it look fuller, and the purchases still to
// come are the cooling period's business, or the issuer's
// (SettleLateLosses). Without an acquirer the purchases here are none,
// without Elsewhere those elsewhere. Kinds IO, NotFound (the card).
type ShadowBalances struct {
	Acquirer *acquire.Acquirer
	Cards    *cms.Manager
	// Elsewhere gives the card's purchases in other cities
	// (InteropElsewhere); nil: none.
	Elsewhere Elsewhere
}

// Balance implements Balances.
func (b ShadowBalances) Balance(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) (int64, []cms.Purchase, error) {
	const op = "api.ShadowBalances.Balance"
	c, err := b.Cards.Card(ctx, issuer, asn)
	if err != nil {
		return 0, nil, citycard.Wrap(op, citycard.Other, err)
	}
	card := acquire.Card{Issuer: issuer, ASN: asn}
	here, elsewhere, err := b.purchases(ctx, []acquire.Card{card})
	if err != nil {
		return 0, nil, citycard.Wrap(op, citycard.Other, err)
	}
	purchases := append(here[card], elsewhere[card]...)
	reported, inUse := int64(0), false
	if b.Acquirer != nil && c.LostAt.IsZero() {
		if sh, ok := b.Acquirer.Shadow(issuer, asn); ok && sh.LastCounter >= 0 {
			reported, inUse = sh.ReportedFen, true
		}
	}
	if inUse && len(elsewhere[card]) == 0 {
		return reported, purchases, nil // no book read: the shadow's balance is the chip's
	}
	book, err := b.Cards.BookPurse(ctx, issuer, asn, purchases)
	if err != nil {
		return 0, nil, citycard.Wrap(op, citycard.Other, err)
	}
	if inUse {
		return min(reported, book), purchases, nil
	}
	return book, purchases, nil
}

// Reported is a card's balance as its holder sees it, without the
// journal read of Balance: the balance its newest record reported, or
// card management's book less its purchases elsewhere for a card no
// record of which came in here. Kinds IO, Invalid.
func (b ShadowBalances) Reported(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) (int64, error) {
	const op = "api.ShadowBalances.Reported"
	if b.Acquirer != nil {
		if sh, ok := b.Acquirer.Shadow(issuer, asn); ok && sh.LastCounter >= 0 {
			return sh.ReportedFen, nil
		}
	}
	var elsewhere []cms.Purchase
	if b.Elsewhere != nil {
		var err error
		if elsewhere, err = b.Elsewhere.Purchases(ctx, issuer, asn); err != nil {
			return 0, citycard.Wrap(op, citycard.Other, err)
		}
	}
	book, err := b.Cards.BookPurse(ctx, issuer, asn, elsewhere)
	return book, citycard.Wrap(op, citycard.Other, err)
}

// Purchases returns the purchases of cards (1 to
// acquire.CardPurchasesMax, else kind Invalid): those booked here, read
// from the journal in one pass, in journal order, then those accepted
// elsewhere, by counter; none without an acquirer and Elsewhere. Kinds
// Invalid, IO.
func (b ShadowBalances) Purchases(ctx context.Context, cards []acquire.Card) (map[acquire.Card][]cms.Purchase, error) {
	here, elsewhere, err := b.purchases(ctx, cards)
	if err != nil {
		return nil, err
	}
	for c, ps := range elsewhere {
		here[c] = append(here[c], ps...)
	}
	return here, nil
}

// purchases returns the purchases of cards booked here and those
// accepted elsewhere, apart. Kinds of Purchases.
func (b ShadowBalances) purchases(ctx context.Context, cards []acquire.Card) (here, elsewhere map[acquire.Card][]cms.Purchase, err error) {
	const op = "api.ShadowBalances.Purchases"
	here = make(map[acquire.Card][]cms.Purchase, len(cards))
	elsewhere = make(map[acquire.Card][]cms.Purchase)
	if b.Acquirer == nil && b.Elsewhere == nil {
		return here, elsewhere, nil
	}
	if len(cards) == 0 || len(cards) > acquire.CardPurchasesMax {
		return nil, nil, citycard.E(op, citycard.Invalid, "%d cards: want 1 to %d", len(cards), acquire.CardPurchasesMax)
	}
	if b.Acquirer != nil {
		got, err := b.Acquirer.CardPurchases(ctx, cards...)
		if err != nil {
			return nil, nil, err
		}
		for c, ps := range got {
			list := make([]cms.Purchase, len(ps))
			for i, p := range ps {
				list[i] = cms.Purchase{At: p.At, AmountFen: p.AmountFen}
			}
			here[c] = list
		}
	}
	if b.Elsewhere != nil {
		for _, c := range cards {
			if _, done := elsewhere[c]; done {
				continue // a card named twice
			}
			ps, err := b.Elsewhere.Purchases(ctx, c.Issuer, c.ASN)
			if err != nil {
				return nil, nil, citycard.Wrap(op, citycard.Other, err)
			}
			elsewhere[c] = ps
		}
	}
	return here, elsewhere, nil
}

// SettleLateLosses has the issuer bear what each of cards (closed cards
// with a cut: their balance moved or refunded) was used for beyond its
// book, by its purchases now, here and elsewhere
// (cms.Manager.SettleLateLoss): the old card's records that came after
// its balance was reckoned, from our terminals or in an INC file. Cards
// without a cut or not closed are passed over. It returns the cards that
// had a loss booked and its sum. Kinds of Purchases and SettleLateLoss.
func (b ShadowBalances) SettleLateLosses(ctx context.Context, by cms.Actor, cards []cms.Card) (n int, fen int64, err error) {
	const op = "api.ShadowBalances.SettleLateLosses"
	var refs []acquire.Card
	for _, c := range cards {
		if !c.LostAt.IsZero() && c.State == cms.Closed {
			refs = append(refs, acquire.Card{Issuer: c.Issuer, ASN: c.ASN})
		}
	}
	for len(refs) > 0 {
		page := refs[:min(len(refs), acquire.CardPurchasesMax)]
		refs = refs[len(page):]
		ps, err := b.Purchases(ctx, page)
		if err != nil {
			return n, fen, citycard.Wrap(op, citycard.Other, err)
		}
		for _, c := range page {
			due, err := b.Cards.SettleLateLoss(ctx, by, c.Issuer, c.ASN, ps[c])
			if err != nil {
				return n, fen, citycard.Wrap(op, citycard.Other, err)
			}
			if due > 0 {
				n, fen = n+1, fen+due
			}
		}
	}
	return n, fen, nil
}

func (s *Server) cards(op string) (*cms.Manager, error) {
	if s.Cards == nil {
		return nil, citycard.E(op, citycard.Unavailable, "no card management on this server")
	}
	return s.Cards, nil
}

// cardPath reads the path's {issuer} and {asn}: kind Invalid naming the
// one that does not parse.
func cardPath(r *http.Request, op string) (citycard.IssuerCode, citycard.ASN, error) {
	issuer, err := citycard.ParseIssuerCode(r.PathValue("issuer"))
	if err != nil {
		return issuer, citycard.ASN{}, citycard.Wrap(op, citycard.Invalid, err)
	}
	asn, err := citycard.ParseASN(r.PathValue("asn"))
	return issuer, asn, citycard.Wrap(op, citycard.Invalid, err)
}

// cardsAndPath is cards and cardPath together, for the routes on one card.
func (s *Server) cardsAndPath(r *http.Request, op string) (*cms.Manager, citycard.IssuerCode, citycard.ASN, error) {
	m, err := s.cards(op)
	if err != nil {
		return nil, citycard.IssuerCode{}, citycard.ASN{}, err
	}
	issuer, asn, err := cardPath(r, op)
	return m, issuer, asn, err
}

// cardAnswerJSON is a card as the API shows it. Times are RFC 3339 in
// UTC, dates YYYY-MM-DD; what the card does not have is left out.
type cardAnswerJSON struct {
	Issuer     string `json:"issuer"`
	ASN        string `json:"asn"`
	Product    string `json:"product"`
	HolderID   int64  `json:"holder_id,omitempty"`
	State      string `json:"state"`
	Version    int64  `json:"version"`
	AppliedAt  string `json:"applied_at,omitempty"`
	IssuedAt   string `json:"issued_at,omitempty"`
	LostAt     string `json:"lost_at,omitempty"`
	ClosedAt   string `json:"closed_at,omitempty"`
	Expiry     string `json:"expiry,omitempty"`
	ReviewDue  string `json:"review_due,omitempty"`
	ReplacedBy string `json:"replaced_by,omitempty"`
	Replaces   string `json:"replaces,omitempty"`
	// BookBalanceFen is what card management owes on the card by its
	// flows (GET only).
	BookBalanceFen *int64 `json:"book_balance_fen,omitempty"`
}

// optTime formats t, or "" for none.
func optTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return formatTime(t)
}

func newCardAnswerJSON(c *cms.Card) cardAnswerJSON {
	j := cardAnswerJSON{Issuer: c.Issuer.String(), ASN: c.ASN.String(), Product: c.Product, HolderID: c.Holder, State: c.State.String(), Version: c.Version,
		AppliedAt: optTime(c.AppliedAt),
		IssuedAt:  optTime(c.IssuedAt),
		LostAt:    optTime(c.LostAt),
		ClosedAt:  optTime(c.ClosedAt),
		Expiry:    c.Expiry.String(), ReviewDue: c.ReviewDue.String(),
	}
	if c.ReplacedBy != (citycard.ASN{}) {
		j.ReplacedBy = c.ReplacedBy.String()
	}
	if c.Replaces != (citycard.ASN{}) {
		j.Replaces = c.Replaces.String()
	}
	return j
}

// moneyAnswerJSON answers a money operation: the card after it, and
// whether the key had been booked before (nothing was booked again).
type moneyAnswerJSON struct {
	Card     cardAnswerJSON  `json:"card"`
	NewCard  *cardAnswerJSON `json:"new_card,omitempty"`
	Replayed bool            `json:"replayed"`
}

// handleHolderCreate registers a cardholder: {"name", "doc_type",
// "doc_number", "date_of_birth", "phone", "school", "studies_end"}, all
// required ("" for no phone, school or end of studies). The answer is
// the cardholder masked.
func (s *Server) handleHolderCreate(w http.ResponseWriter, r *http.Request, by Staff) {
	const op = "api.holderCreate"
	m, err := s.cards(op)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var name, docType, doc, born, phone, school, end string
	err = readBody(w, r, op, "cardholder", maxCardBody, []field{
		{"name", readString(&name)}, {"doc_type", readString(&docType)}, {"doc_number", readString(&doc)},
		{"date_of_birth", readString(&born)}, {"phone", readString(&phone)}, {"school", readString(&school)}, {"studies_end", readString(&end)},
	})
	h := cms.Cardholder{Name: cms.PersonName(name), DocNumber: cms.DocNumber(doc), Phone: cms.Phone(phone), School: school}
	if err == nil {
		h.DocType, err = cms.ParseDocType(docType)
	}
	if err == nil {
		h.DateOfBirth, err = cms.ParseDate(born)
	}
	if err == nil && end != "" {
		h.StudiesEnd, err = cms.ParseDate(end)
	}
	if err == nil {
		h, err = m.Register(r.Context(), by.actor(), h)
	}
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Other, err))
		return
	}
	s.Logger.Info("cardholder registered", "by", by.Name, "holder", h)
	s.reply(w, r, http.StatusCreated, h)
}

func (s *Server) handleHolderShow(w http.ResponseWriter, r *http.Request, _ Staff) {
	const op = "api.holderShow"
	m, err := s.cards(op)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		s.fail(w, r, citycard.E(op, citycard.Invalid, "cardholder ID %q: want a number from 1", r.PathValue("id")))
		return
	}
	h, err := m.Holder(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, h)
}

// handleCardApply applies for a card: {"issuer", "asn", "product",
// "holder_id"} (0 for an anonymous card).
func (s *Server) handleCardApply(w http.ResponseWriter, r *http.Request, by Staff) {
	const op = "api.cardApply"
	m, err := s.cards(op)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var issuerS, asnS, product string
	var holder int64
	err = readBody(w, r, op, "application", maxCardBody, []field{
		{"issuer", readString(&issuerS)}, {"asn", readString(&asnS)}, {"product", readString(&product)}, {"holder_id", readInt(&holder, 0, 1<<53)},
	})
	var issuer citycard.IssuerCode
	var asn citycard.ASN
	if err == nil {
		issuer, err = citycard.ParseIssuerCode(issuerS)
	}
	if err == nil {
		asn, err = citycard.ParseASN(asnS)
	}
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Invalid, err))
		return
	}
	p, err := m.Product(product)
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Invalid, err)) // a product of the request, not a resource
		return
	}
	if err := by.member().MayServe(p, nil); err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := m.Apply(r.Context(), by.actor(), issuer, asn, product, holder)
	if citycard.IsKind(err, citycard.NotFound) {
		err = citycard.Wrap(op, citycard.Invalid, err) // the holder named in the body
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.Logger.Info("card applied for", "by", by.Name, "card", c.String(), "product", product)
	s.reply(w, r, http.StatusCreated, newCardAnswerJSON(&c))
}

func (s *Server) handleCardShow(w http.ResponseWriter, r *http.Request, _ Staff) {
	const op = "api.cardShow"
	m, issuer, asn, err := s.cardsAndPath(r, op)
	var c cms.Card
	if err == nil {
		c, err = m.Card(r.Context(), issuer, asn)
	}
	var bal int64
	if err == nil {
		bal, err = m.BookBalance(r.Context(), issuer, asn)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	j := newCardAnswerJSON(&c)
	j.BookBalanceFen = &bal
	s.reply(w, r, http.StatusOK, j)
}

// parseChannel reads a channel's three fields. Kind Invalid.
func parseChannel(typ, party, ref string) (cms.Channel, error) {
	for t := cms.Cash; t <= cms.PartnerBank; t++ {
		if t.String() == typ {
			return cms.Channel{Type: t, Party: party, Reference: ref}, nil
		}
	}
	return cms.Channel{}, citycard.E("api.parseChannel", citycard.Invalid, "channel %q: want cash, bank_card, third_party or partner_bank", typ)
}

// channelFields are the three fields of a channel in a body, under
// prefix ("channel" or "payee").
func channelFields(prefix string, typ, party, ref *string) []field {
	return []field{{prefix, readString(typ)}, {prefix + "_party", readString(party)}, {prefix + "_reference", readString(ref)}}
}

func checkKey(op, key string) error {
	if key == "" || len(key) > keyLenMax {
		return citycard.E(op, citycard.Invalid, "key: want an idempotency key of 1 to %d bytes", keyLenMax)
	}
	return nil
}

// handleCardIssue sells a card: {"key", "channel", "channel_party",
// "channel_reference", "load_fen"}. A card still applied for is
// personalized first (its keys are the key store's business; here the
// move is recorded).
func (s *Server) handleCardIssue(w http.ResponseWriter, r *http.Request, by Staff) {
	const op = "api.cardIssue"
	m, issuer, asn, err := s.cardsAndPath(r, op)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var key, typ, party, ref string
	var loadFen int64
	err = readBody(w, r, op, "issue", maxCardBody, append([]field{{"key", readString(&key)}, {"load_fen", readInt(&loadFen, 0, cms.AmountFenMax)}},
		channelFields("channel", &typ, &party, &ref)...))
	if err == nil {
		err = checkKey(op, key)
	}
	var ch cms.Channel
	if err == nil {
		ch, err = parseChannel(typ, party, ref)
	}
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Invalid, err))
		return
	}
	c, err := s.mayServe(r.Context(), by, m, issuer, asn, &ch)
	if err == nil && c.State == cms.Applied {
		// The sale is tried on the card as personalized before the
		// personalization is recorded, so that a sale refused (a load
		// over the limit, a channel the ledger refuses) changes nothing.
		var p *cms.Product
		if p, err = m.Product(c.Product); err == nil {
			pc := c
			pc.State = cms.Personalized
			_, err = cms.Sale{Key: key, Card: &pc, Product: p, Channel: ch, LoadFen: loadFen}.Book()
		}
		if err == nil {
			_, err = m.Move(r.Context(), by.actor(), issuer, asn, cms.Personalize)
		}
	}
	var replayed bool
	if err == nil {
		replayed, err = m.Sell(r.Context(), by.actor(), key, issuer, asn, ch, loadFen)
	}
	s.answerMoney(w, r, op, by, "card issued", m, issuer, asn, nil, replayed, err)
}

// answerMoney answers a money operation with the card after it (and the
// new card of a replacement), or its error.
func (s *Server) answerMoney(w http.ResponseWriter, r *http.Request, op string, by Staff, what string, m *cms.Manager, issuer citycard.IssuerCode, asn citycard.ASN, nu *citycard.ASN, replayed bool, err error) {
	var c cms.Card
	if err == nil {
		c, err = m.Card(r.Context(), issuer, asn)
	}
	ans := moneyAnswerJSON{Replayed: replayed}
	if err == nil && nu != nil {
		var n cms.Card
		if n, err = m.Card(r.Context(), issuer, *nu); err == nil {
			j := newCardAnswerJSON(&n)
			ans.NewCard = &j
		}
	}
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Other, err))
		return
	}
	ans.Card = newCardAnswerJSON(&c)
	s.Logger.Info(what, "by", by.Name, "card", c.String(), "replayed", replayed)
	s.reply(w, r, http.StatusOK, ans)
}

// handleCardLoss reports a card lost: the loss report's time is its cut
// of liability, and the card goes on the blacklist terminals download.
func (s *Server) handleCardLoss(w http.ResponseWriter, r *http.Request, by Staff) {
	s.cardMove(w, r, by, cms.ReportLoss)
}

// handleCardUnloss cancels a loss report (the card found again before a
// replacement) and takes the card off the blacklist.
func (s *Server) handleCardUnloss(w http.ResponseWriter, r *http.Request, by Staff) {
	s.cardMove(w, r, by, cms.CancelLoss)
}

// handleCardDamaged reports a card damaged, handed back at the counter
// and unreadable: the report's time cuts liability as a loss report's
// does, and once the cooling period is over the card is replaced (its
// balance moved) or refunded from its shadow, its deposit back.
func (s *Server) handleCardDamaged(w http.ResponseWriter, r *http.Request, by Staff) {
	s.cardMove(w, r, by, cms.ReportDamaged)
}

// handleCardActivate activates an issued card at the counter (its first
// load activates it otherwise).
func (s *Server) handleCardActivate(w http.ResponseWriter, r *http.Request, by Staff) {
	s.cardMove(w, r, by, cms.Activate)
}

// handleCardExpire expires a card past its last day of validity (the
// clock does it too: handleCardsExpireDue); before it, 409 naming the
// expiry.
func (s *Server) handleCardExpire(w http.ResponseWriter, r *http.Request, by Staff) {
	s.cardMove(w, r, by, cms.Expire)
}

// handleCardRenew renews an active or expired card: its validity extended
// by the product's validity_years from the later of today and its old
// expiry, the new expiry in the answer. It moves no money.
func (s *Server) handleCardRenew(w http.ResponseWriter, r *http.Request, by Staff) {
	s.cardMove(w, r, by, cms.Renew)
}

// handleCardReview records a concession card's annual review (年审)
// today (cms.Manager.Review): the cardholder checked against the
// product's eligibility again (403 when no longer eligible: the card
// keeps the lapsed category), the new review_due in the answer; a
// product without a review 422, a card neither issued nor active 409.
func (s *Server) handleCardReview(w http.ResponseWriter, r *http.Request, by Staff) {
	s.cardChange(w, r, by, "reviewed", func(ctx context.Context, m *cms.Manager, issuer citycard.IssuerCode, asn citycard.ASN) (cms.Card, error) {
		return m.Review(ctx, by.actor(), issuer, asn)
	})
}

// handleCardsExpireDue runs the clock's expiry at once (serve runs it
// hourly): the cards past their validity expired, at most
// cms.ExpireDueMax a run, more saying another run has some to do.
func (s *Server) handleCardsExpireDue(w http.ResponseWriter, r *http.Request, by Staff) {
	const op = "api.cardsExpireDue"
	m, err := s.cards(op)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	n, more, err := m.ExpireDue(r.Context(), by.actor(), cms.ExpireDueMax)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.Logger.Info("cards expired", "by", by.Name, "cards", n, "more", more)
	s.reply(w, r, http.StatusOK, expireDueJSON{Expired: n, More: more})
}

// expireDueJSON answers a run of the clock's expiry.
type expireDueJSON struct {
	Expired int  `json:"expired"`
	More    bool `json:"more"`
}

// cardMove makes a move that moves no money. A loss report (and its
// cancelling) lists (delists) the card on the blacklist terminals
// download: card management does that itself (cms.Manager.WithBlacklist),
// so that every channel of the move does it once.
func (s *Server) cardMove(w http.ResponseWriter, r *http.Request, by Staff, mv cms.Move) {
	s.cardChange(w, r, by, mv.String(), func(ctx context.Context, m *cms.Manager, issuer citycard.IssuerCode, asn citycard.ASN) (cms.Card, error) {
		return m.Move(ctx, by.actor(), issuer, asn, mv)
	})
}

// cardChange makes a change of one card that moves no money (a move, a
// review) and answers the card after it; a bank branch's staff only on a
// card they may serve.
func (s *Server) cardChange(w http.ResponseWriter, r *http.Request, by Staff, what string, change func(context.Context, *cms.Manager, citycard.IssuerCode, citycard.ASN) (cms.Card, error)) {
	const op = "api.cardChange"
	m, issuer, asn, err := s.cardsAndPath(r, op)
	var c cms.Card
	if err == nil && by.PointType == cms.BankBranch {
		_, err = s.mayServe(r.Context(), by, m, issuer, asn, nil)
	}
	if err == nil {
		c, err = change(r.Context(), m, issuer, asn)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.Logger.Info("card "+what, "by", by.Name, "card", c.String())
	s.reply(w, r, http.StatusOK, newCardAnswerJSON(&c))
}

// handleCardReplace replaces a lost or damaged card: {"key", "new_asn",
// "channel", "channel_party", "channel_reference"} (the replacement fee's
// payment).
func (s *Server) handleCardReplace(w http.ResponseWriter, r *http.Request, by Staff) {
	const op = "api.cardReplace"
	m, issuer, asn, err := s.cardsAndPath(r, op)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var key, newS, typ, party, ref string
	err = readBody(w, r, op, "replacement", maxCardBody, append([]field{{"key", readString(&key)}, {"new_asn", readString(&newS)}},
		channelFields("channel", &typ, &party, &ref)...))
	if err == nil {
		err = checkKey(op, key)
	}
	var nu citycard.ASN
	if err == nil {
		nu, err = citycard.ParseASN(newS)
	}
	var ch cms.Channel
	if err == nil {
		ch, err = parseChannel(typ, party, ref)
	}
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Invalid, err))
		return
	}
	if by.PointType == cms.BankBranch {
		_, err = s.mayServe(r.Context(), by, m, issuer, asn, &ch)
	}
	var replayed bool
	if err == nil {
		replayed, err = m.Replace(r.Context(), by.actor(), key, issuer, asn, nu, ch)
	}
	s.answerMoney(w, r, op, by, "card replaced", m, issuer, asn, &nu, replayed, err)
}

// handleCardMoveBalance moves a replaced card's balance as of its cut
// onto its replacement once the cooling period is over: {"key"}. The
// balance and the purchases are acquisition's (Balances); the old
// card's use after the cut is borne by the issuer. A retry of a move made
// answers replayed: the old card, closed, is not reckoned again.
func (s *Server) handleCardMoveBalance(w http.ResponseWriter, r *http.Request, by Staff) {
	const op = "api.cardMoveBalance"
	m, issuer, asn, err := s.cardsAndPath(r, op)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var key string
	err = readBody(w, r, op, "balance move", maxCardBody, []field{{"key", readString(&key)}})
	if err == nil {
		err = checkKey(op, key)
	}
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Invalid, err))
		return
	}
	c, err := s.mayServe(r.Context(), by, m, issuer, asn, nil)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	nu := c.ReplacedBy
	replayed, err := m.MoveBalanceReplay(r.Context(), key, issuer, asn)
	if err == nil && !replayed {
		var bal int64
		var purchases []cms.Purchase
		bal, purchases, err = s.balances(m).Balance(r.Context(), issuer, asn)
		if err == nil {
			replayed, err = m.MoveBalance(r.Context(), by.actor(), key, issuer, asn, bal, purchases)
		}
	}
	s.answerMoney(w, r, op, by, "balance moved", m, issuer, asn, &nu, replayed, err)
}

// mayServe reads a card and tells whether by may act on it with money
// through ch (nil: none): cms.StaffMember.MayServe on the card's
// product. Kinds Permission, NotFound, IO.
func (s *Server) mayServe(ctx context.Context, by Staff, m *cms.Manager, issuer citycard.IssuerCode, asn citycard.ASN, ch *cms.Channel) (cms.Card, error) {
	c, err := m.Card(ctx, issuer, asn)
	if err != nil || by.PointType != cms.BankBranch {
		return c, err
	}
	p, err := m.Product(c.Product)
	if err != nil {
		return c, err
	}
	return c, by.member().MayServe(p, ch)
}

// balances returns the server's Balances, ShadowBalances by default.
func (s *Server) balances(m *cms.Manager) Balances {
	if s.Balances != nil {
		return s.Balances
	}
	b := s.ShadowBalances()
	b.Cards = m
	return b
}

// refundRequest is a refund's body less its approval_id: what an
// approval is given for, compared byte for byte as JSON.
type refundRequest struct {
	Key            string `json:"key"`
	Payee          string `json:"payee"`
	PayeeParty     string `json:"payee_party"`
	PayeeReference string `json:"payee_reference"`
}

// refundAnswerJSON answers a refund: done (the card after it) or waiting
// for a supervisor (the approval asked for).
type refundAnswerJSON struct {
	moneyAnswerJSON
	Quote    refundQuoteJSON `json:"quote"`
	Approval *approvalJSON   `json:"approval,omitempty"`
}

type refundQuoteJSON struct {
	BalanceFen     int64  `json:"balance_fen"`
	DepositFen     int64  `json:"deposit_fen"`
	DepositKeptFen int64  `json:"deposit_kept_fen"`
	FeeFen         int64  `json:"fee_fen"`
	PaidFen        int64  `json:"paid_fen"`
	FeeRule        string `json:"fee_rule,omitempty"`
}

// handleCardRefund refunds and closes a card: {"key", "payee",
// "payee_party", "payee_reference", "approval_id"}. A refund paying out
// more than RefundApprovalFen needs a supervisor's approval: asked with
// approval_id 0, it is answered 202 with an approval request and nothing
// moved; a supervisor other than the requester approves it (POST
// /v1/approvals/{id}/approve); the requester then sends the same request
// with the approval's ID. A retry of a refund that went through (the card
// closed, its key booked with the same request) answers replayed, the
// card and the quote the refund booked (cms.Manager.RefundReplay), however
// late records have moved the card's book since; the key sent with
// another card or payee is refused 409, naming it.
func (s *Server) handleCardRefund(w http.ResponseWriter, r *http.Request, by Staff) {
	const op = "api.cardRefund"
	m, issuer, asn, err := s.cardsAndPath(r, op)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var q refundRequest
	var approvalID int64
	err = readBody(w, r, op, "refund", maxCardBody, append([]field{{"key", readString(&q.Key)}, {"approval_id", readInt(&approvalID, 0, 1<<53)}},
		channelFields("payee", &q.Payee, &q.PayeeParty, &q.PayeeReference)...))
	if err == nil {
		err = checkKey(op, q.Key)
	}
	var payee cms.Channel
	if err == nil {
		payee, err = parseChannel(q.Payee, q.PayeeParty, q.PayeeReference)
	}
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Invalid, err))
		return
	}
	c, err := s.mayServe(r.Context(), by, m, issuer, asn, &payee)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	quote, replayed, err := m.RefundReplay(r.Context(), q.Key, issuer, asn, payee)
	var bal int64
	var purchases []cms.Purchase
	if err == nil && !replayed {
		bal, purchases, err = s.balances(m).Balance(r.Context(), issuer, asn)
		if err == nil {
			quote, err = m.QuoteRefund(&c, bal, purchases)
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ans := refundAnswerJSON{Quote: refundQuoteJSON{BalanceFen: quote.BalanceFen, DepositFen: quote.DepositFen, DepositKeptFen: quote.DepositKeptFen,
		FeeFen: quote.FeeFen, PaidFen: quote.PaidFen, FeeRule: quote.FeeRule}}
	limit := s.RefundApprovalFen
	if limit <= 0 {
		limit = DefaultRefundApprovalFen
	}
	if replayed {
		ans.Card, ans.Replayed = newCardAnswerJSON(&c), true
		s.Logger.Info("card refunded", "by", by.Name, "card", c.String(), "paid_fen", quote.PaidFen, "approval", approvalID, "replayed", true)
		s.reply(w, r, http.StatusOK, ans)
		return
	}
	if quote.PaidFen > limit || approvalID != 0 {
		st, err := s.staffing(op)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		req, _ := json.Marshal(q) // four strings: it cannot fail
		a, err := st.GateRefund(r.Context(), by.member(), "card:"+c.String(), string(req), quote.PaidFen, limit, approvalID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if a != nil {
			j := newApprovalJSON(a)
			ans.Approval, ans.Card = &j, newCardAnswerJSON(&c)
			s.Logger.Info("refund waits for approval", "by", by.Name, "card", c.String(), "approval", a.ID, "paid_fen", quote.PaidFen)
			s.reply(w, r, http.StatusAccepted, ans)
			return
		}
	}
	replayed, err = m.Refund(r.Context(), by.actor(), q.Key, issuer, asn, payee, bal, purchases)
	if err == nil {
		c, err = m.Card(r.Context(), issuer, asn)
	}
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Other, err))
		return
	}
	ans.Card, ans.Replayed = newCardAnswerJSON(&c), replayed
	s.Logger.Info("card refunded", "by", by.Name, "card", c.String(), "paid_fen", quote.PaidFen, "approval", approvalID, "replayed", replayed)
	s.reply(w, r, http.StatusOK, ans)
}
