package main

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/console"
)

// staffLogin adapts the API's staff tokens to the console's login: the
// name and the token must both match (console.StaffAuth). Card
// management's stored staff accounts will replace it.
type staffLogin struct{ staff api.StaffAuth }

func (l staffLogin) Login(ctx context.Context, name, secret string) (console.Staff, error) {
	const op = "citycard.staffLogin"
	st, err := l.staff.AuthenticateStaff(ctx, secret)
	if err != nil {
		return console.Staff{}, err
	}
	if subtle.ConstantTimeCompare([]byte(st.Name), []byte(name)) != 1 {
		return console.Staff{}, citycard.E(op, citycard.Unauthenticated, "name and token do not match")
	}
	return console.Staff{Name: st.Name, Role: console.Role(st.Role)}, nil
}

// withConsole serves the console at / beside the API (its /v1/ routes,
// /healthz and /metrics), over the acquirer and stores the API uses.
func withConsole(apiH http.Handler, s *api.Server, j console.Journal, ts console.Terminals, bl *blacklist.List, secure bool, logger *slog.Logger) (http.Handler, error) {
	c := &console.Console{
		Staff: staffLogin{s.Staff}, Acquirer: s.Acquirer, Journal: j, Terminals: ts, Blacklist: bl,
		Now: time.Now, Logger: logger, Secure: secure,
	}
	if s.Replays != nil {
		c.Replays = s.Replays
	}
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
