package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/cms"
)

// DormantCardJSON is a dormant card in the report (GET
// /v1/cards/dormant), as the CLI reads it too.
type DormantCardJSON struct {
	Issuer         string `json:"issuer"`
	ASN            string `json:"asn"`
	Product        string `json:"product"`
	HolderID       int64  `json:"holder_id"`
	State          string `json:"state"`
	IssuedAt       string `json:"issued_at"`
	LastUse        string `json:"last_use,omitempty"` // none: unused since its issue
	DormantSince   string `json:"dormant_since"`
	BookBalanceFen int64  `json:"book_balance_fen"`
}

// dormantPageJSON is a page of the dormancy report; next_after, when
// there is more, is the after= of the next page.
type dormantPageJSON struct {
	Cards     []DormantCardJSON `json:"cards"`
	NextAfter string            `json:"next_after,omitempty"`
}

// handleCardsDormant reports the registered cards unused for their
// product's dormant_years (cms.Manager.Dormant), a page at a time
// (after: ISSUER/ASN, the next_after of the page before; limit: 1 to
// cms.DormantPageMax, the default). Their last use is acquisition's
// newest record of them (acquire.Acquirer.LastUse; without an acquirer,
// none). Nothing is moved: the report is for staff to reach the holders.
func (s *Server) handleCardsDormant(w http.ResponseWriter, r *http.Request, _ Staff) {
	const op = "api.cardsDormant"
	m, err := s.cards(op)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	var issuer citycard.IssuerCode
	var asn citycard.ASN
	if v := q.Get("after"); v != "" {
		i, a, ok := strings.Cut(v, "/")
		if ok {
			issuer, err = citycard.ParseIssuerCode(i)
		}
		if ok && err == nil {
			asn, err = citycard.ParseASN(a)
		}
		if !ok || err != nil {
			s.fail(w, r, citycard.E(op, citycard.Invalid, "after=%q: want ISSUER/ASN, a card's", v))
			return
		}
	}
	limit := cms.DormantPageMax
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > cms.DormantPageMax {
			s.fail(w, r, citycard.E(op, citycard.Invalid, "limit=%q: want 1 to %d", v, cms.DormantPageMax))
			return
		}
		limit = n
	}
	page, err := m.Dormant(r.Context(), issuer, asn, limit, s.lastUses)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := dormantPageJSON{Cards: []DormantCardJSON{}}
	for _, d := range page.Cards {
		out.Cards = append(out.Cards, DormantCardJSON{Issuer: d.Card.Issuer.String(), ASN: d.Card.ASN.String(), Product: d.Card.Product,
			HolderID: d.Card.Holder, State: d.Card.State.String(), IssuedAt: optTime(d.Card.IssuedAt), LastUse: optTime(d.LastUse),
			DormantSince: formatTime(d.Since), BookBalanceFen: d.BookFen})
	}
	if page.More {
		out.NextAfter = page.NextIssuer.String() + "/" + page.NextASN.String()
	}
	s.reply(w, r, http.StatusOK, out)
}

// lastUses is cms.LastUses over the server's acquirer.
func (s *Server) lastUses(ctx context.Context, cards []cms.Card) (map[citycard.ASN]time.Time, error) {
	out := map[citycard.ASN]time.Time{}
	if s.Acquirer == nil {
		return out, nil
	}
	refs := make([]acquire.Card, len(cards))
	for i, c := range cards {
		refs[i] = acquire.Card{Issuer: c.Issuer, ASN: c.ASN}
	}
	got, err := s.Acquirer.LastUse(ctx, refs...)
	if err != nil {
		return nil, err
	}
	for c, at := range got {
		out[c.ASN] = at
	}
	return out, nil
}
