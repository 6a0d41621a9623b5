package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/interop"
	"github.com/citycard/citycard/terminal"
)

// Limits of the interconnection routes (/v1/clearing/interop).
const (
	InteropFilesPageMax   = 100      // files in one page of GET /v1/clearing/interop/files
	InteropRecordsPageMax = 500      // records in one page of a file's records
	InteropImportBytesMax = 64 << 20 // a file imported over HTTP; larger ones: citycard interop import
)

// Interconnection is what the interconnection routes need: the files
// exported and imported (*interop.Interop) and the store they are kept
// in (InteropOver joins the two).
type Interconnection interface {
	Files(ctx context.Context) ([]interop.Stored, error)
	File(ctx context.Context, id string) (interop.Stored, error)
	Records(ctx context.Context, file string, fn func(r *interop.Rec) error) error
	Cities(ctx context.Context) (*interop.Cities, error)
	Export(ctx context.Context, d clearing.Day) ([]byte, error)
	Import(ctx context.Context, name string, b []byte) (*interop.Imported, error)
	FeedBlacklist(ctx context.Context, l interop.Blacklist, d clearing.Day) (int, error)
	TerminalCities(ctx context.Context) ([2]byte, []terminal.CityChange, error)
	// Our error and dispute cases (interopcases.go).
	RaiseCase(ctx context.Context, in interop.CaseInput) (interop.Case, bool, error)
	Cases(ctx context.Context, t interop.FileType, d interop.Day) ([]interop.Case, error)
	ExportCases(ctx context.Context, t interop.FileType, d interop.Day) ([]byte, error)
	CaseFileID(t interop.FileType, d interop.Day) string
}

// InteropOver is the Interconnection of x over its store. An INC file
// needs our cards' TAC keys (x.Verifier): without them its import is
// refused Unavailable (citycard interop import, with the key store,
// imports it), never half done.
func InteropOver(x *interop.Interop) Interconnection { return interopOver{x.Store, x} }

type interopOver struct {
	interop.Store
	x *interop.Interop
}

func (o interopOver) Cities(ctx context.Context) (*interop.Cities, error) { return o.x.Cities(ctx) }
func (o interopOver) Export(ctx context.Context, d clearing.Day) ([]byte, error) {
	return o.x.Export(ctx, d)
}

func (o interopOver) FeedBlacklist(ctx context.Context, l interop.Blacklist, d clearing.Day) (int, error) {
	return o.x.FeedBlacklist(ctx, l, d)
}

func (o interopOver) TerminalCities(ctx context.Context) ([2]byte, []terminal.CityChange, error) {
	return o.x.TerminalCities(ctx)
}

func (o interopOver) RaiseCase(ctx context.Context, in interop.CaseInput) (interop.Case, bool, error) {
	return o.x.Raise(ctx, in)
}

func (o interopOver) ExportCases(ctx context.Context, t interop.FileType, d interop.Day) ([]byte, error) {
	return o.x.ExportCases(ctx, t, d)
}

func (o interopOver) CaseFileID(t interop.FileType, d interop.Day) string {
	return o.x.CaseFileID(t, d)
}

func (o interopOver) Import(ctx context.Context, name string, b []byte) (*interop.Imported, error) {
	if o.x.Verifier == nil {
		if f, err := interop.Decode(name, b); err == nil && f.Header.Type == interop.FileIncoming {
			return nil, citycard.E("api.interopImport", citycard.Unavailable, "file %s: an INC file is verified under our cards' keys, which this server does not hold: import it with citycard interop import", name)
		}
	}
	return o.x.Import(ctx, name, b)
}

// The JSON of the interconnection routes.
type (
	interopFilesJSON struct {
		Files []interop.FileView `json:"files"`
		Next  string             `json:"next_after,omitempty"` // the after of the next page; "" for the last
	}
	interopRecordsJSON struct {
		File    string            `json:"file"`
		Records []interop.RecView `json:"records"`
		Next    int               `json:"next_after,omitempty"` // the after of the next page; 0 for the last
	}
	interopCitiesJSON struct {
		Day    string             `json:"day"`
		Cities []interop.CityView `json:"cities"`
	}
	interopImportedJSON struct {
		File     interop.FileView `json:"file"`
		Already  bool             `json:"already"` // imported before, the same bytes: nothing changed
		Accepted interop.Totals   `json:"accepted"`
		Rejected interop.Totals   `json:"rejected"`
		Answer   string           `json:"answer"` // our answer's file ID (an INC file's); "" for none
	}
)

// interconnection returns the service, or Unavailable.
func (s *Server) interconnection(op string) (Interconnection, error) {
	if s.Interop == nil {
		return nil, citycard.E(op, citycard.Unavailable, "the interconnection is not served here")
	}
	return s.Interop, nil
}

