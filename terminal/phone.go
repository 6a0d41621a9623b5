package terminal

import (
	"errors"
	"fmt"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/card"
)

// ErrCreditUnknown is the error of a phone load whose CREDIT FOR LOAD was
// sent and not answered (the card left the field, or answered with no
// TAC): the card may have credited. The phone keeps nothing; the host
// holds the load unconfirmed and settles it from the card's next session
// (its online counter shows whether the card credited).
var ErrCreditUnknown = errors.New("the card's answer to CREDIT FOR LOAD was lost: it may have credited, and its next load settles it")

// PhoneResult is what a load on the cardholder's phone did.
type PhoneResult struct {
	Card         card.BasicData
	Request      LoadRequest // the session as the host was asked
	TAC          [4]byte
	BalanceAfter int64 // fen
}

// PhoneLoad runs the online load (DESIGN.md's flow 1) on a card held to
// a reader that is no terminal of ours, the cardholder's own phone
// (NFC): it selects the e-purse, reads the public data, sends INITIALIZE
// FOR LOAD under the newest of keyVersions the card knows, with terminal
// ID tid (the phone's, as the host expects it) and the date and time of
// now in China time; asks host for MAC2, sends CREDIT FOR LOAD, and hands
// the card's TAC to host. A phone has no PSAM, no spool and no memory of
// a torn load: the host is the record of a phone's loads, and a CREDIT
// whose answer is lost is ErrCreditUnknown (kind as the card's failure),
// settled by the host at the card's next session. Errors: the card's
// (kind Conflict, ErrBlocked, for a blocked application), the host's.
func PhoneLoad(cd apdu.Transport, tid citycard.TerminalID, keyVersions []uint8, now time.Time, amountFen uint32, host LoadHost) (PhoneResult, error) {
	const op = "terminal.PhoneLoad"
	var res PhoneResult
	if len(keyVersions) == 0 {
		return res, citycard.E(op, citycard.Invalid, "no card key version to load under")
	}
	c := device{name: "card", t: cd}
	pub, err := readPublic(op, c)
	if err != nil {
		return res, err
	}
	res.Card = pub
	req, tac, torn, err := creditLoad(op, c, keyVersions, tid, pub, now.In(citycard.ChinaTime), amountFen, host)
	res.Request = req
	switch {
	case torn:
		return res, &citycard.Error{Op: op, Kind: citycard.KindOf(err), Err: fmt.Errorf("card %v: %w: %w", pub.ASN, ErrCreditUnknown, err)}
	case err != nil:
		return res, err
	}
	res.TAC = [4]byte(tac)
	res.BalanceAfter = int64(req.Load.BalanceBefore) + int64(amountFen)
	if err := host.ConfirmLoad(req, res.TAC); err != nil {
		return res, citycard.Wrap(op, citycard.Other, err)
	}
	return res, nil
}
