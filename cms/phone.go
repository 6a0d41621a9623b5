package cms

import (
	"context"

	"github.com/citycard/citycard"
)

// PhoneServicePoint is the service point of the cardholder's own phone:
// the audit records and channel moves of its loads name it, with the
// holder ("holder:ID") as the actor, so that clearing and the reports
// tell a phone's claims from a kiosk's ("terminal:ID") and the app's
// payments ("self").
const PhoneServicePoint = "phone"

// phoneTerminalPrefix is the first byte of a phone's terminal ID, a
// range the registry's terminals do not use: the rest is the holder's
// ID.
const phoneTerminalPrefix = 0xFE

// phoneHolderMax is the largest holder ID a phone terminal ID holds (5
// bytes).
const phoneHolderMax = 1<<40 - 1

// PhoneTerminal is the terminal ID a cardholder's phone writes into its
// INITIALIZE FOR LOAD (and so into the card's log and the load's MACs):
// FE and the holder's ID in 5 bytes, big-endian. The host takes a phone's
// session only under its holder's ID, so that a session (its key, its
// TAC) names the phone it came from. Kind Invalid for an ID below 1 or
// over 2^40-1.
func PhoneTerminal(holder int64) (citycard.TerminalID, error) {
	var t citycard.TerminalID
	if holder < 1 || holder > phoneHolderMax {
		return t, citycard.E("cms.PhoneTerminal", citycard.Invalid, "holder %d: want 1 to %d", holder, int64(phoneHolderMax))
	}
	t[0] = phoneTerminalPrefix
	for i := 5; i >= 1; i-- {
		t[i] = byte(holder)
		holder >>= 8
	}
	return t, nil
}

// phoneActor is a holder's phone as the audit log names it.
func phoneActor(holder int64) Actor {
	return Actor{Who: holderSubject(holder), ServicePoint: PhoneServicePoint}
}

// phoneSession checks a session a holder's phone relays: the card is the
// holder's own (OwnCard: another's, or none, is the same NotFound) and
// the session's terminal is the holder's phone (kind Invalid).
func (s *SelfService) phoneSession(ctx context.Context, op string, holder int64, sess *LoadSession) error {
	if _, err := s.OwnCard(ctx, holder, sess.Issuer, sess.ASN); err != nil {
		return err
	}
	tid, err := PhoneTerminal(holder)
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	if sess.Load.TerminalID != tid {
		return citycard.E(op, citycard.Invalid, "the load names terminal %v: a phone of holder %d loads as terminal %v", sess.Load.TerminalID, holder, tid)
	}
	return nil
}

// PhoneTopUps returns the remote top-ups the holder's phone may claim on
// their own card now, oldest first (TopUps.Pending: pending, or claiming
// with the claim's TAC not yet in, offered again so that the phone's
// next tap settles it). Kinds of OwnCard, IO.
func (s *SelfService) PhoneTopUps(ctx context.Context, t *TopUps, holder int64, issuer citycard.IssuerCode, asn citycard.ASN) ([]TopUp, error) {
	if _, err := s.OwnCard(ctx, holder, issuer, asn); err != nil {
		return nil, err
	}
	return t.Pending(ctx, issuer, asn)
}

// PhoneClaim is the holder's phone's claim of remote top-up id on their
// own card (NFC): the card's INITIALIZE FOR LOAD answer s, relayed, goes
// to TopUps.Claim, the host's checks of a kiosk's claim whole (MAC1, the
// card's state and limits, its unconfirmed load settled first, a retry of
// the session answered again and booked once, an old session refused),
// and MAC2 comes back. The actor is the holder at PhoneServicePoint.
// Kinds of phoneSession (NotFound: not the holder's card; Invalid: not
// the holder's phone), TopUps.Claim.
func (s *SelfService) PhoneClaim(ctx context.Context, t *TopUps, holder int64, id string, sess *LoadSession, mac1 [4]byte) ([4]byte, error) {
	const op = "cms.SelfService.PhoneClaim"
	if err := s.phoneSession(ctx, op, holder, sess); err != nil {
		return [4]byte{}, err
	}
	return t.Claim(ctx, phoneActor(holder), id, sess, mac1)
}

// PhoneConfirm takes the card's TAC of a claim the holder's phone ran,
// to the load host of t's claims (LoadHost.Confirm: checked under the
// card's TAC key, the load confirmed; a TAC sent again is answered
// again). Kinds of phoneSession, LoadHost.Confirm.
func (s *SelfService) PhoneConfirm(ctx context.Context, t *TopUps, holder int64, sess *LoadSession, tac [4]byte) error {
	const op = "cms.SelfService.PhoneConfirm"
	if err := s.phoneSession(ctx, op, holder, sess); err != nil {
		return err
	}
	return t.host.Confirm(ctx, phoneActor(holder), sess, tac)
}
