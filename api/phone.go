package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/terminal"
)

// The phone routes: the cardholder's own phone, an NFC reader, claims a
// remote top-up on their own card (see cms's package doc, "Loads on the
// cardholder's phone"). Authenticated by the cardholder's self-service
// session, never a terminal's token; the bodies are a kiosk's claim and
// confirmation, the terminal ID the holder's phone's
// (cms.PhoneTerminal), which the server fills in as a terminal route
// does from its path.

// phoneSession reads a session the holder's phone relays (readSession,
// no payment: a claim is paid already) for the path's card: the body's
// card must be the path's (kind Invalid).
func (s *Server) phoneSession(w http.ResponseWriter, r *http.Request, op string, holder int64, confirm bool) (*cms.SelfService, loadRequest, error) {
	ss, issuer, asn, err := s.selfAndPath(r, op)
	if err != nil {
		return nil, loadRequest{}, err
	}
	tid, err := cms.PhoneTerminal(holder)
	if err != nil {
		return nil, loadRequest{}, citycard.Wrap(op, citycard.Other, err)
	}
	q, err := readSession(w, r, tid, confirm, false)
	if err != nil {
		return nil, q, err
	}
	if q.session.Issuer != issuer || q.session.ASN != asn {
		return nil, q, citycard.E(op, citycard.Invalid, "load: the body's card %v/%v is not the path's %v/%v", q.session.Issuer, q.session.ASN, issuer, asn)
	}
	return ss, q, nil
}

// handlePhoneTopUps answers the phone's question at a tap: the top-ups
// it may claim on the holder's own card now, oldest first, as a kiosk
// is told them.
func (s *Server) handlePhoneTopUps(w http.ResponseWriter, r *http.Request, holder int64) {
	l, err := s.selfTopUpList(r, "api.phoneTopUps", holder, (*cms.SelfService).PhoneTopUps)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, kioskTopUpList(l))
}

// kioskTopUpList is a card's claimable top-ups as a kiosk or a phone
// sees them.
func kioskTopUpList(l []cms.TopUp) []kioskTopUpJSON {
	out := make([]kioskTopUpJSON, len(l))
	for i := range l {
		out[i] = kioskTopUpJSON{ID: l[i].ID, AmountFen: l[i].AmountFen, ClaimBy: formatTime(l[i].ClaimBy)}
	}
	return out
}