// onlyQuery refuses a query key not in keys: kind Invalid, naming it.
func onlyQuery(op string, r *http.Request, keys ...string) error {
	for k := range r.URL.Query() {
		ok := false
		for _, want := range keys {
			ok = ok || k == want
		}
		if !ok {
			return citycard.E(op, citycard.Invalid, "query %q: want one of %v", k, keys)
		}
	}
	return nil
}

// pageLimit reads ?limit=, 1 to max, default max. Kind Invalid.
func pageLimit(op string, r *http.Request, max int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return max, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, citycard.E(op, citycard.Invalid, "limit=%q: want 1 to %d", v, max)
	}
	return n, nil
}

// handleInteropFiles lists the stored files in the order stored (the
// latest interop.FilesShownMax), after ?after= (a file's ID), at most
// ?limit= (1 to InteropFilesPageMax, default the most).
func (s *Server) handleInteropFiles(w http.ResponseWriter, r *http.Request, _ Staff) {
	const op = "api.interopFiles"
	x, err := s.interconnection(op)
	if err == nil {
		err = onlyQuery(op, r, "after", "limit")
	}
	limit := 0
	if err == nil {
		limit, err = pageLimit(op, r, InteropFilesPageMax)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	fs, err := x.Files(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	after := r.URL.Query().Get("after")
	page, next, ok := pageAfter(fs, func(f *interop.Stored) string { return f.ID }, after, limit)
	if !ok {
		s.fail(w, r, citycard.E(op, citycard.NotFound, "after=%q: no such file in the list", after))
		return
	}
	out := interopFilesJSON{Files: []interop.FileView{}, Next: next}
	for i := range page {
		out.Files = append(out.Files, page[i].View())
	}
	s.reply(w, r, http.StatusOK, out)
}

// interopFile returns the stored file of the path's {id}, with its bytes.
func (s *Server) interopFile(op string, r *http.Request) (interop.Stored, error) {
	x, err := s.interconnection(op)
	if err != nil {
		return interop.Stored{}, err
	}
	if err := onlyQuery(op, r); err != nil {
		return interop.Stored{}, err
	}
	return x.File(r.Context(), r.PathValue("id"))
}

// handleInteropFile shows a stored file's header: its type, direction,
// day, parties, records and amount, and the cycle that settled it.
func (s *Server) handleInteropFile(w http.ResponseWriter, r *http.Request, _ Staff) {
	f, err := s.interopFile("api.interopFile", r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, f.View())
}

// handleInteropFileBody serves a stored file's bytes as they were
// exported or imported (text/plain, UTF-8): the OUT file to send to the
// centre, our answer to an INC file.
func (s *Server) handleInteropFileBody(w http.ResponseWriter, r *http.Request, _ Staff) {
	f, err := s.interopFile("api.interopFileBody", r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(f.Body)))
	w.Header().Set("X-Sha256", f.SHA256)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(f.Body) // the client went away: nothing to do
}

// pageAfter returns the page of items after the one whose ID is after
// ("": from the first), at most limit, and the ID of its last item if
// more follow ("" for the last page); ok is false if no item has ID
// after.
func pageAfter[T any](items []T, id func(*T) string, after string, limit int) (page []T, next string, ok bool) {
	start := 0
	if after != "" {
		start = -1
		for i := range items {
			if id(&items[i]) == after {
				start = i + 1
			}
		}
		if start < 0 {
			return nil, "", false
		}
	}
	page = items[start:min(len(items), start+limit)]
	if start+len(page) < len(items) && len(page) > 0 {
		next = id(&page[len(page)-1])
	}
	return page, next, true
}

// errPageFull stops a store's walk of records at a page's end.
var errPageFull = errors.New("page full")

// handleInteropRecords lists the records of an OUT or INC file by seq,
// after ?after= (a seq, default 0), at most ?limit= (1 to
// InteropRecordsPageMax, default the most).
func (s *Server) handleInteropRecords(w http.ResponseWriter, r *http.Request, _ Staff) {
	const op = "api.interopRecords"
	x, err := s.interconnection(op)
	if err == nil {
		err = onlyQuery(op, r, "after", "limit")
	}
	limit, after := 0, 0
	if err == nil {
		limit, err = pageLimit(op, r, InteropRecordsPageMax)
	}
	if v := r.URL.Query().Get("after"); err == nil && v != "" {
		if after, err = strconv.Atoi(v); err != nil || after < 0 || after > interop.RecordsMax {
			err = citycard.E(op, citycard.Invalid, "after=%q: want a seq, 0 to %d", v, interop.RecordsMax)
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	f, err := x.File(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if f.Type != interop.FileOutgoing && f.Type != interop.FileIncoming {
		s.fail(w, r, citycard.E(op, citycard.Invalid, "file %s is a %v file: only OUT and INC files have clearing records", id, f.Type))
		return
	}
	out := interopRecordsJSON{File: id, Records: []interop.RecView{}}
	err = x.Records(r.Context(), id, func(rec *interop.Rec) error {
		if rec.Seq <= after {
			return nil
		}
		if len(out.Records) == limit {
			out.Next = out.Records[limit-1].Seq
			return errPageFull
		}
		out.Records = append(out.Records, rec.View())
		return nil
	})
	if err != nil && !errors.Is(err, errPageFull) {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, out)
}

// handleInteropCities lists the interconnected cities terminals accept
// on ?date= (YYYY-MM-DD, required).
func (s *Server) handleInteropCities(w http.ResponseWriter, r *http.Request, _ Staff) {
	const op = "api.interopCities"
	x, err := s.interconnection(op)
	if err == nil {
		err = onlyQuery(op, r, "date")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := r.URL.Query().Get("date")
	d, err := clearing.ParseDay(v)
	if err != nil {
		s.fail(w, r, citycard.E(op, citycard.Invalid, "date=%q: want YYYY-MM-DD", v))
		return
	}
	cs, err := x.Cities(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := interopCitiesJSON{Day: d.String(), Cities: []interop.CityView{}}
	for _, c := range cs.InForce(interop.Day(d)) {
		out.Cities = append(out.Cities, c.View())
	}
	s.reply(w, r, http.StatusOK, out)
}

// handleInteropExport exports the OUT file of the closed cycle of {day}
// and stores it (again: the same bytes, nothing new), answering its
// header; its bytes are GET .../files/{id}/body. No body, no query.
func (s *Server) handleInteropExport(w http.ResponseWriter, r *http.Request, st Staff) {
	const op = "api.interopExport"
	x, err := s.interconnection(op)
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
		s.fail(w, r, citycard.E(op, citycard.Invalid, "export of %v takes no body and no query", d))
		return
	}
	b, err := x.Export(r.Context(), d)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.replyExported(w, r, x, op, b, st)
}

// replyExported answers the header of file b, which we exported and
// stored, with the time it was stored.
func (s *Server) replyExported(w http.ResponseWriter, r *http.Request, x Interconnection, op string, b []byte, st Staff) {
	f, err := interop.Decode("export", b)
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Other, err)) // what Export writes, Decode reads
		return
	}
	stored := interop.StoredOf(f, b, true)
	if got, err := x.File(r.Context(), stored.ID); err == nil {
		stored = got // with the time it was stored
	}
	s.Logger.Info("interconnection file exported", "file", stored.ID, "records", stored.Records, "by", st.Name)
	s.reply(w, r, http.StatusOK, stored.View())
}

// handleInteropImport imports a file received from the centre: the body
// is the file (text/plain, at most InteropImportBytesMax bytes), ?name=
// optionally names it in errors (default the file's own "upload"). A
// file refused is 422 naming its line and field, and nothing of it is
// imported; the same file again is 200 with already true; a new one 201.
func (s *Server) handleInteropImport(w http.ResponseWriter, r *http.Request, st Staff) {
	const op = "api.interopImport"
	x, err := s.interconnection(op)
	if err == nil {
		err = onlyQuery(op, r, "name")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := mediaType(r, "text/plain"); err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Invalid, err))
		return
	}
	name := r.URL.Query().Get("name")
	if name == "" {
		name = "upload"
	} else if len(name) > 128 {
		s.fail(w, r, citycard.E(op, citycard.Invalid, "name: %d bytes, at most 128", len(name)))
		return
	}
	max := int64(InteropImportBytesMax)
	if s.interopBytesMax > 0 {
		max = s.interopBytesMax
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		s.fail(w, r, citycard.E(op, citycard.Invalid, "file %s: body too large: at most %d bytes here (citycard interop import takes larger files)", name, max))
		return
	}
	if err != nil {
		s.fail(w, r, citycard.E(op, citycard.IO, "file %s: %w", name, err))
		return
	}
	imp, err := x.Import(r.Context(), name, b)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := interopImportedJSON{File: imp.File.View(), Already: imp.Already, Accepted: imp.Accepted, Rejected: imp.Rejected}
	if imp.Answer != nil {
		out.Answer = interop.AnswerID(imp.File.ID)
	}
	s.Logger.Info("interconnection file imported", "file", imp.File.ID, "type", imp.File.Type.String(), "already", imp.Already, "by", st.Name)
	if imp.File.Type == interop.FileBlacklist {
		// The file is imported whatever the feed does: a fault here is
		// logged, and the next feed (citycard serve's daily one) makes it.
		if _, err := s.FeedInterop(r.Context()); err != nil {
			s.Logger.Warn("feeding the terminals' blacklist", "file", imp.File.ID, "err", err)
		}
	}
	code := http.StatusCreated
	if imp.Already {
		code = http.StatusOK
	}
	s.reply(w, r, code, out)
}
