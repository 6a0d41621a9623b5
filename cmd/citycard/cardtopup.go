package main

import (
	"context"
	"fmt"

	"github.com/citycard/citycard/cms"
)

// cardTopUp runs citycard card topup SUBCOMMAND (see cardUsage): the
// remote top-ups (补登) of a card, through the API.
func cardTopUp(ctx context.Context, e env, c *apiClient, pos []string, key, channel, party, reference string, amountFen int64) error {
	if len(pos) == 0 {
		return fmt.Errorf("card topup: want pay, list, show, refund or sweep: %w", errUsage)
	}
	cmd, args := pos[0], pos[1:]
	if cmd == "sweep" {
		if len(args) != 0 {
			return fmt.Errorf("card topup sweep: no argument: %w", errUsage)
		}
		return c.show(ctx, e.stdout, "POST", "/v1/topups/sweep", nil)
	}
	if len(args) != 1 {
		return fmt.Errorf("card topup %s: want one argument after it, have %d: %w", cmd, len(args), errUsage)
	}
	switch cmd {
	case "show", "refund":
		id, err := cms.ParseTopUpID(args[0])
		if err != nil {
			return fmt.Errorf("card topup %s: %w: %w", cmd, err, errUsage)
		}
		if cmd == "show" {
			return c.show(ctx, e.stdout, "GET", "/v1/topups/"+id, nil)
		}
		return c.show(ctx, e.stdout, "POST", "/v1/topups/"+id+"/refund", nil)
	case "pay", "list":
		issuer, asn, err := splitCard(args[0])
		if err != nil {
			return fmt.Errorf("card topup %s: %w: %w", cmd, err, errUsage)
		}
		path := "/v1/cards/" + issuer.String() + "/" + asn.String() + "/topups"
		if cmd == "list" {
			return c.show(ctx, e.stdout, "GET", path, nil)
		}
		return c.show(ctx, e.stdout, "POST", path, map[string]any{"key": key, "amount_fen": amountFen,
			"payer": channel, "payer_party": party, "payer_reference": reference})
	}
	return fmt.Errorf("card topup: unknown command %q: want pay, list, show, refund or sweep: %w", cmd, errUsage)
}
