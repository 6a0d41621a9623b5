package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/terminal"
)

// Client is a terminal's connection to the back office. It implements
// terminal.Sender.
type Client struct {
	BaseURL  string // "http://127.0.0.1:8080"
	Terminal citycard.TerminalID
	Token    string
	HTTP     *http.Client // nil: http.DefaultClient
	// SyncPagesMax bounds the pages one SyncBlacklist asks for; 0:
	// MaxSyncPages.
	SyncPagesMax int
}

var _ terminal.Sender = (*Client)(nil)

func (c *Client) do(req *http.Request) (*http.Response, error) {
	req.Header.Set("Authorization", "Bearer "+c.Token)
	h := c.HTTP
	if h == nil {
		h = http.DefaultClient
	}
	return h.Do(req)
}

// Upload sends a batch in the binary form and returns the back office's
// answer. Errors keep the kind the server answered with (Invalid: refused
// whole; Conflict: the batch ID was used for other records; IO or
// Unavailable: nothing was decided, retry, after RetryAfter(err) when the
// server says); a failure to reach it is kind IO.
func (c *Client) Upload(ctx context.Context, b terminal.UploadBatch) (acquire.Answer, error) {
	const op = "api.Client.Upload"
	var ans acquire.Answer
	var body bytes.Buffer
	for _, r := range b.Records {
		body.Write(r)
	}
	url := fmt.Sprintf("%s/v1/terminals/%v/batches", c.BaseURL, c.Terminal)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, &body)
	if err != nil {
		return ans, citycard.E(op, citycard.Invalid, "%w", err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set(HeaderBatchID, b.ID)
	req.Header.Set(HeaderCount, strconv.Itoa(len(b.Records)))
	req.Header.Set(HeaderAmount, strconv.FormatInt(b.AmountFen, 10))
	resp, err := c.do(req)
	if err != nil {
		return ans, citycard.E(op, citycard.IO, "%w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ans, errorFromResponse(op, resp)
	}
	var j answerJSON
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&j); err != nil {
		return ans, citycard.E(op, citycard.IO, "answer: %w", err)
	}
	return j.answer(), nil
}

// SendBatch implements terminal.Sender.
func (c *Client) SendBatch(ctx context.Context, b terminal.UploadBatch) ([]bool, error) {
	ans, err := c.Upload(ctx, b)
	if err != nil {
		return nil, err
	}
	if len(ans.Records) != len(b.Records) {
		return nil, citycard.E("api.Client.SendBatch", citycard.IO, "%d answers for %d records", len(ans.Records), len(b.Records))
	}
	out := make([]bool, len(ans.Records))
	for i, r := range ans.Records {
		switch r.Status {
		case "accepted", "flagged", "duplicate", "rejected":
			out[i] = true
		}
	}
	return out, nil
}

// Blacklist downloads the blacklist changes since version since. Errors
// keep the kind the server answered with (Invalid: since is ahead of the
// list); an answer that does not parse, or a failure to reach the server,
// is kind IO, and the terminal keeps its copy.
func (c *Client) Blacklist(ctx context.Context, since int64) (blacklist.Delta, error) {
	return c.BlacklistPage(ctx, since, nil, blacklist.MaxDeltaItems)
}

// MaxSyncPages is the default bound of Client.SyncPagesMax: 200 pages of
// 10,000 cards, a list of two million.
const MaxSyncPages = 200

// SyncBlacklist brings a terminal's copy of the blacklist up to the back
// office's, page by page (the whole list if the copy is too old, then the
// changes made meanwhile), and returns how many pages it took. It stops
// after SyncPagesMax pages (kind Unavailable: call again); a page the copy
// refuses (kind Conflict) starts the whole list again once.
func (c *Client) SyncBlacklist(ctx context.Context, local *blacklist.List) (pages int, err error) {
	const op = "api.Client.SyncBlacklist"
	restarted, whole := false, false
	limit := c.SyncPagesMax
	if limit <= 0 {
		limit = MaxSyncPages
	}
	for pages < limit {
		since, after := local.Cursor()
		if whole {
			since, after, whole = 0, nil, false
		}
		d, err := c.BlacklistPage(ctx, since, after, blacklist.MaxDeltaItems)
		if err != nil {
			return pages, err
		}
		pages++
		if err := local.Apply(d); err != nil {
			if !citycard.IsKind(err, citycard.Conflict) || restarted {
				return pages, citycard.Wrap(op, citycard.Other, err)
			}
			restarted, whole = true, true
			continue
		}
		if d.More {
			continue
		}
		// The last page of the whole list leaves the copy at the first
		// page's version: current unless the list changed meanwhile.
		if v, a := local.Cursor(); a == nil && (!d.Full || v == d.Version) {
			return pages, nil
		}
	}
	return pages, citycard.E(op, citycard.Unavailable, "the blacklist took more than %d pages: sync again", limit)
}

// BlacklistPage downloads one page, of at most limit cards or changes,
// of what a copy of the blacklist at version since needs: the changes
// after since, or a page of the whole list (after the card after, nil:
// the first page).
func (c *Client) BlacklistPage(ctx context.Context, since int64, after *blacklist.Card, limit int) (blacklist.Delta, error) {
	const op = "api.Client.Blacklist"
	var d blacklist.Delta
	url := fmt.Sprintf("%s/v1/terminals/%v/blacklist?since=%d&limit=%d", c.BaseURL, c.Terminal, since, limit)
	if after != nil {
		url += fmt.Sprintf("&after_issuer=%v&after_asn=%v", after.Issuer, after.ASN)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return d, citycard.E(op, citycard.Invalid, "%w", err)
	}
	resp, err := c.do(req)
	if err != nil {
		return d, citycard.E(op, citycard.IO, "%w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return d, errorFromResponse(op, resp)
	}
	var j deltaJSON
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&j); err != nil {
		return d, citycard.E(op, citycard.IO, "answer: %w", err)
	}
	if d, err = j.delta(); err != nil {
		return d, citycard.E(op, citycard.IO, "answer: %w", err) // the server's fault: ask again later
	}
	return d, nil
}
