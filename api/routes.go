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
		s.loadRoute("POST /v1/terminals/{terminal}/loads", s.handleLoadAuthorize),                    // a card's INITIALIZE FOR LOAD: MAC2 (load.go); kiosks and counter readers only
		s.loadRoute("POST /v1/terminals/{terminal}/loads/confirm", s.handleLoadConfirm),              // the card's TAC of the load
		s.loadRoute("GET /v1/terminals/{terminal}/cards/{issuer}/{asn}/topups", s.handleKioskTopUps), // remote top-ups to claim (topup.go); kiosks and counter readers only
		s.loadRoute("POST /v1/terminals/{terminal}/topups/{id}/claim", s.handleTopUpClaim),           // a claim's INITIALIZE FOR LOAD: MAC2
		s.terminalRoute("GET /v1/terminals/{terminal}/entitlement-versions", s.handleGateVersions),   // a gate's: ?kind=&scope=&after=&limit= (apps.go)

		// Staff (Authorization: Bearer <staff token>), with the least role.
		s.staffRoute("GET /v1/rejections", RoleAuditor, s.handleRejections),
		s.staffRoute("POST /v1/rejections/{pos}/resubmit", RoleClerk, s.handleResubmit),
		s.staffRoute("GET /v1/cards/{issuer}/{asn}/shadow", RoleAuditor, s.handleShadow),
		s.staffRoute("GET /v1/batches/{terminal}/{batch}", RoleAuditor, s.handleBatch), // a ledger entry's records
		s.staffRoute("GET /v1/blacklist", RoleAuditor, s.handleBlacklistList),
		s.staffRoute("POST /v1/blacklist", RoleClerk, s.handleBlacklistSet),
		s.staffRoute("GET /v1/fares/replay", RoleAuditor, s.handleFareReplay), // the fare what-if (whatif)
		s.staffRoute("GET /v1/clearing/cycles", RoleAuditor, s.handleClearingCycles),
		s.staffRoute("GET /v1/clearing/cycles/{day}", RoleAuditor, s.handleClearingCycle),
		s.staffRoute("POST /v1/clearing/cycles/{day}/run", RoleClerk, s.clearingMove("run", func(c Clearing) clearingMoveFunc { return c.Run })),
		s.staffRoute("POST /v1/clearing/cycles/{day}/review", RoleSupervisor, s.clearingMove("review", func(c Clearing) clearingMoveFunc { return c.Review })),
		s.staffRoute("POST /v1/clearing/cycles/{day}/approve", RoleSupervisor, s.clearingMove("approve", func(c Clearing) clearingMoveFunc { return c.ApproveReviewed })),
		s.staffRoute("POST /v1/clearing/cycles/{day}/close", RoleSupervisor, s.clearingMove("close", func(c Clearing) clearingMoveFunc { return c.Close })),
		s.staffRoute("GET /v1/clearing/cycles/{day}/files/{file}", RoleAuditor, s.handleClearingFile),
		s.staffRoute("GET /v1/clearing/cycles/{day}/statements/{party}", RoleAuditor, s.handleClearingStatement),
		s.staffRoute("GET /v1/clearing/interop/files", RoleAuditor, s.handleInteropFiles),      // the interconnection (interop.go): ?after=ID&limit=N
		s.staffRoute("POST /v1/clearing/interop/files", RoleSupervisor, s.handleInteropImport), // a file from the centre, all or nothing, once
		s.staffRoute("GET /v1/clearing/interop/files/{id}", RoleAuditor, s.handleInteropFile),
		s.staffRoute("GET /v1/clearing/interop/files/{id}/body", RoleAuditor, s.handleInteropFileBody),
		s.staffRoute("GET /v1/clearing/interop/files/{id}/records", RoleAuditor, s.handleInteropRecords),
		s.staffRoute("GET /v1/clearing/interop/cities", RoleAuditor, s.handleInteropCities),       // ?date=YYYY-MM-DD
		s.staffRoute("POST /v1/clearing/interop/exports/{day}", RoleClerk, s.handleInteropExport), // a closed cycle's OUT file
		s.staffRoute("POST /v1/clearing/recon/statements", RoleSupervisor, s.handleReconImport),   // the bank's statement (recon.go)
		s.staffRoute("GET /v1/clearing/recon/findings", RoleAuditor, s.handleReconFindings),
		s.staffRoute("GET /v1/clearing/recon/findings/{id}", RoleAuditor, s.handleReconFinding),
		s.staffRoute("POST /v1/clearing/recon/findings/{id}/resolve", RoleSupervisor, s.handleReconResolve),
		// Our interconnection error and dispute cases (interopcases.go):
		// raised by a supervisor, listed by ?type=ERR|DSP&date=YYYY-MM-DD,
		// sent in our ERR or DSP file of a day once it is over.
		s.staffRoute("POST /v1/clearing/interop/cases", RoleSupervisor, s.handleInteropRaise),
		s.staffRoute("GET /v1/clearing/interop/cases", RoleAuditor, s.handleInteropCases),
		s.staffRoute("POST /v1/clearing/interop/exports/{day}/{type}", RoleClerk, s.handleInteropExportCases),
		// The clearing parameters stored, read-only (clearingparams.go).
		s.staffRoute("GET /v1/clearing/params/fees", RoleAuditor, s.handleParamsFees()),
		s.staffRoute("GET /v1/clearing/params/concessions", RoleAuditor, s.handleParamsConcessions()),
		s.staffRoute("GET /v1/clearing/params/commissions", RoleAuditor, s.handleParamsCommissions()),
		s.staffRoute("GET /v1/clearing/params/caps", RoleAuditor, s.handleParamsCaps()),

		// Staff accounts (stored: cms.Staffing). Login hands out the
		// session token the other staff routes take.
		s.publicRoute("POST /v1/staff/login", s.handleLogin),
		s.staffRoute("POST /v1/staff/logout", RoleAuditor, s.handleLogout),
		s.staffRoute("GET /v1/staff", RoleAdmin, s.handleStaffList),
		s.staffRoute("POST /v1/staff", RoleAdmin, s.handleStaffAdd),
		s.staffRoute("POST /v1/staff/{name}/disable", RoleAdmin, s.handleStaffDisable),
		s.staffRoute("POST /v1/staff/{name}/enable", RoleAdmin, s.handleStaffEnable),
		s.staffRoute("GET /v1/approvals/{id}", RoleAuditor, s.handleApproval),
		s.staffRoute("POST /v1/approvals/{id}/approve", RoleSupervisor, s.handleApprove), // never the requester's own
		s.staffRoute("POST /v1/approvals/{id}/reject", RoleSupervisor, s.handleReject),

		// Card management (cms.Manager).
		s.staffRoute("POST /v1/cardholders", RoleClerk, s.handleHolderCreate),
		s.staffRoute("GET /v1/cardholders/{id}", RoleAuditor, s.handleHolderShow), // masked
		s.staffRoute("POST /v1/cards", RoleClerk, s.handleCardApply),
		s.staffRoute("GET /v1/cards/{issuer}/{asn}", RoleAuditor, s.handleCardShow),
		s.staffRoute("GET /v1/cards/dormant", RoleAuditor, s.handleCardsDormant), // ?after=ISSUER/ASN&limit=N
		s.staffRoute("POST /v1/cards/{issuer}/{asn}/issue", RoleClerk, s.handleCardIssue),
		s.staffRoute("POST /v1/cards/{issuer}/{asn}/activate", RoleClerk, s.handleCardActivate),
		s.staffRoute("POST /v1/cards/{issuer}/{asn}/loss", RoleClerk, s.handleCardLoss),
		s.staffRoute("POST /v1/cards/{issuer}/{asn}/unloss", RoleClerk, s.handleCardUnloss),
		s.staffRoute("POST /v1/cards/{issuer}/{asn}/replace", RoleClerk, s.handleCardReplace),
		s.staffRoute("POST /v1/cards/{issuer}/{asn}/refund", RoleClerk, s.handleCardRefund),      // over the limit: a supervisor's approval
		s.staffRoute("POST /v1/cards/{issuer}/{asn}/adjustments", RoleClerk, s.handleCardAdjust), // always a supervisor's approval (adjust.go)
		s.staffRoute("GET /v1/cards/{issuer}/{asn}/adjustments", RoleAuditor, s.handleCardAdjustments),
		s.staffRoute("POST /v1/cards/{issuer}/{asn}/topups", RoleClerk, s.handleCardTopUp), // a remote top-up paid (topup.go)
		s.staffRoute("GET /v1/cards/{issuer}/{asn}/topups", RoleAuditor, s.handleCardTopUps),
		s.staffRoute("GET /v1/topups/{id}", RoleAuditor, s.handleTopUpShow),
		s.staffRoute("POST /v1/topups/{id}/refund", RoleClerk, s.handleTopUpRefund),
		s.staffRoute("POST /v1/topups/sweep", RoleSupervisor, s.handleTopUpSweep),                      // the expired refunded to their payers
		s.staffRoute("POST /v1/cards/{issuer}/{asn}/move-balance", RoleClerk, s.handleCardMoveBalance), // after the cooling period
		s.staffRoute("POST /v1/cards/{issuer}/{asn}/damaged", RoleClerk, s.handleCardDamaged),          // handed back unreadable: replaced or refunded from its shadow
		s.staffRoute("POST /v1/cards/{issuer}/{asn}/review", RoleClerk, s.handleCardReview),            // a concession's annual review (年审)
		s.staffRoute("POST /v1/cards/{issuer}/{asn}/expire", RoleClerk, s.handleCardExpire),            // past its validity
		s.staffRoute("POST /v1/cards/{issuer}/{asn}/renew", RoleClerk, s.handleCardRenew),              // validity extended
		s.staffRoute("POST /v1/cards/expire-due", RoleSupervisor, s.handleCardsExpireDue),              // the clock's expiry, at once

		// Cardholders' self service (Authorization: Bearer <cardholder
		// token>): their own cards only.
		s.publicRoute("POST /v1/self/register", s.handleSelfRegister), // with the card and the document
		s.publicRoute("POST /v1/self/login", s.handleSelfLogin),
		s.holderRoute("GET /v1/self/cards", s.handleSelfCards),
		s.holderRoute("GET /v1/self/cards/{issuer}/{asn}", s.handleSelfCard),
		s.holderRoute("POST /v1/self/cards/{issuer}/{asn}/loss", s.handleSelfLoss),
		s.holderRoute("POST /v1/self/cards/{issuer}/{asn}/topups", s.handleSelfTopUp), // a remote top-up of their own card
		s.holderRoute("GET /v1/self/cards/{issuer}/{asn}/topups", s.handleSelfTopUps),
		// The cardholder's phone (NFC): claims a remote top-up on their own
		// card, as a kiosk does (phone.go).
		s.holderRoute("GET /v1/self/cards/{issuer}/{asn}/topups/claimable", s.handlePhoneTopUps),
		s.holderRoute("POST /v1/self/cards/{issuer}/{asn}/topups/{id}/claim", s.handlePhoneClaim),
		s.holderRoute("POST /v1/self/cards/{issuer}/{asn}/loads/confirm", s.handlePhoneConfirm),

		// Application systems (Authorization: Bearer <application token>);
		// {app} is the caller's own ID, its own cards only (apps.go).
		s.appRoute("GET /v1/apps/{app}/cards/{issuer}/{asn}/entitlement", s.handleAppEntitlement),
		s.appRoute("GET /v1/apps/{app}/cards/{issuer}/{asn}/check", s.handleAppCheck), // ?action=loan&date=YYYYMMDD
		s.appRoute("POST /v1/apps/{app}/cards/{issuer}/{asn}/grant", s.handleAppGrant),
		s.appRoute("POST /v1/apps/{app}/cards/{issuer}/{asn}/revoke", s.handleAppRevoke),
		s.appRoute("GET /v1/apps/{app}/records", s.handleAppRecords),                                  // ?after=POS&limit=N
		s.appRoute("GET /v1/apps/{app}/reports/{day}", s.handleAppReport),                             // {day} YYYYMMDD
		s.appRoute("GET /v1/apps/{app}/reports/attendance", s.handleAppAttendance),                    // a school's: ?date=YYYYMMDD&class=N[&late=HHMMSS]
		s.appRoute("GET /v1/apps/{app}/reports/open-rentals", s.handleAppOpenRentals),                 // a bike operator's bikes out: ?out_max_minutes=N (appsbike.go)
		s.appRoute("GET /v1/apps/{app}/events", s.handleAppEvents),                                    // its outbox, polled: ?after=ID&limit=N
		s.appRoute("POST /v1/apps/{app}/cards/{issuer}/{asn}/canteen-limit", s.handleAppCanteenLimit), // a school's, for the parents (appsrules.go)
		s.appRoute("GET /v1/apps/{app}/periods", s.handleAppPeriods),                                  // a venue's periods and their capacity
		s.appRoute("PUT /v1/apps/{app}/periods", s.handleAppSetPeriods),
		s.appRoute("GET /v1/apps/{app}/calendar", s.handleAppCalendar), // a school's holidays and make-up days (appscalendar.go)
		s.appRoute("PUT /v1/apps/{app}/calendar", s.handleAppSetCalendar),

		// Anyone: counters and health, no card, terminal or key data.
		s.publicRoute("GET /healthz", s.handleHealth),
		s.publicRoute("GET /metrics", s.handleMetrics),
		s.publicRoute("GET /v1/openapi.json", s.handleOpenAPI), // this API's description (openapi.go)
	}
}

