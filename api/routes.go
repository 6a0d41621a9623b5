package api

import (
	"net/http"

	"github.com/citycard/citycard"
)

// routes is the whole API at a glance. Each route is declared through the
// guard that authenticates its caller, and its handler takes the caller
// the guard established, so that no route can forget to ask: a handler
// that wants a terminal or a member of staff cannot be registered without
// its guard. TestEveryRouteGuarded walks this function's source and checks
// each route's guard over HTTP.
func (s *Server) routes() []route {
	return []route{
		// Terminals (Authorization: Bearer <terminal token>); {terminal}
		// is the caller's own ID.
		s.terminalRoute("POST /v1/terminals/{terminal}/batches", s.handleUpload),
		s.terminalRoute("GET /v1/terminals/{terminal}/blacklist", s.handleBlacklist),
		s.terminalRoute("GET /v1/terminals/{terminal}/parameters", s.handleParameters),

		// Staff (Authorization: Bearer <staff token>), with the least role.
		s.staffRoute("GET /v1/rejections", RoleAuditor, s.handleRejections),
		s.staffRoute("POST /v1/rejections/{pos}/resubmit", RoleOperator, s.handleResubmit),
		s.staffRoute("GET /v1/cards/{issuer}/{asn}/shadow", RoleAuditor, s.handleShadow),
		s.staffRoute("GET /v1/batches/{terminal}/{batch}", RoleAuditor, s.handleBatch), // a ledger entry's records
		s.staffRoute("GET /v1/blacklist", RoleAuditor, s.handleBlacklistList),
		s.staffRoute("POST /v1/blacklist", RoleOperator, s.handleBlacklistSet),
		s.staffRoute("GET /v1/fares/replay", RoleAuditor, s.handleFareReplay), // the fare what-if (whatif)

		// Anyone: counters and health, no card, terminal or key data.
		s.publicRoute("GET /healthz", s.handleHealth),
		s.publicRoute("GET /metrics", s.handleMetrics),
	}
}

// route is a pattern of http.ServeMux and its guarded handler.
type route struct {
	pattern string
	handler http.HandlerFunc
}

// terminalRoute guards h with the terminal's authentication (see
// Server.terminal): h runs only for the terminal of the path's
// {terminal}, and is given its ID.
func (s *Server) terminalRoute(pattern string, h func(w http.ResponseWriter, r *http.Request, id citycard.TerminalID)) route {
	return route{pattern, func(w http.ResponseWriter, r *http.Request) {
		id, err := s.terminal(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		h(w, r, id)
	}}
}

// staffRoute guards h with staff authentication (see Server.staff): h
// runs only for a member of staff with at least role, and is given them.
func (s *Server) staffRoute(pattern string, role Role, h func(w http.ResponseWriter, r *http.Request, st Staff)) route {
	return route{pattern, func(w http.ResponseWriter, r *http.Request) {
		st, err := s.staff(r, role)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		h(w, r, st)
	}}
}

// publicRoute serves h to anyone; the routes test lists the public routes
// by name, so that a route cannot become public unnoticed.
func (s *Server) publicRoute(pattern string, h http.HandlerFunc) route {
	return route{pattern, h}
}
