package api

import "net/http"

// routes is the whole API at a glance.
func (s *Server) routes(mux *http.ServeMux) {
	// Terminals (Authorization: Bearer <terminal token>).
	mux.HandleFunc("POST /v1/terminals/{terminal}/batches", s.handleUpload)
	mux.HandleFunc("GET /v1/terminals/{terminal}/blacklist", s.handleBlacklist)
	mux.HandleFunc("GET /v1/terminals/{terminal}/parameters", s.handleParameters)

	// Staff (Authorization: Bearer <staff token>).
	mux.HandleFunc("GET /v1/rejections", s.handleRejections)
	mux.HandleFunc("GET /v1/cards/{issuer}/{asn}/shadow", s.handleShadow)
	mux.HandleFunc("GET /v1/batches/{terminal}/{batch}", s.handleBatch) // a ledger entry's records
	mux.HandleFunc("GET /v1/blacklist", s.handleBlacklistList)
	mux.HandleFunc("POST /v1/blacklist", s.handleBlacklistSet) // operator role

	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.HandleFunc("GET /metrics", s.handleMetrics)
}
