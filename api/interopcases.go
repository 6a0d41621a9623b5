package api

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/interop"
)

// maxCaseBody bounds the body of POST /v1/clearing/interop/cases.
const maxCaseBody = 4 << 10

// interopCasesJSON is a day's cases of a type.
type interopCasesJSON struct {
	Day   string             `json:"day"`
	Type  string             `json:"type"`
	File  string             `json:"file"` // the ID of our file of them
	Cases []interop.CaseView `json:"cases"`
}

// caseType parses the case type of a query or path: ERR or DSP (either
// case).
func caseType(op, where, s string) (interop.FileType, error) {
	t, ok := interop.ParseFileType(strings.ToUpper(s))
	if !ok || t != interop.FileError && t != interop.FileDispute {
		return 0, citycard.E(op, citycard.Invalid, "%s %q: want ERR (error) or DSP (dispute)", where, s)
	}
	return t, nil
}

// handleInteropRaise raises an error or dispute case (a supervisor's
// act): the body is {"ref", "type": "ERR"|"DSP", "ref_file", "ref_seq",
// "direction": "C"|"D" (ERR; "" for DSP), "amount_fen", "reason" (its
// name: amount, not_received, cardholder, ...), "note"}. 201 with the
// case; 200 with already true for the same ref and input again (the
// ref is the idempotency key); 409 for the ref with another input or a
// second case of the type about the record. Who raised it and when are
// kept with it.
func (s *Server) handleInteropRaise(w http.ResponseWriter, r *http.Request, st Staff) {
	const op = "api.interopRaise"
	x, err := s.interconnection(op)
	if err == nil {
		err = onlyQuery(op, r)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := mediaType(r, mediaJSON); err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Invalid, err))
		return
	}
	var ref, typ, refFile, direction, reason, note string
	var refSeq, fen int64
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxCaseBody))
	dec.UseNumber()
	if err := readObject(dec, []field{{"ref", readString(&ref)}, {"type", readString(&typ)}, {"ref_file", readString(&refFile)},
		{"ref_seq", readInt(&refSeq, 1, interop.RecordsMax)}, {"direction", readString(&direction)}, {"amount_fen", readInt(&fen, 1, 1<<32-1)},
		{"reason", readString(&reason)}, {"note", readString(&note)}}); err != nil {
		s.fail(w, r, citycard.E(op, citycard.Invalid, "case: %w", err))
		return
	}
	t, err := caseType(op, "case: field \"type\"", typ)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	in := interop.CaseInput{Ref: ref, Type: t, RefFile: refFile, RefSeq: int(refSeq), AmountFen: fen, Note: note, By: st.Name}
	switch {
	case t == interop.FileError && direction == "C":
		in.Credit = true
	case t == interop.FileError && direction == "D", t == interop.FileDispute && direction == "":
	case t == interop.FileError:
		s.fail(w, r, citycard.E(op, citycard.Invalid, "case: field \"direction\": %q: want C (the card's issuer owes the acquirer more) or D (the acquirer pays back)", direction))
		return
	default:
		s.fail(w, r, citycard.E(op, citycard.Invalid, "case: field \"direction\": %q: a dispute has none (give \"\")", direction))
		return
	}
	var ok bool
	if in.Reason, ok = interop.ParseReason(reason); !ok {
		s.fail(w, r, citycard.E(op, citycard.Invalid, "case: field \"reason\": %q: want a reason's name (docs/interop.md: amount, not_received, cardholder, ...)", reason))
		return
	}
	c, already, err := x.RaiseCase(r.Context(), in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.Logger.Info("interconnection case raised", "case", c.Ref, "type", c.Type.String(), "record", c.RefFile, "seq", c.RefSeq, "amount_fen", c.AmountFen, "already", already, "by", st.Name)
	code := http.StatusCreated
	if already {
		code = http.StatusOK
	}
	s.reply(w, r, code, struct {
		interop.CaseView
		Already bool `json:"already"`
	}{c.View(x.CaseFileID(c.Type, c.Day)), already})
}

// handleInteropCases lists the cases of ?type= (ERR or DSP) raised on
// ?date= (YYYY-MM-DD), in the order raised, with their answers.
func (s *Server) handleInteropCases(w http.ResponseWriter, r *http.Request, _ Staff) {
	const op = "api.interopCases"
	x, err := s.interconnection(op)
	if err == nil {
		err = onlyQuery(op, r, "type", "date")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	t, err := caseType(op, "type", q.Get("type"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := clearing.ParseDay(q.Get("date"))
	if err != nil {
		s.fail(w, r, citycard.E(op, citycard.Invalid, "date %q: want YYYY-MM-DD", q.Get("date")))
		return
	}
	cs, err := x.Cases(r.Context(), t, interop.Day(d))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	file := x.CaseFileID(t, interop.Day(d))
	out := interopCasesJSON{Day: d.String(), Type: t.String(), File: file, Cases: []interop.CaseView{}}
	for i := range cs {
		out.Cases = append(out.Cases, cs[i].View(file))
	}
	s.reply(w, r, http.StatusOK, out)
}

// handleInteropExportCases exports and stores our ERR or DSP file
// ({type}) of {day}, once the day is over (409 before: cases may still
// be raised), answering its header; again, the same bytes, nothing new.
// No body, no query.
func (s *Server) handleInteropExportCases(w http.ResponseWriter, r *http.Request, st Staff) {
	const op = "api.interopExportCases"
	x, err := s.interconnection(op)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	t, err := caseType(op, "type", r.PathValue("type"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := clearing.ParseDay(r.PathValue("day"))
	if err != nil {
		s.fail(w, r, citycard.E(op, citycard.Invalid, "day %q: want YYYY-MM-DD", r.PathValue("day")))
		return
	}
	if r.ContentLength != 0 || len(r.URL.RawQuery) != 0 {
		s.fail(w, r, citycard.E(op, citycard.Invalid, "export of our %v file of %v takes no body and no query", t, d))
		return
	}
	b, err := x.ExportCases(r.Context(), t, interop.Day(d))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.replyExported(w, r, x, op, b, st)
}
