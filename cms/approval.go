package cms

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/citycard/citycard"
)

// ApprovalState is where an approval request stands. The values are
// stored: keep them.
type ApprovalState uint8

// The states of an approval request.
const (
	ApprovalPending  ApprovalState = 1
	ApprovalApproved ApprovalState = 2
	ApprovalRejected ApprovalState = 3
)

var approvalNames = [...]string{ApprovalPending: "pending", ApprovalApproved: "approved", ApprovalRejected: "rejected"}

func (s ApprovalState) String() string {
	if s >= ApprovalPending && s <= ApprovalRejected {
		return approvalNames[s]
	}
	return fmt.Sprintf("approval(%d)", uint8(s))
}

// ParseApprovalState reads a state's name. Kind Invalid.
func ParseApprovalState(s string) (ApprovalState, error) {
	for a := ApprovalPending; a <= ApprovalRejected; a++ {
		if approvalNames[a] == s {
			return a, nil
		}
	}
	return 0, citycard.E("cms.ParseApprovalState", citycard.Invalid, "approval state %q", s)
}

// Limits of an approval request.
const (
	ApprovalActionLenMax  = 32
	ApprovalRequestLenMax = 4096 // the request, as JSON
)

// Approval is a request that needs a second person (a refund over the
// limit, a manual adjustment): what is asked (Action on Subject, the
// Request in full, its amount), who asked, and the decision of a
// supervisor who is not the requester. The request is made only once
// approved, by its requester presenting the same request again with the
// approval's ID.
type Approval struct {
	ID          int64
	Action      string // "refund"
	Subject     string // "card:ISSUER/ASN"
	Request     string // the request as JSON, compared byte for byte when it is made
	AmountFen   int64
	RequestedBy string
	RequestedAt time.Time
	State       ApprovalState
	DecidedBy   string
	DecidedAt   time.Time
}

func approvalSubject(id int64) string { return "approval:" + strconv.FormatInt(id, 10) }

