package api

import (
	"context"
	"net/http"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
)

// The remote top-up routes (补登, cms.TopUps): paid by the cardholder in
// the app (their own card only) or by staff for a payment channel or a
// partner bank's counter; offered to the card's next kiosk, which claims
// one with the card's INITIALIZE FOR LOAD answer (the load host's MAC2;
// its TAC goes to the loads/confirm route as any load's); listed,
// refunded and swept by staff.

func (s *Server) topUps(op string) (*cms.TopUps, error) {
	if s.TopUps == nil {
		return nil, citycard.E(op, citycard.Unavailable, "this server takes no remote top-ups")
	}
	return s.TopUps, nil
}

// topUpsAndPath is topUps and cardPath together, for the routes on one
// card.
func (s *Server) topUpsAndPath(r *http.Request, op string) (*cms.TopUps, citycard.IssuerCode, citycard.ASN, error) {
	tu, err := s.topUps(op)
	if err != nil {
		return nil, citycard.IssuerCode{}, citycard.ASN{}, err
	}
	issuer, asn, err := cardPath(r, op)
	return tu, issuer, asn, err
}

// topUpJSON is a remote top-up as staff and its cardholder see it.
type topUpJSON struct {
	ID             string `json:"id"`
	Issuer         string `json:"issuer"`
	ASN            string `json:"asn"`
	AmountFen      int64  `json:"amount_fen"`
	Payer          string `json:"payer"`
	PayerParty     string `json:"payer_party"`
	PayerReference string `json:"payer_reference"`
	PaidBy         string `json:"paid_by"`
	ServicePoint   string `json:"service_point"`
	PaidAt         string `json:"paid_at"`
	ClaimBy        string `json:"claim_by"`
	State          string `json:"state"`
	SettledAt      string `json:"settled_at,omitempty"`
	Claim          string `json:"claim,omitempty"`
}

func newTopUpJSON(t *cms.TopUp) topUpJSON {
	return topUpJSON{ID: t.ID, Issuer: t.Issuer.String(), ASN: t.ASN.String(), AmountFen: t.AmountFen,
		Payer: t.Payer.Type.String(), PayerParty: t.Payer.Party, PayerReference: t.Payer.Reference,
		PaidBy: t.PaidBy.Who, ServicePoint: t.PaidBy.ServicePoint, PaidAt: formatTime(t.PaidAt), ClaimBy: formatTime(t.ClaimBy),
		State: t.State.String(), SettledAt: optTime(t.SettledAt), Claim: t.Claim}
}

func topUpList(l []cms.TopUp) []topUpJSON {
	out := make([]topUpJSON, len(l))
	for i := range l {
		out[i] = newTopUpJSON(&l[i])
	}
	return out
}

// topUpAnswerJSON answers a payment or a refund: the top-up after it, and
// whether it was a retry.
type topUpAnswerJSON struct {
	TopUp    topUpJSON `json:"topup"`
	Replayed bool      `json:"replayed"`
}

// kioskTopUpJSON is a top-up as a kiosk sees it: what it needs to claim
// it, nothing of its payer.
type kioskTopUpJSON struct {
	ID        string `json:"id"`
	AmountFen int64  `json:"amount_fen"`
	ClaimBy   string `json:"claim_by"`
}

// readTopUpPayment reads a payment's body: {"key", "amount_fen",
// "payer", "payer_party", "payer_reference"}. Kind Invalid.
func readTopUpPayment(w http.ResponseWriter, r *http.Request, op string) (string, int64, cms.Channel, error) {
	var key, typ, party, ref string
	var fen int64
	err := readBody(w, r, op, "remote top-up", maxCardBody, append([]field{{"key", readString(&key)}, {"amount_fen", readInt(&fen, 1, cms.AmountFenMax)}},
		channelFields("payer", &typ, &party, &ref)...))
	if err == nil {
		err = checkKey(op, key)
	}
	var payer cms.Channel
	if err == nil {
		payer, err = parseChannel(typ, party, ref)
	}
	return key, fen, payer, citycard.Wrap(op, citycard.Invalid, err)
}

