package console

import (
	"fmt"
	"net/http"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
)

// Keys lists the key store's keys by their metadata (keys.Store has it):
// issuer, type, version, algorithm, KCV, origin, creation, active. The
// console never asks the store for anything else, so no key material can
// reach a page.
type Keys interface {
	List() ([]keys.Info, error)
}

type keyRow struct {
	Ref     string
	Issuer  string
	Type    string
	Version uint8
	Alg     string
	KCV     string
	Active  bool
	Origin  string
	Created string
}

type keysPage struct {
	Configured bool
	Rows       []keyRow
	Cut        bool
}

// handleKeys shows the key versions per issuer and type with their check
// values, and the ceremony each came from (the store's origin: "components
// 2 of 2", "generated"): the store records no more of a ceremony.
func (c *Console) handleKeys(w http.ResponseWriter, r *http.Request, s *session) {
	p := keysPage{Configured: c.Keys != nil}
	if c.Keys != nil {
		infos, err := c.Keys.List()
		if err != nil {
			c.fail(w, r, s, citycard.Wrap("console.keys", citycard.Other, err))
			return
		}
		for _, i := range infos {
			if len(p.Rows) == maxTableRows {
				p.Cut = true
				break
			}
			p.Rows = append(p.Rows, keyRow{Ref: i.Ref.String(), Issuer: i.Issuer.String(), Type: i.Type.String(), Version: i.Version,
				Alg: i.Alg.String(), KCV: fmt.Sprintf("%X", i.KCV), Active: i.Active, Origin: i.Origin, Created: i.Created.In(citycard.ChinaTime).Format(time.DateTime)})
		}
	}
	c.render(w, r, s, http.StatusOK, "keys", "Keys", p)
}
