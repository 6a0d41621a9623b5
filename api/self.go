package api

import (
	"net/http"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
)

// selfFlowsMax bounds the transactions a cardholder's card shows: the
// last of its flows.
const selfFlowsMax = 50

// holder authenticates the request as a cardholder of self service: kind
// Unauthenticated without a token or for one that names nobody.
func (s *Server) holder(r *http.Request) (int64, error) {
	const op = "api.holder"
	tok := bearer(r)
	if tok == "" {
		return 0, citycard.E(op, citycard.Unauthenticated, "no cardholder token (Authorization: Bearer)")
	}
	if s.SelfService == nil {
		return 0, citycard.E(op, citycard.Unauthenticated, "no self service on this server")
	}
	id, err := s.SelfService.Authenticate(r.Context(), tok)
	if err != nil {
		return 0, citycard.Wrap(op, authKind(err, citycard.Unauthenticated), err)
	}
	return id, nil
}

func (s *Server) self(op string) (*cms.SelfService, error) {
	if s.SelfService == nil {
		return nil, citycard.E(op, citycard.Unavailable, "no self service on this server")
	}
	return s.SelfService, nil
}

// handleSelfRegister gives a cardholder self-service credentials:
// {"issuer", "asn", "doc_type", "doc_number", "password"}: the card and
// the document it was issued against (403 if they do not go together,
// without saying which is wrong).
func (s *Server) handleSelfRegister(w http.ResponseWriter, r *http.Request) {
	const op = "api.selfRegister"
	ss, err := s.self(op)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var issuerS, asnS, docType, doc, pw string
	err = readBody(w, r, op, "self-service registration", maxStaffBody, []field{
		{"issuer", readString(&issuerS)}, {"asn", readString(&asnS)}, {"doc_type", readString(&docType)}, {"doc_number", readString(&doc)}, {"password", readString(&pw)},
	})
	var issuer citycard.IssuerCode
	var asn citycard.ASN
	var t cms.DocType
	if err == nil {
		issuer, err = citycard.ParseIssuerCode(issuerS)
	}
	if err == nil {
		asn, err = citycard.ParseASN(asnS)
	}
	if err == nil {
		t, err = cms.ParseDocType(docType)
	}
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Invalid, err))
		return
	}
	id, err := ss.Register(r.Context(), issuer, asn, t, doc, pw)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.Logger.Info("self-service account", "holder", id)
	s.reply(w, r, http.StatusCreated, map[string]int64{"holder_id": id})
}

// handleSelfLogin opens a cardholder's session: {"doc_type",
// "doc_number", "password"}, limited per document.
func (s *Server) handleSelfLogin(w http.ResponseWriter, r *http.Request) {
	const op = "api.selfLogin"
	ss, err := s.self(op)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var docType, doc, pw string
	err = readBody(w, r, op, "self-service login", maxStaffBody, []field{{"doc_type", readString(&docType)}, {"doc_number", readString(&doc)}, {"password", readString(&pw)}})
	var t cms.DocType
	if err == nil {
		t, err = cms.ParseDocType(docType)
	}
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Invalid, err))
		return
	}
	tok, id, exp, err := ss.Login(r.Context(), t, doc, pw)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, map[string]any{"token": tok, "holder_id": id, "expires_at": formatTime(exp)})
}

// selfAndPath is self and cardPath together, for the routes on one card.
func (s *Server) selfAndPath(r *http.Request, op string) (*cms.SelfService, citycard.IssuerCode, citycard.ASN, error) {
	ss, err := s.self(op)
	if err != nil {
		return nil, citycard.IssuerCode{}, citycard.ASN{}, err
	}
	issuer, asn, err := cardPath(r, op)
	return ss, issuer, asn, err
}

func (s *Server) handleSelfCards(w http.ResponseWriter, r *http.Request, holder int64) {
	const op = "api.selfCards"
	ss, err := s.self(op)
	var l []cms.Card
	if err == nil {
		l, err = ss.Cards(r.Context(), holder)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]cardAnswerJSON, len(l))
	for i := range l {
		out[i] = newCardAnswerJSON(&l[i])
	}
	s.reply(w, r, http.StatusOK, out)
}

type flowJSON struct {
	Type string `json:"type"`
	Fen  int64  `json:"fen"`
}

// selfCardJSON is a cardholder's own card: the card, its balance (as a
// refund would take it: the shadow's, else the book's) and its last
// transactions, oldest first.
type selfCardJSON struct {
	Card         cardAnswerJSON `json:"card"`
	BalanceFen   int64          `json:"balance_fen"`
	Transactions []flowJSON     `json:"transactions"`
}

func (s *Server) handleSelfCard(w http.ResponseWriter, r *http.Request, holder int64) {
	const op = "api.selfCard"
	ss, issuer, asn, err := s.selfAndPath(r, op)
	var c cms.Card
	if err == nil {
		c, err = ss.OwnCard(r.Context(), holder, issuer, asn)
	}
	var flows []cms.Flow
	if err == nil {
		flows, err = ss.Flows(r.Context(), holder, issuer, asn)
	}
	var bal int64
	if err == nil {
		if s.Balances != nil {
			bal, _, err = s.Balances.Balance(r.Context(), issuer, asn)
		} else {
			bal, err = s.ShadowBalances().Reported(r.Context(), issuer, asn)
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	flows = flows[max(0, len(flows)-selfFlowsMax):]
	out := selfCardJSON{Card: newCardAnswerJSON(&c), BalanceFen: bal, Transactions: make([]flowJSON, len(flows))}
	for i, f := range flows {
		out.Transactions[i] = flowJSON{Type: f.Type.String(), Fen: f.Fen}
	}
	s.reply(w, r, http.StatusOK, out)
}

// handleSelfLoss reports the cardholder's own card lost from the app:
// the cut of liability, and onto the blacklist.
func (s *Server) handleSelfLoss(w http.ResponseWriter, r *http.Request, holder int64) {
	const op = "api.selfLoss"
	ss, issuer, asn, err := s.selfAndPath(r, op)
	var c cms.Card
	if err == nil {
		c, err = ss.ReportLoss(r.Context(), holder, issuer, asn)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.Logger.Info("card lost, reported by its holder", "card", c.String())
	s.reply(w, r, http.StatusOK, newCardAnswerJSON(&c))
}
