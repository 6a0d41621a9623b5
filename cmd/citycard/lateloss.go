package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/cms"
)

// lateLossEvery is how often serve has the issuer bear the old cards'
// late records (settleLateLosses): each sweep reads every card of card
// management and the journal once a page of the closed ones.
const lateLossEvery = time.Hour

// settleLateLosses sweeps, every lateLossEvery until ctx ends, the cards
// closed with a cut (their balance moved to a replacement or refunded
// after a loss or damage report) for the records that came after their
// balance was reckoned, and books what the issuer bears of them
// (api.ShadowBalances.SettleLateLosses, cms.Manager.SettleLateLoss); a
// fault is logged and tried again at the next sweep.
func settleLateLosses(ctx context.Context, b api.ShadowBalances, logger *slog.Logger) {
	by := cms.Actor{Who: "late loss settler", ServicePoint: "back office"}
	every(ctx, lateLossEvery, func() {
		var n int
		var fen int64
		err := b.Cards.ClosedCut(ctx, func(cards []cms.Card) error {
			k, f, err := b.SettleLateLosses(ctx, by, cards)
			n, fen = n+k, fen+f
			return err
		})
		if err != nil {
			logger.Warn("settling the late losses of closed lost cards", "err", err)
		}
		if n > 0 {
			logger.Info("late losses borne by the issuer", "cards", n, "fen", fen)
		}
	})
}