// handlePhoneClaim is the phone's claim of a top-up on the holder's own
// card with the card's INITIALIZE FOR LOAD answer for its amount: the
// load host's MAC2 (cms.SelfService.PhoneClaim).
func (s *Server) handlePhoneClaim(w http.ResponseWriter, r *http.Request, holder int64) {
	const op = "api.phoneClaim"
	tu, err := s.topUps(op)
	var id string
	if err == nil {
		id, err = topUpPath(r, op)
	}
	var ss *cms.SelfService
	var q loadRequest
	if err == nil {
		ss, q, err = s.phoneSession(w, r, op, holder, false)
	}
	var mac2 [4]byte
	if err == nil {
		mac2, err = ss.PhoneClaim(r.Context(), tu, holder, id, &q.session, q.mac)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.Logger.Info("remote top-up claimed by phone", "holder", holder, "topup", id, "card", q.session.Issuer.String()+"/"+q.session.ASN.String())
	s.reply(w, r, http.StatusOK, loadAnswerJSON{Key: cms.LoadKey(&q.session), MAC2: hexUpper(mac2[:])})
}

// handlePhoneConfirm takes the card's TAC of a claim the holder's phone
// ran (cms.SelfService.PhoneConfirm).
func (s *Server) handlePhoneConfirm(w http.ResponseWriter, r *http.Request, holder int64) {
	const op = "api.phoneConfirm"
	tu, err := s.topUps(op)
	var ss *cms.SelfService
	var q loadRequest
	if err == nil {
		ss, q, err = s.phoneSession(w, r, op, holder, true)
	}
	if err == nil {
		err = ss.PhoneConfirm(r.Context(), tu, holder, &q.session, q.mac)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, loadAnswerJSON{Key: cms.LoadKey(&q.session), Status: cms.LoadConfirmed.String()})
}

// PhoneClient is the cardholder's phone's connection to the host: their
// self-service session (Token, from POST /v1/self/login, and Holder,
// its holder_id) and the card held to the phone's NFC reader. It lists
// the remote top-ups of the holder's own card and claims one on the card
// (Claim), or pays one and claims it at once (PayAndLoad).
type PhoneClient struct {
	BaseURL string
	Token   string
	Holder  int64
	HTTP    *http.Client // nil: http.DefaultClient
	// KeyVersions are the card key versions the phone initializes a
	// load under, newest first (as a terminal's Config.KeyVersions).
	KeyVersions []uint8
	// Now is the phone's clock, the load's date and time; nil: time.Now.
	Now func() time.Time
	// Timeout bounds each request; 0: 10 seconds.
	Timeout time.Duration
}

// request sends method path (below /v1/self/cards/ISSUER/ASN/) as
// LoadClient.request does.
func (c *PhoneClient) request(ctx context.Context, op, method string, issuer citycard.IssuerCode, asn citycard.ASN, path string, body []byte, limit int64, out any) error {
	url := fmt.Sprintf("%s/v1/self/cards/%v/%v/%s", c.BaseURL, issuer, asn, path)
	status, err := sendJSON(ctx, c.HTTP, c.Timeout, op, method, url, c.Token, body, limit, out)
	if err == nil && status != http.StatusOK {
		return citycard.E(op, citycard.IO, "answer: status %d, want 200", status)
	}
	return err
}

// TopUps asks for the remote top-ups the phone may claim on the holder's
// own card now, oldest first. Kinds as the server answered (NotFound:
// not the holder's card; Unauthenticated: the session; IO or
// Unavailable: ask again); an answer that does not decode, or names more
// top-ups than a card may have waiting, is kind IO.
func (c *PhoneClient) TopUps(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) ([]KioskTopUp, error) {
	const op = "api.PhoneClient.TopUps"
	var j []kioskTopUpJSON
	if err := c.request(ctx, op, http.MethodGet, issuer, asn, "topups/claimable", nil, 16<<10, &j); err != nil {
		return nil, err
	}
	return readKioskTopUps(op, j)
}

// Claim claims top-up tu on the card cd held to the phone, for the
// top-up's amount (terminal.PhoneLoad: INITIALIZE FOR LOAD under the
// holder's phone terminal ID, the host's MAC2, CREDIT FOR LOAD, the TAC
// confirmed). A claim whose CREDIT is torn (terminal.ErrCreditUnknown)
// is settled by the card's next session: claim the top-ups listed again.
// Errors: terminal.PhoneLoad's, the server's kinds (NotFound: not the
// holder's card, or no such top-up of it; Conflict: the top-up claimed,
// expired, or the card's state or limits; Crypto: MAC1 or the TAC).
func (c *PhoneClient) Claim(ctx context.Context, cd apdu.Transport, tu KioskTopUp) (terminal.PhoneResult, error) {
	const op = "api.PhoneClient.Claim"
	tid, err := cms.PhoneTerminal(c.Holder)
	if err != nil {
		return terminal.PhoneResult{}, citycard.Wrap(op, citycard.Other, err)
	}
	if tu.AmountFen <= 0 || tu.AmountFen > 1<<32-1 {
		return terminal.PhoneResult{}, citycard.E(op, citycard.Invalid, "top-up %s of %d fen", tu.ID, tu.AmountFen)
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	return terminal.PhoneLoad(cd, tid, c.KeyVersions, now(), uint32(tu.AmountFen), phoneHost{ctx, c, tu.ID})
}

// PayAndLoad pays a remote top-up of amountFen for the holder's own card
// through payer (a third-party payment with its reference, a bank card)
// under idempotency key (the self route's: a retry is the same top-up)
// and claims it at once on the card held to the phone. If the claim
// fails the top-up stays paid, claimable at the next tap (phone, kiosk or
// counter) until its claim time, then refunded to the payer: the money
// is never on a load the card did not take. It returns the top-up's ID
// with the claim's result. Kinds of the payment route, Claim.
func (c *PhoneClient) PayAndLoad(ctx context.Context, cd apdu.Transport, issuer citycard.IssuerCode, asn citycard.ASN, key string, payer cms.Channel, amountFen int64) (string, terminal.PhoneResult, error) {
	const op = "api.PhoneClient.PayAndLoad"
	b, err := json.Marshal(map[string]any{"key": key, "amount_fen": amountFen, "payer": payer.Type.String(), "payer_party": payer.Party, "payer_reference": payer.Reference})
	if err != nil {
		return "", terminal.PhoneResult{}, citycard.E(op, citycard.Invalid, "%w", err)
	}
	var a topUpAnswerJSON
	if err := c.request(ctx, op, http.MethodPost, issuer, asn, "topups", b, 16<<10, &a); err != nil {
		return "", terminal.PhoneResult{}, err
	}
	id, err := cms.ParseTopUpID(a.TopUp.ID)
	if err != nil || a.TopUp.AmountFen != amountFen {
		return "", terminal.PhoneResult{}, citycard.E(op, citycard.IO, "answer: top-up %q of %d fen, paid %d", a.TopUp.ID, a.TopUp.AmountFen, amountFen)
	}
	res, err := c.Claim(ctx, cd, KioskTopUp{ID: id, AmountFen: amountFen})
	return id, res, err
}

// phoneHost is the load host as PhoneClient.Claim reaches it
// (terminal.LoadHost): the claim route for MAC2, the confirm route for
// the TAC.
type phoneHost struct {
	ctx context.Context
	c   *PhoneClient
	id  string
}

func (h phoneHost) post(op, path string, body loadRequestJSON, out *loadAnswerJSON, req terminal.LoadRequest) error {
	b, err := json.Marshal(body)
	if err != nil {
		return citycard.E(op, citycard.Invalid, "%w", err)
	}
	return h.c.request(h.ctx, op, http.MethodPost, req.Issuer, req.ASN, path, b, 4096, out)
}

// AuthorizeLoad implements terminal.LoadHost: the claim's MAC2.
func (h phoneHost) AuthorizeLoad(req terminal.LoadRequest) ([4]byte, error) {
	const op = "api.PhoneClient.Claim"
	id, err := cms.ParseTopUpID(h.id)
	if err != nil {
		return [4]byte{}, citycard.Wrap(op, citycard.Other, err)
	}
	var a loadAnswerJSON
	if err := h.post(op, "topups/"+id+"/claim", loadBody(req, "mac1", req.MAC1), &a, req); err != nil {
		return [4]byte{}, err
	}
	return decodeMAC2(op, a.MAC2)
}

// ConfirmLoad implements terminal.LoadHost: the card's TAC.
func (h phoneHost) ConfirmLoad(req terminal.LoadRequest, tac [4]byte) error {
	var a loadAnswerJSON
	return h.post("api.PhoneClient.Confirm", "loads/confirm", loadBody(req, "tac", tac), &a, req)
}
