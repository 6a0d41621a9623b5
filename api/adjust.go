package api

import (
	"net/http"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
)

// adjustmentRequest is an adjustment's body as the route reads it.
type adjustmentRequest struct {
	cms.AdjustRequest
	ApprovalID int64
}

// readAdjustment reads an adjustment's body: {"key", "direction"
// (credit or debit), "amount_fen" (1 to cms.AdjustFenMax), "reason" (1
// to cms.AdjustReasonLenMax bytes), "approval_id" (0: none yet)}, every
// field required. Kind Invalid naming what is wrong.
func readAdjustment(w http.ResponseWriter, r *http.Request, op string) (adjustmentRequest, error) {
	var q adjustmentRequest
	var dir string
	err := readBody(w, r, op, "adjustment", maxCardBody, []field{{"key", readString(&q.Key)}, {"direction", readString(&dir)},
		{"amount_fen", readInt(&q.AmountFen, 1, cms.AdjustFenMax)}, {"reason", readString(&q.Reason)}, {"approval_id", readInt(&q.ApprovalID, 0, 1<<53)}})
	if err == nil {
		err = checkKey(op, q.Key)
	}
	if err == nil {
		q.Direction, err = cms.ParseAdjustDirection(dir)
	}
	if err == nil {
		err = q.Check()
	}
	return q, citycard.Wrap(op, citycard.Invalid, err)
}

// AdjustmentJSON is an adjustment as the API shows it (GET
// /v1/cards/{issuer}/{asn}/adjustments; citycard card adjustments reads
// it): its request, its approval's state and people, and whether it was
// made (with the remote top-up that carries a credit of a card in use).
type AdjustmentJSON struct {
	ApprovalID  int64  `json:"approval_id"`
	State       string `json:"state"`
	Key         string `json:"key"`
	Direction   string `json:"direction"`
	AmountFen   int64  `json:"amount_fen"`
	Reason      string `json:"reason"`
	RequestedBy string `json:"requested_by"`
	RequestedAt string `json:"requested_at"`
	DecidedBy   string `json:"decided_by,omitempty"`
	DecidedAt   string `json:"decided_at,omitempty"`
	Made        bool   `json:"made"`
	TopUp       string `json:"topup_id,omitempty"`
}

func newAdjustmentJSON(a *cms.Approval, q *cms.AdjustRequest) AdjustmentJSON {
	return AdjustmentJSON{ApprovalID: a.ID, State: a.State.String(), Key: q.Key, Direction: q.Direction.String(), AmountFen: q.AmountFen,
		Reason: q.Reason, RequestedBy: a.RequestedBy, RequestedAt: formatTime(a.RequestedAt), DecidedBy: a.DecidedBy, DecidedAt: optTime(a.DecidedAt)}
}

// adjustAnswerJSON answers an adjustment: waiting for a supervisor (202,
// the approval asked for) or made (201, the card after it and, for a
// credit of a card in use, its remote top-up).
type adjustAnswerJSON struct {
	Card       cardAnswerJSON `json:"card"`
	Adjustment AdjustmentJSON `json:"adjustment"`
	Approval   approvalJSON   `json:"approval"`
	TopUp      *topUpJSON     `json:"topup,omitempty"`
	Replayed   bool           `json:"replayed"`
}

