package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/terminal"
)

// GateVersionsPage downloads one page, of at most limit, of the gate
// versions of the gate's application (kind at scope) numbered after
// after, and whether there may be more. Errors keep the kind the server
// answered with (NotFound: no such application of the terminal's
// operator); an answer that does not parse, or a failure to reach the
// server, is kind IO, and the gate keeps its copy.
func (c *Client) GateVersionsPage(ctx context.Context, kind card.Application, scope uint32, after int64, limit int) ([]apps.GateVersion, bool, error) {
	const op = "api.Client.GateVersionsPage"
	url := fmt.Sprintf("%s/v1/terminals/%v/entitlement-versions?kind=%v&scope=%d&after=%d&limit=%d", c.BaseURL, c.Terminal, kind, scope, after, limit)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, false, citycard.E(op, citycard.Invalid, "%w", err)
	}
	resp, err := c.do(req)
	if err != nil {
		return nil, false, citycard.E(op, citycard.IO, "%w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, false, errorFromResponse(op, resp)
	}
	var j gateVersionsJSON
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&j); err != nil {
		return nil, false, citycard.E(op, citycard.IO, "answer: %w", err)
	}
	out := make([]apps.GateVersion, len(j.Versions))
	for i, v := range j.Versions {
		cr, err := parseCard(v.Issuer, v.ASN)
		if err != nil {
			return nil, false, citycard.E(op, citycard.IO, "answer: version %d: %w", v.Seq, err)
		}
		out[i] = apps.GateVersion{Seq: v.Seq, Card: apps.CardRef{Issuer: cr.Issuer, ASN: cr.ASN}, Version: v.Version}
	}
	return out, j.More, nil
}

// SyncGateVersions brings a gate's copy of its application's gate
// versions up to the back office's, page by page after the copy's Seq,
// and returns how many pages it took. It stops after SyncPagesMax pages
// (kind Unavailable: call again); the copy's refusals keep their kinds.
func (c *Client) SyncGateVersions(ctx context.Context, kind card.Application, scope uint32, local *terminal.MinVersions) (pages int, err error) {
	const op = "api.Client.SyncGateVersions"
	limit := c.SyncPagesMax
	if limit <= 0 {
		limit = MaxSyncPages
	}
	for pages < limit {
		page, more, err := c.GateVersionsPage(ctx, kind, scope, local.Seq(), apps.GateVersionsPageMax)
		if err != nil {
			return pages, err
		}
		pages++
		if err := local.Apply(page); err != nil {
			return pages, citycard.Wrap(op, citycard.Other, err)
		}
		if !more {
			return pages, nil
		}
	}
	return pages, citycard.E(op, citycard.Unavailable, "the gate versions took more than %d pages: sync again", limit)
}
