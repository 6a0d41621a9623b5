package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/console"
)

// staffLogin adapts the stored staff accounts to the console's login
// (console.StaffAuth): the name and password, rate-limited as the API's
// login (cms.Staffing.Check). console.Role has cms.Role's values.
type staffLogin struct{ staff *cms.Staffing }

func (l staffLogin) Login(ctx context.Context, name, secret string) (console.Staff, error) {
	m, err := l.staff.Check(ctx, name, secret)
	if err != nil {
		return console.Staff{}, err
	}
	return console.Staff{Name: m.Name, Role: console.Role(m.Role), ServicePoint: m.ServicePoint}, nil
}

// withConsole serves the console at / beside the API (its /v1/ routes,
// /healthz and /metrics), over the acquirer and stores the API uses.
func withConsole(apiH http.Handler, s *api.Server, login console.StaffAuth, j console.Journal, ts console.Terminals, bl *blacklist.List, more consoleMore, secure bool, logger *slog.Logger) (http.Handler, error) {
	c := &console.Console{
		Staff: login, Acquirer: s.Acquirer, Journal: j, Terminals: ts, Blacklist: bl,
		Now: time.Now, Logger: logger, Secure: secure,
	}
	if s.Replays != nil {
		c.Replays = s.Replays
	}
	if s.Cards != nil {
		c.Cards = console.CMS{Manager: s.Cards, Staffing: s.Staffing, Balances: s.ShadowBalances(), RefundApprovalFen: s.RefundApprovalFen}
	}
	if s.Apps != nil {
		c.Apps = s.Apps
	}
	more.set(c)
	ch, err := c.Handler()
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/", apiH)
	mux.Handle("/healthz", apiH)
	mux.Handle("/metrics", apiH)
	mux.Handle("/", ch)
	return mux, nil
}
