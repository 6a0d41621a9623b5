package terminal

import (
	"fmt"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/card"
)

// category returns the rider category a tap of the card is priced at,
// and why it is not the card's own ("" when it is). A card whose basic
// data names a concession category (Config.Concessions) travels in it
// while its entitlement file holds the concession slot of that category
// valid on now's day (China time), under a grant MAC the PSAM verifies; else, with no file,
// no such slot, a slot past its last day or a file forged, in the
// category it lapses to. Errors are the card's and the PSAM's faults (a
// PSAM lacking the application key: KeyMissing), not a lapse.
func (t *Terminal) category(op string, c device, pub card.BasicData, now time.Time) (uint8, string, error) {
	lapsed, ok := t.cfg.Concessions[pub.RiderCategory]
	if !ok {
		return pub.RiderCategory, "", nil
	}
	lapse := func(why string) (uint8, string, error) {
		return lapsed, fmt.Sprintf("concession %d lapsed (%s): priced as category %d", pub.RiderCategory, why, lapsed), nil
	}
	b, _, err := c.send(op, "READ BINARY 1A", readBinaryCmd(card.SFIEntitlements, 0, 0))
	if SWOf(err) == apdu.SWFileNotFound {
		return lapse("no entitlement file")
	}
	if err != nil {
		return 0, "", err
	}
	f, err := card.ParseEntitlements(b)
	if err != nil {
		return lapse("the entitlement file does not parse")
	}
	i := f.Find(card.AppConcession, uint32(pub.RiderCategory))
	if i < 0 {
		return lapse("no review on the card")
	}
	if _, err := openStamp(op, t.psam, &pub, &f); SWOf(err) == apdu.SWMACInvalid {
		return lapse("the grant MAC does not verify")
	} else if err != nil {
		return 0, "", err
	}
	if today, _ := citycard.DateTime(now); !f.Slots[i].ValidOn(today) {
		return lapse("reviewed until " + f.Slots[i].ValidTo.String())
	}
	return pub.RiderCategory, "", nil
}
