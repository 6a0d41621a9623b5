package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/recon"
)

// FindingsPageMax bounds the findings of one page of GET
// /v1/clearing/recon/findings.
const FindingsPageMax = 500

// maxResolveBody bounds a resolution's body: its note at most
// recon.NoteLenMax characters of up to 4 bytes, escaped.
const maxResolveBody = 8 << 10

// Reconciliation is what the reconciliation routes need
// (*recon.Reconciler).
type Reconciliation interface {
	Import(ctx context.Context, st *recon.BankStatement, by, point string) (*recon.Imported, error)
	Findings(ctx context.Context, open bool) ([]recon.Finding, error)
	Finding(ctx context.Context, id string) (recon.Finding, error)
	Resolve(ctx context.Context, id string, d recon.Decision, note, by, point string) (recon.Finding, error)
}

// findingsJSON is a page of findings.
type findingsJSON struct {
	Findings []recon.FindingView `json:"findings"`
	Next     string              `json:"next_after,omitempty"` // the after of the next page; "" for the last
}

// reconciliation returns the service, or Unavailable.
func (s *Server) reconciliation(op string) (Reconciliation, error) {
	if s.Recon == nil {
		return nil, citycard.E(op, citycard.Unavailable, "reconciliation is not served here")
	}
	return s.Recon, nil
}

// handleReconFindings lists the findings in the order of the report
// (oldest first), ?open=true for the open ones only, after ?after= (a
// finding's ID), at most ?limit= (1 to FindingsPageMax, default the
// most).
func (s *Server) handleReconFindings(w http.ResponseWriter, r *http.Request, _ Staff) {
	const op = "api.reconFindings"
	rc, err := s.reconciliation(op)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	for k := range q {
		if k != "open" && k != "after" && k != "limit" {
			s.fail(w, r, citycard.E(op, citycard.Invalid, "query %q: want open, after or limit", k))
			return
		}
	}
	open := false
	if v := q.Get("open"); v != "" {
		if open, err = strconv.ParseBool(v); err != nil {
			s.fail(w, r, citycard.E(op, citycard.Invalid, "open=%q: want true or false", v))
			return
		}
	}
	limit := FindingsPageMax
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > FindingsPageMax {
			s.fail(w, r, citycard.E(op, citycard.Invalid, "limit=%q: want 1 to %d", v, FindingsPageMax))
			return
		}
		limit = n
	}
	fs, err := rc.Findings(r.Context(), open)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page, next, ok := pageAfter(fs, func(f *recon.Finding) string { return f.ID }, q.Get("after"), limit)
	if !ok {
		s.fail(w, r, citycard.E(op, citycard.NotFound, "after=%q: no such finding in the list", q.Get("after")))
		return
	}
	out := findingsJSON{Findings: []recon.FindingView{}, Next: next}
	for i := range page {
		out.Findings = append(out.Findings, page[i].View())
	}
	s.reply(w, r, http.StatusOK, out)
}

func (s *Server) handleReconFinding(w http.ResponseWriter, r *http.Request, _ Staff) {
	rc, err := s.reconciliation("api.reconFinding")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f, err := rc.Finding(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, f.View())
}

// handleReconResolve resolves an open finding: the caller (a
// supervisor) at their service point, with {"decision", "note"}.
func (s *Server) handleReconResolve(w http.ResponseWriter, r *http.Request, st Staff) {
	const op = "api.reconResolve"
	rc, err := s.reconciliation(op)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := mediaType(r, mediaJSON); err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Invalid, err))
		return
	}
	var decision, note string
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxResolveBody))
	dec.UseNumber()
	if err := readObject(dec, []field{{"decision", readString(&decision)}, {"note", readString(&note)}}); err != nil {
		s.fail(w, r, citycard.E(op, citycard.Invalid, "resolution: %w", err))
		return
	}
	d, err := recon.ParseDecision(decision)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	a := st.actor()
	f, err := rc.Resolve(r.Context(), r.PathValue("id"), d, note, a.Who, a.ServicePoint)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.Logger.Info("reconciliation finding resolved", "finding", f.ID, "decision", d.String(), "by", a.Who)
	s.reply(w, r, http.StatusOK, f.View())
}

// handleReconImport imports a bank statement: the file is the body,
// application/xml for camt.053, text/csv for the CSV form (charset
// utf-8 at most), at most recon.FileBytesMax bytes; the caller imports
// it.
func (s *Server) handleReconImport(w http.ResponseWriter, r *http.Request, st Staff) {
	const op = "api.reconImport"
	rc, err := s.reconciliation(op)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	f := map[string]recon.Format{"application/xml": recon.CAMT053, "text/xml": recon.CAMT053, "text/csv": recon.CSV}[mt]
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			f = 0
		}
	}
	if err != nil || f == 0 {
		s.fail(w, r, citycard.E(op, citycard.Invalid, "Content-Type %q: want application/xml (camt.053) or text/csv, with at most charset=utf-8", ct))
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, recon.FileBytesMax))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		s.fail(w, r, citycard.E(op, citycard.Invalid, "statement: body too large: at most %d bytes", recon.FileBytesMax))
		return
	}
	if err != nil {
		s.fail(w, r, citycard.E(op, citycard.IO, "statement: %w", err))
		return
	}
	bs, err := recon.Parse(f, "statement", data)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	a := st.actor()
	got, err := rc.Import(r.Context(), bs, a.Who, a.ServicePoint)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := got.Summary()
	s.Logger.Info("bank statement imported", "statement", got.Statement, "replayed", got.Replayed, "matched", out.Matched, "mismatched", out.Mismatched, "by", st.Name)
	code := http.StatusCreated
	if got.Replayed {
		code = http.StatusOK
	}
	s.reply(w, r, code, out)
}