// Snapshot returns the approval as the audit log shows it.
func (a *Approval) Snapshot() string {
	b, err := json.Marshal(struct {
		ID          int64  `json:"id"`
		Action      string `json:"action"`
		Subject     string `json:"subject"`
		AmountFen   int64  `json:"amount_fen"`
		RequestedBy string `json:"requested_by"`
		State       string `json:"state"`
		DecidedBy   string `json:"decided_by,omitempty"`
	}{a.ID, a.Action, a.Subject, a.AmountFen, a.RequestedBy, a.State.String(), a.DecidedBy})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// Decide returns a with the decision of approver at at: approved or
// rejected. Kind Permission for an approver below supervisor or who is
// the requester (a second person, never the one who asked), Conflict for
// a request decided already.
func (a Approval) Decide(approver *StaffMember, approve bool, at time.Time) (Approval, error) {
	const op = "cms.Approval.Decide"
	switch {
	case approver.Role < RoleSupervisor:
		return a, citycard.E(op, citycard.Permission, "approval %d: %s is a %v: only a supervisor decides", a.ID, approver.Name, approver.Role)
	case approver.Name == a.RequestedBy:
		return a, citycard.E(op, citycard.Permission, "approval %d: %s asked for it: a second person decides", a.ID, approver.Name)
	case a.State != ApprovalPending:
		return a, citycard.E(op, citycard.Conflict, "approval %d is %v already", a.ID, a.State)
	}
	a.State, a.DecidedBy, a.DecidedAt = ApprovalRejected, approver.Name, at
	if approve {
		a.State = ApprovalApproved
	}
	return a, nil
}

// Grants reports whether a approves exactly this request by requester:
// approved by a second person, of the same action, subject and request,
// asked by them. Kind Permission naming what differs.
func (a *Approval) Grants(requester, action, subject, request string) error {
	const op = "cms.Approval.Grants"
	switch {
	case a.State != ApprovalApproved:
		return citycard.E(op, citycard.Permission, "approval %d is %v, not approved", a.ID, a.State)
	case a.RequestedBy != requester:
		return citycard.E(op, citycard.Permission, "approval %d was asked for by %s, not %s", a.ID, a.RequestedBy, requester)
	case a.DecidedBy == "" || a.DecidedBy == a.RequestedBy:
		// Decide allows neither; a row that says so was not made by it.
		return citycard.E(op, citycard.Permission, "approval %d was decided by %q: a second person decides", a.ID, a.DecidedBy)
	case a.Action != action || a.Subject != subject:
		return citycard.E(op, citycard.Permission, "approval %d is for %s on %s, not %s on %s", a.ID, a.Action, a.Subject, action, subject)
	case a.Request != request:
		return citycard.E(op, citycard.Permission, "approval %d was given for another request (same card, other fields)", a.ID)
	}
	return nil
}

// RequestApproval stores a request for approval by a second person.
// Kinds Invalid (the action, the request's length), IO.
func (s *Staffing) RequestApproval(ctx context.Context, by *StaffMember, action, subject, request string, amountFen int64) (Approval, error) {
	const op = "cms.Staffing.RequestApproval"
	if action == "" || len(action) > ApprovalActionLenMax || subject == "" || len(subject) > 64 || len(request) > ApprovalRequestLenMax {
		return Approval{}, citycard.E(op, citycard.Invalid, "approval of %q on %q: action 1 to %d bytes, subject 1 to 64, request at most %d", action, subject, ApprovalActionLenMax, ApprovalRequestLenMax)
	}
	at := s.now()
	a := Approval{Action: action, Subject: subject, Request: request, AmountFen: amountFen, RequestedBy: by.Name, RequestedAt: at, State: ApprovalPending}
	_, err := s.store.CreateApproval(ctx, func(id int64) (*Approval, *AuditRecord) {
		a.ID = id
		return &a, &AuditRecord{At: at, Actor: by.Name, ServicePoint: by.ServicePoint, Subject: approvalSubject(id), Action: "request " + action, After: a.Snapshot()}
	})
	if err != nil {
		return Approval{}, citycard.Wrap(op, citycard.Other, err)
	}
	return a, nil
}

// Approval returns an approval request. Kinds NotFound, IO.
func (s *Staffing) Approval(ctx context.Context, id int64) (Approval, error) {
	a, err := s.store.Approval(ctx, id)
	return a, citycard.Wrap("cms.Staffing.Approval", citycard.Other, err)
}

// Decide approves or rejects approval id as by (Approval.Decide). Kinds
// Permission, Conflict, NotFound, IO.
func (s *Staffing) Decide(ctx context.Context, by *StaffMember, id int64, approve bool) (Approval, error) {
	const op = "cms.Staffing.Decide"
	a, err := s.store.Approval(ctx, id)
	if err != nil {
		return Approval{}, citycard.Wrap(op, citycard.Other, err)
	}
	at := s.now()
	next, err := a.Decide(by, approve, at)
	if err != nil {
		return Approval{}, citycard.Wrap(op, citycard.Other, err)
	}
	audit := &AuditRecord{At: at, Actor: by.Name, ServicePoint: by.ServicePoint, Subject: approvalSubject(id),
		Action: next.State.String(), Before: a.Snapshot(), After: next.Snapshot()}
	if err := s.store.DecideApproval(ctx, &next, audit); err != nil {
		return Approval{}, citycard.Wrap(op, citycard.Other, err)
	}
	return next, nil
}

// GateRefund decides whether a refund paying out paidFen on subject (a
// card, "card:ISSUER/ASN") may be made now by by, its request in its
// canonical form (what an approval is given for, byte for byte): under
// limitFen and naming no approval it may (nil, nil); over it, naming
// none, an approval is asked for and returned, and nothing is to be
// moved; naming approvalID, that approval must grant exactly this
// request to by (Approval.Grants), even under the limit: a request that
// names one means to be made on it. Kinds Invalid (an approval that does
// not exist), Permission (one that does not grant it), those of
// RequestApproval, IO.
func (s *Staffing) GateRefund(ctx context.Context, by *StaffMember, subject, request string, paidFen, limitFen, approvalID int64) (*Approval, error) {
	if paidFen <= limitFen && approvalID == 0 {
		return nil, nil
	}
	asked, _, err := s.gate(ctx, "cms.Staffing.GateRefund", by, "refund", subject, request, paidFen, approvalID)
	return asked, err
}

// GateAdjust decides a manual adjustment (action "adjust") of subject
// by by, request its canonical form (AdjustRequest.Canonical): it always
// needs an approval. Naming none (approvalID 0), one is asked for and
// returned (asked), nothing to be moved; naming approvalID, that
// approval must grant exactly this request to by, and is returned
// (granted) for Manager.Adjust. Kinds as GateRefund's.
func (s *Staffing) GateAdjust(ctx context.Context, by *StaffMember, subject, request string, amountFen, approvalID int64) (asked, granted *Approval, err error) {
	return s.gate(ctx, "cms.Staffing.GateAdjust", by, ApprovalAdjust, subject, request, amountFen, approvalID)
}

func (s *Staffing) gate(ctx context.Context, op string, by *StaffMember, action, subject, request string, amountFen, approvalID int64) (asked, granted *Approval, err error) {
	if approvalID == 0 {
		a, err := s.RequestApproval(ctx, by, action, subject, request, amountFen)
		if err != nil {
			return nil, nil, citycard.Wrap(op, citycard.Other, err)
		}
		return &a, nil, nil
	}
	a, err := s.Approval(ctx, approvalID)
	if citycard.IsKind(err, citycard.NotFound) {
		return nil, nil, citycard.Wrap(op, citycard.Invalid, err) // the approval named in the request
	}
	if err == nil {
		err = a.Grants(by.Name, action, subject, request)
	}
	if err != nil {
		return nil, nil, citycard.Wrap(op, citycard.Other, err)
	}
	return nil, &a, nil
}

// Approvals returns up to limit approval requests of action on subject,
// newest first. Kinds Invalid (limit), IO.
func (s *Staffing) Approvals(ctx context.Context, action, subject string, limit int) ([]Approval, error) {
	const op = "cms.Staffing.Approvals"
	if limit <= 0 || limit > ApprovalsListMax {
		return nil, citycard.E(op, citycard.Invalid, "a list of %d approvals: want 1 to %d", limit, ApprovalsListMax)
	}
	l, err := s.store.ApprovalsOf(ctx, action, subject, limit)
	return l, citycard.Wrap(op, citycard.Other, err)
}

// ApprovalsListMax bounds the approvals a list returns.
const ApprovalsListMax = 100