// handleCardAdjust makes a manual adjustment of a card's money (issue
// 9; cms.Manager.Adjust): always with a supervisor's approval. Asked
// with approval_id 0 it is answered 202 with the approval request,
// nothing moved; a supervisor other than the requester approves it
// (POST /v1/approvals/{id}/approve); the requester sends the same
// request with the approval's ID and it is made, 201. A retry of one
// made answers the same, replayed; its key sent again without its
// approval is refused 409, as another request under it is.
func (s *Server) handleCardAdjust(w http.ResponseWriter, r *http.Request, by Staff) {
	const op = "api.cardAdjust"
	m, issuer, asn, err := s.cardsAndPath(r, op)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q, err := readAdjustment(w, r, op)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	st, err := s.staffing(op)
	var c cms.Card
	if err == nil {
		c, err = s.mayServe(r.Context(), by, m, issuer, asn, nil)
	}
	var bal int64
	var purchases []cms.Purchase
	if err == nil && cms.BookHeld(c.State) { // the back office holds its balance: Adjust books against what it is owed
		bal, purchases, err = s.balances(m).Balance(r.Context(), issuer, asn)
	}
	var booked bool
	if err == nil && q.ApprovalID == 0 {
		if booked, err = m.Booked(r.Context(), q.Key); err == nil && booked {
			err = citycard.E(op, citycard.Conflict, "adjustment key %q was booked already: send the request again with its approval_id", q.Key)
		}
		if err == nil { // no supervisor is asked to approve what cannot be made
			err = m.CheckAdjust(&c, q.AdjustRequest, bal, purchases)
		}
	}
	var asked, granted *cms.Approval
	if err == nil {
		asked, granted, err = st.GateAdjust(r.Context(), by.member(), "card:"+c.String(), q.Canonical(), q.AmountFen, q.ApprovalID)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if asked != nil {
		s.Logger.Info("adjustment waits for approval", "by", by.Name, "card", c.String(), "approval", asked.ID, "direction", q.Direction.String(), "amount_fen", q.AmountFen)
		s.reply(w, r, http.StatusAccepted, adjustAnswerJSON{Card: newCardAnswerJSON(&c), Adjustment: newAdjustmentJSON(asked, &q.AdjustRequest), Approval: newApprovalJSON(asked)})
		return
	}
	got, err := m.Adjust(r.Context(), by.actor(), issuer, asn, q.AdjustRequest, granted, bal, purchases)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ans := adjustAnswerJSON{Card: newCardAnswerJSON(&got.Card), Adjustment: newAdjustmentJSON(granted, &q.AdjustRequest), Approval: newApprovalJSON(granted), Replayed: got.Replayed}
	ans.Adjustment.Made = true
	if got.TopUp != nil {
		j := newTopUpJSON(got.TopUp)
		ans.TopUp, ans.Adjustment.TopUp = &j, got.TopUp.ID
	}
	s.Logger.Info("card adjusted", "by", by.Name, "card", c.String(), "approval", granted.ID, "direction", q.Direction.String(), "amount_fen", q.AmountFen, "replayed", got.Replayed)
	s.reply(w, r, http.StatusCreated, ans)
}

// handleCardAdjustments lists a card's adjustments, newest first (at
// most cms.ApprovalsListMax): every one asked for, from its approval,
// and whether it was made.
func (s *Server) handleCardAdjustments(w http.ResponseWriter, r *http.Request, _ Staff) {
	const op = "api.cardAdjustments"
	m, issuer, asn, err := s.cardsAndPath(r, op)
	var st *cms.Staffing
	if err == nil {
		st, err = s.staffing(op)
	}
	var c cms.Card
	if err == nil {
		c, err = m.Card(r.Context(), issuer, asn)
	}
	var l []cms.Approval
	if err == nil {
		l, err = st.Approvals(r.Context(), cms.ApprovalAdjust, "card:"+c.String(), cms.ApprovalsListMax)
	}
	out := make([]AdjustmentJSON, 0, len(l))
	for i := 0; err == nil && i < len(l); i++ {
		var q cms.AdjustRequest
		if q, err = cms.ParseAdjustRequest(l[i].Request); err != nil {
			err = citycard.Wrap(op, citycard.IO, err) // the store holds what the route wrote
			break
		}
		j := newAdjustmentJSON(&l[i], &q)
		if l[i].State == cms.ApprovalApproved {
			j.Made, err = m.Booked(r.Context(), q.Key)
		}
		if err == nil && j.Made && s.TopUps != nil {
			t, terr := s.TopUps.TopUp(r.Context(), cms.TopUpID(q.Key))
			switch {
			case terr == nil && t.Payer.Type == cms.AdjustmentPay:
				j.TopUp = t.ID
			case terr != nil && !citycard.IsKind(terr, citycard.NotFound): // a book's adjustment has none
				err = terr
			}
		}
		out = append(out, j)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, out)
}
