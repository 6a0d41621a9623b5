package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"text/tabwriter"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/api"
)

// dormantRowsMax bounds the cards citycard card dormant reads, page by
// page from the API (1,000 a page): a city with more dormant cards than
// this is told so and reads the rest with the API's after=.
const dormantRowsMax = 100_000

// dormantRow is a dormant card as the API reports it, the rows of
// --format json.
type dormantRow = api.DormantCardJSON

// cardDormant prints the dormancy report: every page of the API's, at
// most dormantRowsMax cards.
func cardDormant(ctx context.Context, e env, c *apiClient, format string) error {
	if format != "table" && format != "csv" && format != "json" {
		return fmt.Errorf("card dormant: --format %q: want table, csv or json: %w", format, errUsage)
	}
	rows := []dormantRow{}
	after, cut := "", false
	for {
		path := "/v1/cards/dormant"
		if after != "" {
			path += "?after=" + url.QueryEscape(after)
		}
		_, b, err := c.call(ctx, "GET", path, nil)
		if err != nil {
			return err
		}
		var page struct {
			Cards     []dormantRow `json:"cards"`
			NextAfter string       `json:"next_after"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return fmt.Errorf("card dormant: the answer: %w", err)
		}
		rows = append(rows, page.Cards...)
		if page.NextAfter == "" {
			break
		}
		if len(rows) >= dormantRowsMax {
			cut = true
			fmt.Fprintf(e.stderr, "citycard card dormant: %d cards shown, more after %s (GET /v1/cards/dormant?after=%s)\n", len(rows), page.NextAfter, page.NextAfter)
			break
		}
		after = page.NextAfter
	}
	if err := writeDormant(e.stdout, format, rows); err != nil {
		return err
	}
	if cut && format == "table" {
		fmt.Fprintln(e.stdout, "(more: see stderr)")
	}
	return nil
}

func writeDormant(w io.Writer, format string, rows []dormantRow) error {
	switch format {
	case "json":
		return json.NewEncoder(w).Encode(rows)
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write([]string{"issuer", "asn", "product", "holder_id", "state", "issued_at", "last_use", "dormant_since", "book_balance_fen"})
		for _, r := range rows {
			cw.Write([]string{r.Issuer, r.ASN, r.Product, strconv.FormatInt(r.HolderID, 10), r.State, r.IssuedAt, r.LastUse, r.DormantSince, strconv.FormatInt(r.BookBalanceFen, 10)})
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CARD\tPRODUCT\tHOLDER\tSTATE\tISSUED\tLAST USE\tDORMANT SINCE\tBALANCE (YUAN)")
	var fen int64
	for _, r := range rows {
		last := r.LastUse
		if last == "" {
			last = "never"
		}
		fmt.Fprintf(tw, "%s/%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", r.Issuer, r.ASN, r.Product, r.HolderID, r.State, r.IssuedAt, last, r.DormantSince, citycard.Yuan(r.BookBalanceFen))
		fen += r.BookBalanceFen
	}
	fmt.Fprintf(tw, "%d dormant cards, %s yuan left on them (reported, never drained)\n", len(rows), citycard.Yuan(fen))
	return tw.Flush()
}
