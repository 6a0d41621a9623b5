package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/citycard/citycard/api"
)

// cardAdjust runs citycard card adjust CARD (see cardUsage): a manual
// adjustment of the card's money through the API, which always waits
// for a supervisor's approval first. Exactly one of credit and debit is
// given; the rules (the amount's bounds, where an adjustment may apply)
// are the API's.
func cardAdjust(ctx context.Context, e env, c *apiClient, path string, credit, debit int64, reason, key string, approval int64) error {
	direction, fen := "credit", credit
	switch {
	case credit != 0 && debit != 0, credit == 0 && debit == 0:
		return fmt.Errorf("card adjust: want one of --credit FEN and --debit FEN: %w", errUsage)
	case debit != 0:
		direction, fen = "debit", debit
	}
	body := map[string]any{"key": key, "direction": direction, "amount_fen": fen, "reason": reason, "approval_id": approval}
	return c.approvable(ctx, e, path+"/adjustments", body, "citycard card adjust: nothing was moved: a supervisor other than you approves the request (citycard card approve ID), then run this again with --approval ID")
}

// approvable posts body to path, a request a supervisor may have to
// approve first, and prints the API's answer; an answer 202 (an
// approval asked for, nothing done) says so on stderr with hint.
func (c *apiClient) approvable(ctx context.Context, e env, path string, body map[string]any, hint string) error {
	code, b, err := c.call(ctx, "POST", path, body)
	if err != nil {
		return err
	}
	if err := printIndented(e.stdout, b); err != nil {
		return err
	}
	if code == 202 {
		fmt.Fprintln(e.stderr, hint)
	}
	return nil
}

// cardAdjustments prints a card's manual adjustments, newest first: a
// table, or the API's JSON with asJSON.
func cardAdjustments(ctx context.Context, e env, c *apiClient, path string, asJSON bool) error {
	_, b, err := c.call(ctx, "GET", path+"/adjustments", nil)
	if err != nil {
		return err
	}
	var rows []api.AdjustmentJSON
	if err := json.Unmarshal(b, &rows); err != nil {
		return fmt.Errorf("card adjustments: the answer: %w", err)
	}
	if asJSON {
		return json.NewEncoder(e.stdout).Encode(rows)
	}
	return writeAdjustments(e.stdout, rows)
}

func writeAdjustments(w io.Writer, rows []api.AdjustmentJSON) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "APPROVAL\tSTATE\tDIRECTION\tFEN\tMADE\tREQUESTED BY\tDECIDED BY\tREQUESTED AT\tKEY\tTOP-UP\tREASON")
	for _, r := range rows {
		made, decided, topUp := "no", r.DecidedBy, r.TopUp
		if r.Made {
			made = "yes"
		}
		if decided == "" {
			decided = "-"
		}
		if topUp == "" {
			topUp = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", strconv.FormatInt(r.ApprovalID, 10), r.State, r.Direction, r.AmountFen,
			made, r.RequestedBy, decided, r.RequestedAt, r.Key, topUp, strconv.Quote(r.Reason))
	}
	if len(rows) == 0 {
		fmt.Fprintln(tw, "(no adjustments)")
	}
	return tw.Flush()
}
