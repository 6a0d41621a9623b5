package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
)

// StaffClient is a member of staff's connection to the API (a service
// point's clerk, a supervisor): the card management and remote top-up
// routes over HTTP under the staff token, each request through the
// clients' shared sendJSON. The server decides what the token's role may
// do (kind Permission otherwise).
type StaffClient struct {
	BaseURL string
	Token   string
	HTTP    *http.Client // nil: http.DefaultClient
	// Timeout bounds each request; 0: 10 seconds.
	Timeout time.Duration
}

// staffAnswerMax bounds an answer the client reads: a top-up's, a
// refund's (a few hundred bytes).
const staffAnswerMax = 16 << 10

func (c *StaffClient) send(ctx context.Context, op, method, path string, body any, out any) (int, error) {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return 0, citycard.E(op, citycard.Invalid, "%w", err)
		}
	}
	return sendJSON(ctx, c.HTTP, c.Timeout, op, method, c.BaseURL+path, c.Token, b, staffAnswerMax, out)
}

// PayTopUp books a remote top-up (补登) of amountFen for a card, paid
// through payer (bank card, third party with its reference, a partner
// bank), under idempotency key: POST /v1/cards/{issuer}/{asn}/topups. It
// returns the top-up (pending) and whether the key was booked before (a
// retry: the same top-up, replayed). Kinds as the server answered
// (Invalid, NotFound, Conflict: cms.TopUps.Pay's; IO or Unavailable:
// nothing known, retry the same key); an answer that does not decode is
// kind IO.
func (c *StaffClient) PayTopUp(ctx context.Context, key string, issuer citycard.IssuerCode, asn citycard.ASN, payer cms.Channel, amountFen int64) (cms.TopUp, bool, error) {
	const op = "api.StaffClient.PayTopUp"
	body := map[string]any{"key": key, "amount_fen": amountFen, "payer": payer.Type.String(), "payer_party": payer.Party, "payer_reference": payer.Reference}
	var a topUpAnswerJSON
	if _, err := c.send(ctx, op, http.MethodPost, fmt.Sprintf("/v1/cards/%v/%v/topups", issuer, asn), body, &a); err != nil {
		return cms.TopUp{}, false, err
	}
	t, err := a.TopUp.topUp(op)
	return t, a.Replayed, err
}

// TopUp reads a top-up: GET /v1/topups/{id}. Kinds as the server
// answered (Invalid: the ID; NotFound), IO.
func (c *StaffClient) TopUp(ctx context.Context, id string) (cms.TopUp, error) {
	const op = "api.StaffClient.TopUp"
	id, err := cms.ParseTopUpID(id)
	if err != nil {
		return cms.TopUp{}, citycard.Wrap(op, citycard.Invalid, err)
	}
	var j topUpJSON
	if _, err := c.send(ctx, op, http.MethodGet, "/v1/topups/"+id, nil, &j); err != nil {
		return cms.TopUp{}, err
	}
	return j.topUp(op)
}

// SweepTopUps expires the top-ups past their claim time and refunds them
// to their payers (a supervisor's): POST /v1/topups/sweep. It returns how
// many it expired. Kinds as the server answered (Permission below a
// supervisor), IO.
func (c *StaffClient) SweepTopUps(ctx context.Context) (int, error) {
	const op = "api.StaffClient.SweepTopUps"
	var a struct {
		Expired *int `json:"expired"`
	}
	if _, err := c.send(ctx, op, http.MethodPost, "/v1/topups/sweep", nil, &a); err != nil {
		return 0, err
	}
	if a.Expired == nil || *a.Expired < 0 {
		return 0, citycard.E(op, citycard.IO, "answer: no expired count")
	}
	return *a.Expired, nil
}