// route is a pattern of http.ServeMux and its guarded handler, with its
// guard for the OpenAPI document: a terminal's, a cardholder's, or staff
// of at least role (none: public).
type route struct {
	pattern  string
	handler  http.HandlerFunc
	terminal bool
	holder   bool
	role     Role
	app      bool // an application's (apps.go)
}

// terminalRoute guards h with the terminal's authentication (see
// Server.terminal): h runs only for the terminal of the path's
// {terminal}, and is given its ID.
func (s *Server) terminalRoute(pattern string, h func(w http.ResponseWriter, r *http.Request, id citycard.TerminalID)) route {
	return s.terminalGuarded(pattern, s.terminal, h)
}

// terminalGuarded guards h with the terminal authentication auth.
func (s *Server) terminalGuarded(pattern string, auth func(r *http.Request) (citycard.TerminalID, error), h func(w http.ResponseWriter, r *http.Request, id citycard.TerminalID)) route {
	return route{pattern, func(w http.ResponseWriter, r *http.Request) {
		id, err := auth(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		h(w, r, id)
	}, true, false, 0, false}
}

// holderRoute guards h with a cardholder's self-service session (see
// Server.holder): h is given the cardholder's ID, and shows only their
// own cards.
func (s *Server) holderRoute(pattern string, h func(w http.ResponseWriter, r *http.Request, holder int64)) route {
	return route{pattern: pattern, holder: true, handler: func(w http.ResponseWriter, r *http.Request) {
		id, err := s.holder(r)
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
	}, false, false, role, false}
}

// publicRoute serves h to anyone; the routes test lists the public routes
// by name, so that a route cannot become public unnoticed.
func (s *Server) publicRoute(pattern string, h http.HandlerFunc) route {
	return route{pattern: pattern, handler: h}
}