func (s *Server) answerTopUp(w http.ResponseWriter, r *http.Request, what, by string, t cms.TopUp, replayed bool, err error) {
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.Logger.Info(what, "by", by, "topup", t.ID, "card", t.Card(), "amount_fen", t.AmountFen, "replayed", replayed)
	s.reply(w, r, http.StatusOK, topUpAnswerJSON{TopUp: newTopUpJSON(&t), Replayed: replayed})
}

// handleCardTopUp books a remote top-up for a card paid through a
// channel (a payment company's notice, a partner bank's counter).
func (s *Server) handleCardTopUp(w http.ResponseWriter, r *http.Request, by Staff) {
	const op = "api.cardTopUp"
	tu, issuer, asn, err := s.topUpsAndPath(r, op)
	var key string
	var fen int64
	var payer cms.Channel
	if err == nil {
		key, fen, payer, err = readTopUpPayment(w, r, op)
	}
	var t cms.TopUp
	var replayed bool
	if err == nil {
		err = s.mayServeTopUp(r.Context(), by, issuer, asn, &payer)
	}
	if err == nil {
		t, replayed, err = tu.Pay(r.Context(), by.actor(), key, issuer, asn, payer, fen)
	}
	s.answerTopUp(w, r, "remote top-up paid", by.Name, t, replayed, err)
}

// handleCardTopUps lists a card's top-ups, newest first.
func (s *Server) handleCardTopUps(w http.ResponseWriter, r *http.Request, _ Staff) {
	const op = "api.cardTopUps"
	tu, issuer, asn, err := s.topUpsAndPath(r, op)
	var l []cms.TopUp
	if err == nil {
		l, err = tu.Of(r.Context(), issuer, asn)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, topUpList(l))
}

// topUpPath reads the path's {id}: kind Invalid.
func topUpPath(r *http.Request, op string) (string, error) {
	id, err := cms.ParseTopUpID(r.PathValue("id"))
	return id, citycard.Wrap(op, citycard.Invalid, err)
}