// RefundCard refunds and closes a card, paid out through payee, under
// idempotency key: POST /v1/cards/{issuer}/{asn}/refund, with
// approvalID (0 for none yet). It returns the refund's quote and whether
// it was a retry of a refund made (replayed); a refund paying out more
// than the server's approval limit is not made but waits for a
// supervisor: the quote and the approval's ID (non-zero), to send again
// once approved. Kinds as the server answered (Conflict: the card's
// state, the cooling period; Insufficient: overdrawn past its deposit;
// IO or Unavailable: nothing known, retry the same key), IO for an
// answer that does not decode.
func (c *StaffClient) RefundCard(ctx context.Context, key string, issuer citycard.IssuerCode, asn citycard.ASN, payee cms.Channel, approvalID int64) (q cms.RefundQuote, replayed bool, waiting int64, err error) {
	const op = "api.StaffClient.RefundCard"
	body := refundClientBody{refundRequest: refundRequest{Key: key, Payee: payee.Type.String(), PayeeParty: payee.Party, PayeeReference: payee.Reference}, ApprovalID: approvalID}
	var a refundAnswerJSON
	status, err := c.send(ctx, op, http.MethodPost, fmt.Sprintf("/v1/cards/%v/%v/refund", issuer, asn), body, &a)
	if err != nil {
		return cms.RefundQuote{}, false, 0, err
	}
	j := a.Quote
	q = cms.RefundQuote{BalanceFen: j.BalanceFen, DepositFen: j.DepositFen, DepositKeptFen: j.DepositKeptFen, FeeFen: j.FeeFen, PaidFen: j.PaidFen, FeeRule: j.FeeRule}
	switch {
	case status == http.StatusAccepted && a.Approval != nil && a.Approval.ID > 0:
		return q, false, a.Approval.ID, nil
	case status != http.StatusOK:
		return cms.RefundQuote{}, false, 0, citycard.E(op, citycard.IO, "answer: status %d without an approval", status)
	case a.Card.State != cms.Closed.String():
		return cms.RefundQuote{}, false, 0, citycard.E(op, citycard.IO, "answer: the card refunded is %q, not closed", a.Card.State)
	}
	return q, a.Replayed, 0, nil
}

// Approve approves approval id, as a supervisor who is not its
// requester: POST /v1/approvals/{id}/approve. It returns the approval
// as decided (approved, DecidedBy the caller); the requester then sends
// its request again naming it (RefundCard, AdjustCard). Kinds as the
// server answered (Permission: below a supervisor, or the requester;
// Conflict: decided already; NotFound), IO for an answer that does not
// decode.
func (c *StaffClient) Approve(ctx context.Context, id int64) (cms.Approval, error) {
	const op = "api.StaffClient.Approve"
	var j approvalJSON
	if _, err := c.send(ctx, op, http.MethodPost, fmt.Sprintf("/v1/approvals/%d/approve", id), nil, &j); err != nil {
		return cms.Approval{}, err
	}
	st, err := cms.ParseApprovalState(j.State)
	if err != nil || j.ID != id {
		return cms.Approval{}, citycard.E(op, citycard.IO, "answer: approval %d in state %q, asked to approve %d", j.ID, j.State, id)
	}
	return cms.Approval{ID: j.ID, Action: j.Action, Subject: j.Subject, AmountFen: j.AmountFen, RequestedBy: j.RequestedBy, State: st, DecidedBy: j.DecidedBy}, nil
}

// AdjustCard asks for a manual adjustment of a card's money, or makes
// it: POST /v1/cards/{issuer}/{asn}/adjustments with q and approvalID.
// Asked with approvalID 0, nothing moves: the answer is the adjustment
// waiting (its ApprovalID a supervisor approves, then this again naming
// it); naming an approval that grants q, it is made (Made; TopUp for a
// credit of a card in use, a remote top-up) and replayed says it was a
// retry of one made. Kinds as the server answered (Conflict: the card's
// state, a credit past the balance cap, a key booked already;
// Insufficient: a debit past what the card is owed; Permission: an
// approval that does not grant q; Invalid), IO for an answer that does
// not decode.
func (c *StaffClient) AdjustCard(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, q cms.AdjustRequest, approvalID int64) (a AdjustmentJSON, replayed bool, err error) {
	const op = "api.StaffClient.AdjustCard"
	body := map[string]any{"key": q.Key, "direction": q.Direction.String(), "amount_fen": q.AmountFen, "reason": q.Reason, "approval_id": approvalID}
	var ans adjustAnswerJSON
	status, err := c.send(ctx, op, http.MethodPost, fmt.Sprintf("/v1/cards/%v/%v/adjustments", issuer, asn), body, &ans)
	if err != nil {
		return AdjustmentJSON{}, false, err
	}
	switch got := ans.Adjustment; {
	case got.ApprovalID <= 0 || got.Key != q.Key || got.AmountFen != q.AmountFen || got.Direction != q.Direction.String():
		return AdjustmentJSON{}, false, citycard.E(op, citycard.IO, "answer: adjustment %+v, asked %+v", got, q)
	case status == http.StatusAccepted && !got.Made, status == http.StatusCreated && got.Made:
		return got, ans.Replayed, nil
	}
	return AdjustmentJSON{}, false, citycard.E(op, citycard.IO, "answer: status %d, made %v", status, ans.Adjustment.Made)
}

