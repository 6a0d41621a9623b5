package cms

import (
	"context"
	"time"

	"github.com/citycard/citycard"
)

// ChannelMove is one money operation's passage through a channel, as
// the store keeps it beside the operation (Booking.Channel): what
// clearing needs to pay a channel its commission per load (a partner
// bank's counters, a third-party payment company, an agent's service
// point) without reading the ledger or the audit log.
//
// A remote top-up makes two: its payment (the payer's channel, Fen the
// amount, LoadFen 0: nothing on the card yet) and its claim (channel
// TopUpClaim, Reference the top-up's ID, LoadFen the amount); a
// commission on remote top-ups is reckoned on the payment, the claim
// naming the kiosk that wrote it. A reversed load is a move of minus its
// amount, so that the loads of a channel are the sum of its moves.
type ChannelMove struct {
	Key          string // the operation's idempotency key
	At           time.Time
	Channel      Channel
	ServicePoint string // where: the operation's audit record's service point (a counter, a branch, "terminal:ID", "self", "phone")
	Actor        string // who: the clerk, terminal or holder
	Fen          int64  // paid in through the channel; below 0 paid out
	LoadFen      int64  // of it, onto a card; below 0 a load reversed
}

// ChannelStore reads the channel moves (sqlite.DB.TopUps and
// postgres.DB.TopUps implement it beside TopUpStore).
type ChannelStore interface {
	// ChannelMoves returns up to limit channel moves booked at or after
	// from and before to, with keys after after, by key.
	ChannelMoves(ctx context.Context, from, to time.Time, after string, limit int) ([]ChannelMove, error)
}

// ChannelMoveColumns, ChannelMoveArgs and ScanChannelMove are the
// stores' spelling of a channel move (cms_channel_moves), as
// CardColumns is of a card.
const ChannelMoveColumns = "op_key, at_ns, channel_type, channel_party, channel_ref, service_point, actor, fen, load_fen"

// ChannelMoveArgs returns the channel move of op in ChannelMoveColumns'
// order, or nil for an operation through no channel.
func ChannelMoveArgs(op *Operation) []any {
	b := op.Booking
	if b == nil || b.Channel.Type == 0 {
		return nil
	}
	var point, actor string
	if op.Audit != nil {
		point, actor = op.Audit.ServicePoint, op.Audit.Actor
	}
	return []any{b.Key, op.At.UnixNano(), int64(b.Channel.Type), b.Channel.Party, b.Channel.Reference, point, actor, b.ChannelFen, b.LoadFen}
}

// ScanChannelMove reads a channel move from a row of ChannelMoveColumns.
// Kind Invalid for a channel the stores never write.
func ScanChannelMove(row Scanner) (ChannelMove, error) {
	var m ChannelMove
	var at, typ int64
	if err := row.Scan(&m.Key, &at, &typ, &m.Channel.Party, &m.Channel.Reference, &m.ServicePoint, &m.Actor, &m.Fen, &m.LoadFen); err != nil {
		return ChannelMove{}, err
	}
	if typ < int64(Cash) || typ > int64(TopUpClaim) {
		return ChannelMove{}, citycard.E("cms.ScanChannelMove", citycard.Invalid, "channel move %s: channel %d", m.Key, typ)
	}
	m.Channel.Type, m.At = ChannelType(typ), time.Unix(0, at).UTC()
	return m, nil
}

// ScanChannelMoves reads every channel move of rows.
func ScanChannelMoves(rows Rows) ([]ChannelMove, error) { return scanAll(rows, ScanChannelMove) }
