package recon

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
)

// The stores' columns and their values, in one place for both engines.
const (
	StatementColumns      = "id, sha256, format, message_id, account, movements, imported_by, imported_ns"
	InstructionColumns    = "end_to_end_id, cycle_day, message_id, party, name, account, amount_fen, due_day, remittance, direction, match_id"
	MovementInsertColumns = "statement, seq, direction, amount_fen, booked_day, value_day, bank_ref, info, parts"
	MovementColumns       = "id, " + MovementInsertColumns + ", match_id"
	MatchInsertColumns    = "state, how, instructed_fen, bank_fen, statement, made_ns"
	MatchColumns          = "id, " + MatchInsertColumns
	ResolutionColumns     = "finding, decision, note, by_staff, point, at_ns"
)

// Scanner is a row of database/sql or pgx.
type Scanner interface{ Scan(dest ...any) error }

// Rows are rows to scan one after the other: *sql.Rows, pgx.Rows.
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// ScanAtMost reads the rows of a query asked for max+1 rows, each with
// scan: one more than max is kind Conflict, naming what, under op.
func ScanAtMost[T any](op string, rows Rows, max int, what string, scan func(Scanner) (T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		if len(out) == max {
			return nil, citycard.E(op, citycard.Conflict, "more than %d %s", max, what)
		}
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// StatementArgs are the values of StatementColumns for imp.
func StatementArgs(imp *Import) []any {
	s := imp.Statement
	return []any{s.ID, s.SHA256, s.Format.String(), s.MessageID, s.Account, int64(len(s.Movements)), imp.By, imp.At.UnixNano()}
}

// InstructionArgs are the values of InstructionColumns but match_id.
func InstructionArgs(in *Instruction) []any {
	return []any{in.EndToEndID, int64(in.Cycle), in.MessageID, in.Party, in.Name, in.Account, in.AmountFen, int64(in.Due), in.Remittance, in.Direction.String()}
}

// ScanInstruction reads a row of InstructionColumns.
func ScanInstruction(r Scanner) (Instruction, error) {
	var in Instruction
	var cycle, due int64
	var dir string
	var match *int64
	if err := r.Scan(&in.EndToEndID, &cycle, &in.MessageID, &in.Party, &in.Name, &in.Account, &in.AmountFen, &due, &in.Remittance, &dir, &match); err != nil {
		return in, err
	}
	in.Cycle, in.Due = clearing.Day(cycle), clearing.Day(due)
	if match != nil {
		in.Match = *match
	}
	var err error
	in.Direction, err = ParseDirection(dir)
	return in, err
}

// MovementArgs are the values of MovementInsertColumns for m.
func MovementArgs(m *Movement) ([]any, error) {
	parts, err := json.Marshal(m.Parts)
	if err != nil {
		return nil, err
	}
	return []any{m.Statement, int64(m.Seq), m.Direction.String(), m.AmountFen, int64(m.Booked), int64(m.Value), m.BankRef, m.Info, string(parts)}, nil
}

// ScanMovement reads a row of MovementColumns.
func ScanMovement(r Scanner) (Movement, error) {
	var m Movement
	var seq, booked, value int64
	var dir, parts string
	var match *int64
	if err := r.Scan(&m.ID, &m.Statement, &seq, &dir, &m.AmountFen, &booked, &value, &m.BankRef, &m.Info, &parts, &match); err != nil {
		return m, err
	}
	m.Seq, m.Booked, m.Value = int(seq), clearing.Day(booked), clearing.Day(value)
	if match != nil {
		m.Match = *match
	}
	var err error
	if m.Direction, err = ParseDirection(dir); err != nil {
		return m, err
	}
	if err := json.Unmarshal([]byte(parts), &m.Parts); err != nil {
		return m, citycard.E("recon.ScanMovement", citycard.Invalid, "movement %d: parts: %w", m.ID, err)
	}
	return m, nil
}

// MatchArgs are the values of MatchInsertColumns for m, made at.
func MatchArgs(m *Match, at time.Time) []any {
	return []any{m.State.String(), m.How, m.InstructedFen, m.BankFen, m.Statement, at.UnixNano()}
}

// ScanMatch reads a row of MatchColumns.
func ScanMatch(r Scanner) (Match, error) {
	var m Match
	var state string
	var made int64
	if err := r.Scan(&m.ID, &state, &m.How, &m.InstructedFen, &m.BankFen, &m.Statement, &made); err != nil {
		return m, err
	}
	var err error
	m.State, err = ParseState(state)
	return m, err
}

// ResolutionArgs are the values of ResolutionColumns for r.
func ResolutionArgs(r *Resolution) []any {
	return []any{r.Finding, r.Decision.String(), r.Note, r.By, r.Point, r.At.UnixNano()}
}

// ScanResolution reads a row of ResolutionColumns.
func ScanResolution(row Scanner) (Resolution, error) {
	var r Resolution
	var decision string
	var at int64
	if err := row.Scan(&r.Finding, &decision, &r.Note, &r.By, &r.Point, &at); err != nil {
		return r, err
	}
	r.At = time.Unix(0, at)
	var err error
	r.Decision, err = ParseDecision(decision)
	return r, err
}

// Link fills each match of s with the instructions and movements whose
// Match is its ID, in their order: what a store does after reading its
// rows.
func (s *Snapshot) Link() {
	at := make(map[int64]int, len(s.Matches))
	for i := range s.Matches {
		at[s.Matches[i].ID] = i
	}
	for _, in := range s.Instructions {
		if i, ok := at[in.Match]; ok {
			s.Matches[i].Instructions = append(s.Matches[i].Instructions, in.EndToEndID)
		}
	}
	for _, m := range s.Movements {
		if i, ok := at[m.Match]; ok {
			s.Matches[i].Movements = append(s.Matches[i].Movements, m.ID)
		}
	}
}

// FindingRef is what a finding ID names: a match, a movement or an
// instruction (by its EndToEndID), one of them.
type FindingRef struct {
	Match      int64
	Movement   int64
	EndToEndID string
}

// ParseFindingID parses match-N, bank-N or an EndToEndId (a pay-in's
// reference among them). Kind Invalid.
func ParseFindingID(id string) (FindingRef, error) {
	num := func(s string) (int64, bool) {
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil && n > 0 && strconv.FormatInt(n, 10) == s
	}
	if s, ok := strings.CutPrefix(id, "match-"); ok {
		if n, ok := num(s); ok {
			return FindingRef{Match: n}, nil
		}
	} else if s, ok := strings.CutPrefix(id, "bank-"); ok {
		if n, ok := num(s); ok {
			return FindingRef{Movement: n}, nil
		}
	} else if checkText(id, IDLenMax, true) == "" && !strings.ContainsRune(id, ' ') {
		return FindingRef{EndToEndID: id}, nil
	}
	return FindingRef{}, citycard.E("recon.ParseFindingID", citycard.Invalid, "finding %q: want match-N, bank-N or an EndToEndId", clip(id))
}

// OpenQuery returns the query that tells whether ref's finding may still
// be resolved (one row of one boolean: a mismatch, or an instruction or
// movement no match took; no row: no such finding), and its argument;
// p is the engine's placeholder ("?" or "$1").
func (ref FindingRef) OpenQuery(p string) (string, any) {
	switch {
	case ref.Match != 0:
		return "SELECT state = 'mismatched' FROM recon_matches WHERE id = " + p, ref.Match
	case ref.Movement != 0:
		return "SELECT match_id IS NULL FROM recon_movements WHERE id = " + p, ref.Movement
	}
	return "SELECT match_id IS NULL FROM recon_instructions WHERE end_to_end_id = " + p, ref.EndToEndID
}