// refundClientBody is a refund's request as the client writes it.
type refundClientBody struct {
	refundRequest
	ApprovalID int64 `json:"approval_id"`
}

// topUp reads a top-up the server wrote. Kind IO for a field the server
// never writes.
func (j *topUpJSON) topUp(op string) (cms.TopUp, error) {
	bad := func(field, v string) error {
		return citycard.E(op, citycard.IO, "answer: top-up %q: %s %q", j.ID, field, v)
	}
	t := cms.TopUp{AmountFen: j.AmountFen, PaidBy: cms.Actor{Who: j.PaidBy, ServicePoint: j.ServicePoint}, Claim: j.Claim}
	var err error
	if t.ID, err = cms.ParseTopUpID(j.ID); err != nil {
		return cms.TopUp{}, bad("id", j.ID)
	}
	if t.Issuer, err = citycard.ParseIssuerCode(j.Issuer); err != nil {
		return cms.TopUp{}, bad("issuer", j.Issuer)
	}
	if t.ASN, err = citycard.ParseASN(j.ASN); err != nil {
		return cms.TopUp{}, bad("asn", j.ASN)
	}
	if j.Payer == cms.AdjustmentPay.String() { // a manual adjustment's: the issuer's adjustment account
		t.Payer = cms.Channel{Type: cms.AdjustmentPay, Party: j.PayerParty, Reference: j.PayerReference}
	} else if t.Payer, err = parseChannel(j.Payer, j.PayerParty, j.PayerReference); err != nil {
		return cms.TopUp{}, bad("payer", j.Payer)
	}
	if t.State, err = cms.ParseTopUpState(j.State); err != nil {
		return cms.TopUp{}, bad("state", j.State)
	}
	for _, f := range []struct {
		name, v string
		to      *time.Time
	}{{"paid_at", j.PaidAt, &t.PaidAt}, {"claim_by", j.ClaimBy, &t.ClaimBy}, {"settled_at", j.SettledAt, &t.SettledAt}} {
		if f.v == "" {
			continue
		}
		if *f.to, err = time.Parse(time.RFC3339Nano, f.v); err != nil {
			return cms.TopUp{}, bad(f.name, f.v)
		}
	}
	if t.AmountFen <= 0 {
		return cms.TopUp{}, bad("amount_fen", fmt.Sprint(j.AmountFen))
	}
	return t, nil
}

// cardMoveRoutes are the routes of the card moves StaffClient.MoveCard
// makes: POST /v1/cards/{issuer}/{asn}/ROUTE.
var cardMoveRoutes = map[cms.Move]string{cms.Activate: "activate", cms.ReportLoss: "loss", cms.CancelLoss: "unloss", cms.ReportDamaged: "damaged"}

// MoveCard makes move mv of a card at the counter: activate it, report
// it lost (its cut, the blacklist), cancel the loss, or report it
// damaged (its cut). It returns the card's state after it and its cut
// (zero without one). Kinds as the server answered (Conflict: a move
// its state does not allow; NotFound; Permission), Invalid for a move
// no route makes, IO for an answer that does not decode.
func (c *StaffClient) MoveCard(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, mv cms.Move) (cms.State, time.Time, error) {
	const op = "api.StaffClient.MoveCard"
	route, ok := cardMoveRoutes[mv]
	if !ok {
		return 0, time.Time{}, citycard.E(op, citycard.Invalid, "move %v: no route makes it", mv)
	}
	var j cardAnswerJSON
	if _, err := c.send(ctx, op, http.MethodPost, fmt.Sprintf("/v1/cards/%v/%v/%s", issuer, asn, route), nil, &j); err != nil {
		return 0, time.Time{}, err
	}
	st, err := cms.ParseState(j.State)
	if err != nil || j.ASN != asn.String() {
		return 0, time.Time{}, citycard.E(op, citycard.IO, "answer: card %q in state %q, asked to move %v", j.ASN, j.State, asn)
	}
	var cut time.Time
	if j.LostAt != "" {
		if cut, err = time.Parse(time.RFC3339, j.LostAt); err != nil {
			return 0, time.Time{}, citycard.E(op, citycard.IO, "answer: lost_at %q: %v", j.LostAt, err)
		}
	}
	return st, cut, nil
}
