package acquire

import (
	"context"
	"strconv"
	"strings"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/record"
)

// Resubmission is the audit of one resubmitted rejection: which, and who
// asked. It is kept in the answer of the batch that resubmitted it, in
// the journal (append-only, committed with what the resubmission booked,
// at the batch's time).
type Resubmission struct {
	Rejection int64  `json:"rejection_pos"`
	By        string `json:"by"`
}

// MaxResubmitterLen bounds the name of who resubmits.
const MaxResubmitterLen = 64

// ResubmitBatchID names the batch that resubmits rejection pos. There is
// one per rejection, so that resubmitting a rejection again answers the
// first resubmission: each rejection is resubmitted exactly once, however
// often staff ask, and whoever asks.
func ResubmitBatchID(pos int64) string { return ResubmitPrefix + strconv.FormatInt(pos, 10) }

// Resubmit runs the acquisition rules again on kept rejection r, with the
// registry and the keys as they are now: a record rejected for a reason
// staff have since fixed (a terminal registered late, a PSAM swapped in
// the registry, a key version loaded late) is decided as if uploaded now,
// by the terminal that uploaded it, as one batch of its own
// (ResubmitBatchID). by names who asks; the answer keeps it (Answer.
// Resubmission). A rejection resubmitted before is answered from the
// journal (Answer.Repeat), and books nothing again; its record may still
// be a duplicate of one booked since, which the rules say.
//
// Kind Invalid for a rejection that does not hold a whole record, or an
// empty or overlong by; the errors of Submit otherwise.
func (a *Acquirer) Resubmit(ctx context.Context, r PositionedRejection, by string) (Answer, error) {
	const op = "acquire.Resubmit"
	by = strings.TrimSpace(by)
	if by == "" || len(by) > MaxResubmitterLen {
		return Answer{}, citycard.E(op, citycard.Invalid, "who resubmits: %d bytes, want 1 to %d", len(by), MaxResubmitterLen)
	}
	if len(r.Raw) != record.Size {
		return Answer{}, citycard.E(op, citycard.Invalid, "rejection %d holds %d bytes, not a %d-byte record: nothing to resubmit", r.Pos, len(r.Raw), record.Size)
	}
	b := Batch{Terminal: r.Terminal, ID: ResubmitBatchID(r.Pos), Count: 1, Body: r.Raw}
	fen, _ := record.AmountOf(r.Raw)
	b.AmountFen = int64(fen)
	if err := checkBody(&b); err != nil {
		return Answer{}, citycard.Wrap(op, citycard.Invalid, err)
	}
	return a.submitWith(ctx, op, b, &Resubmission{Rejection: r.Pos, By: by})
}

// Rejection returns the rejection at position pos. Kind NotFound if there
// is none.
func (a *Acquirer) Rejection(ctx context.Context, pos int64) (PositionedRejection, error) {
	const op = "acquire.Rejection"
	if pos < 1 {
		return PositionedRejection{}, citycard.E(op, citycard.Invalid, "rejection position %d: positions start at 1", pos)
	}
	rs, err := a.cfg.Journal.QueryRejections(ctx, RejectionFilter{After: pos - 1, Limit: 1})
	if err != nil {
		return PositionedRejection{}, citycard.Wrap(op, citycard.IO, err)
	}
	if len(rs) == 0 || rs[0].Pos != pos {
		return PositionedRejection{}, citycard.E(op, citycard.NotFound, "no rejection %d", pos)
	}
	return rs[0], nil
}

// ResubmissionOf returns the answer of rejection r's resubmission; ok is
// false if it was never resubmitted. Errors of the journal pass through.
func ResubmissionOf(ctx context.Context, j Journal, r *PositionedRejection) (ans Answer, ok bool, err error) {
	sb, ok, err := j.Batch(ctx, r.Terminal, ResubmitBatchID(r.Pos))
	if err != nil || !ok {
		return Answer{}, false, err
	}
	ans, err = repeatAnswer("acquire.ResubmissionOf", &sb, sb.Hash)
	ans.Repeat = false
	return ans, err == nil, err
}

// Resubmission is ResubmissionOf over the acquirer's journal.
func (a *Acquirer) Resubmission(ctx context.Context, r *PositionedRejection) (Answer, bool, error) {
	return ResubmissionOf(ctx, a.cfg.Journal, r)
}