func (s *Server) handleTopUpShow(w http.ResponseWriter, r *http.Request, _ Staff) {
	const op = "api.topUpShow"
	tu, err := s.topUps(op)
	var id string
	if err == nil {
		id, err = topUpPath(r, op)
	}
	var t cms.TopUp
	if err == nil {
		t, err = tu.TopUp(r.Context(), id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, newTopUpJSON(&t))
}

// handleTopUpRefund pays a pending top-up back to its payer at their
// request; no body (a top-up has one refund, whoever asks).
func (s *Server) handleTopUpRefund(w http.ResponseWriter, r *http.Request, by Staff) {
	const op = "api.topUpRefund"
	tu, err := s.topUps(op)
	var id string
	if err == nil {
		id, err = topUpPath(r, op)
	}
	var t cms.TopUp
	var replayed bool
	if err == nil && by.PointType == cms.BankBranch { // the refund goes back to the payer's channel
		if t, err = tu.TopUp(r.Context(), id); err == nil {
			err = s.mayServeTopUp(r.Context(), by, t.Issuer, t.ASN, &t.Payer)
		}
	}
	if err == nil {
		t, replayed, err = tu.Refund(r.Context(), by.actor(), id)
	}
	s.answerTopUp(w, r, "remote top-up refunded", by.Name, t, replayed, err)
}

// handleTopUpSweep expires the top-ups past their claim time and
// refunds them to their payers; no body.
func (s *Server) handleTopUpSweep(w http.ResponseWriter, r *http.Request, by Staff) {
	const op = "api.topUpSweep"
	tu, err := s.topUps(op)
	var n int
	if err == nil {
		n, err = tu.Sweep(r.Context(), by.actor())
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.Logger.Info("remote top-ups swept", "by", by.Name, "expired", n)
	s.reply(w, r, http.StatusOK, map[string]int{"expired": n})
}

// handleSelfTopUp pays a remote top-up for the cardholder's own card.
func (s *Server) handleSelfTopUp(w http.ResponseWriter, r *http.Request, holder int64) {
	const op = "api.selfTopUp"
	ss, issuer, asn, err := s.selfAndPath(r, op)
	var tu *cms.TopUps
	if err == nil {
		tu, err = s.topUps(op)
	}
	var key string
	var fen int64
	var payer cms.Channel
	if err == nil {
		key, fen, payer, err = readTopUpPayment(w, r, op)
	}
	var t cms.TopUp
	var replayed bool
	if err == nil {
		t, replayed, err = ss.TopUp(r.Context(), tu, holder, key, issuer, asn, payer, fen)
	}
	s.answerTopUp(w, r, "remote top-up paid by its cardholder", "holder", t, replayed, err)
}

// handleSelfTopUps lists the top-ups of the cardholder's own card.
func (s *Server) handleSelfTopUps(w http.ResponseWriter, r *http.Request, holder int64) {
	l, err := s.selfTopUpList(r, "api.selfTopUps", holder, (*cms.SelfService).TopUps)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, topUpList(l))
}

// selfTopUpList is list (a SelfService method) of the top-ups of the
// path's card for the holder, errors in op's name.
func (s *Server) selfTopUpList(r *http.Request, op string, holder int64,
	list func(*cms.SelfService, context.Context, *cms.TopUps, int64, citycard.IssuerCode, citycard.ASN) ([]cms.TopUp, error)) ([]cms.TopUp, error) {
	ss, issuer, asn, err := s.selfAndPath(r, op)
	var tu *cms.TopUps
	if err == nil {
		tu, err = s.topUps(op)
	}
	if err != nil {
		return nil, err
	}
	return list(ss, r.Context(), tu, holder, issuer, asn)
}

// handleKioskTopUps answers a kiosk's question at a card's tap: the
// top-ups it may claim on the card now, oldest first.
func (s *Server) handleKioskTopUps(w http.ResponseWriter, r *http.Request, _ citycard.TerminalID) {
	const op = "api.kioskTopUps"
	tu, issuer, asn, err := s.topUpsAndPath(r, op)
	var l []cms.TopUp
	if err == nil {
		l, err = tu.Pending(r.Context(), issuer, asn)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, kioskTopUpList(l))
}

// handleTopUpClaim is a kiosk's claim of a top-up with the card's
// INITIALIZE FOR LOAD answer for its amount (the load request's fields
// less the payment's): the load host's MAC2 (cms.TopUps.Claim).
func (s *Server) handleTopUpClaim(w http.ResponseWriter, r *http.Request, tid citycard.TerminalID) {
	const op = "api.topUpClaim"
	tu, err := s.topUps(op)
	var id string
	if err == nil {
		id, err = topUpPath(r, op)
	}
	var q loadRequest
	if err == nil {
		q, err = readSession(w, r, tid, false, false)
	}
	var mac2 [4]byte
	if err == nil {
		mac2, err = tu.Claim(r.Context(), terminalActor(tid), id, &q.session, q.mac)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, loadAnswerJSON{Key: cms.LoadKey(&q.session), MAC2: hexUpper(mac2[:])})
}

// mayServeTopUp tells whether by may take or pay back a top-up of a card
// through payer (Server.mayServe).
func (s *Server) mayServeTopUp(ctx context.Context, by Staff, issuer citycard.IssuerCode, asn citycard.ASN, payer *cms.Channel) error {
	if by.PointType != cms.BankBranch {
		return nil
	}
	m, err := s.cards("api.mayServeTopUp")
	if err == nil {
		_, err = s.mayServe(ctx, by, m, issuer, asn, payer)
	}
	return err
}
