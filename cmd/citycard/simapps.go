package main

import (
	crand "crypto/rand"

	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/apps"
)

// Apps implements city.BackOffice: the application systems' office as
// serve wires it (its grants asking card management whether a card may
// have one), on the city's clock, over the running store, and card
// management's audit log for Follow.
func (b *simBackOffice) Apps() (*apps.Office, apps.Lifecycle) {
	if b.st == nil {
		return nil, nil
	}
	return apps.NewOffice(b.st.apps, b.now, crand.Reader).WithCards(api.CMSCards{Store: b.st.cms}), api.CMSLifecycle{Store: b.st.cms}
}
