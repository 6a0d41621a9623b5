package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/citycard/citycard"
)

const cardUsage = `usage: citycard card <command> [ISSUER/ASN] [flags]

Card management at a service point, through the API (the member of
staff's session token: $CITYCARD_TOKEN or --token-file; the API at
--server, $CITYCARD_SERVER, else http://127.0.0.1:8080). A card is named
ISSUER/ASN (16 hex digits / 16 or 20 hex digits). Every answer is
printed as the API's JSON.

  register --name N --doc-type T --doc-number D --born YYYY-MM-DD [--phone P] [--school S --studies-end YYYY-MM-DD]
                   a cardholder (the answer is masked)
  holder ID        show a cardholder, masked
  apply CARD --product P [--holder ID]
                   apply for a card (--holder 0, the default: an anonymous card)
  issue CARD --key K --party P [--channel C] [--reference R] [--load-fen N]
                   sell it: deposit, issue fee, a first load
  activate CARD    activate an issued card at the counter
  show CARD        the card and its book balance
  loss CARD        report it lost: the cut of liability, and onto the blacklist
  unloss CARD      cancel the report: off the blacklist
  replace CARD --new-asn ASN --key K --party P [--channel C] [--reference R]
                   a new card for a lost or damaged one, the replacement fee paid through the channel
  refund CARD --key K --party P [--channel C] [--reference R] [--approval ID]
                   refund and close it, paid out through the channel; over the
                   approval limit it answers an approval request (202): a
                   supervisor approves it, then the same command again with --approval ID
  approve ID | reject ID
                   decide an approval request (a supervisor, not its requester)
  adjust CARD --credit FEN|--debit FEN --reason R --key K [--approval ID]
                   a manual adjustment of the card's money: it answers an
                   approval request (202) first, a supervisor who is not you
                   approves it, then the same command again with --approval ID
                   makes it. A damaged or replaced card's book is credited
                   or debited (never below 0); a card in use is credited by
                   a remote top-up claimed at its next tap, and never
                   debited (report it damaged, or lost and replace it, first)
  adjustments CARD [--json]
                   the card's adjustments, newest first: each request, its
                   approval and whether it was made
  topup pay CARD --key K --amount-fen N --channel C --party P [--reference R]
                   a remote top-up (补登) paid for the card online (bank_card,
                   third_party with its reference, partner_bank): held until
                   the card's next kiosk, counter reader or phone claims it
  topup list CARD  the card's remote top-ups, newest first
  topup show ID | topup refund ID
                   a remote top-up (16 hex digits); refund a pending one to its payer
  topup sweep      expire the top-ups past their claim time, refunded to their
                   payers (a supervisor)
  move-balance CARD --key K
                   move a replaced card's balance as of its loss report onto its
                   replacement, once the cooling period is over
  review CARD      a concession card's annual review (年审) today: the cardholder
                   checked again; the answer's review_due is the next
  expire CARD      expire a card past its last day of validity
  renew CARD       renew an active or expired card: the answer's expiry is the new one
  expire-due       the clock's expiry at once (serve runs it hourly): the cards
                   past their validity expired, at most 500 a run (a supervisor)
  dormant [--format table|csv|json]
                   the registered cards unused for their product's dormant_years,
                   with the balance left on them (reported, never drained)

--key is the operation's idempotency key: the same command again with
the same key books nothing twice. Channels: cash (the default), bank_card,
third_party, partner_bank; --party names the registry party whose
settlement account the money passes through.

flags:
`

// splitCard reads ISSUER/ASN. Kind Invalid.
func splitCard(s string) (citycard.IssuerCode, citycard.ASN, error) {
	i, a, ok := strings.Cut(s, "/")
	if !ok {
		return citycard.IssuerCode{}, citycard.ASN{}, citycard.E("citycard.card", citycard.Invalid, "card %q: want ISSUER/ASN", s)
	}
	issuer, err := citycard.ParseIssuerCode(i)
	if err != nil {
		return issuer, citycard.ASN{}, err
	}
	asn, err := citycard.ParseASN(a)
	return issuer, asn, err
}

func runCard(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("card", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, cardUsage); fs.PrintDefaults() }
	name := fs.String("name", "", "register: the cardholder's name")
	docType := fs.String("doc-type", "resident_id", "register: resident_id, passport, hk_macau_permit, taiwan_permit or foreign_permanent_card")
	docNumber := fs.String("doc-number", "", "register: the document's number")
	born := fs.String("born", "", "register: date of birth, YYYY-MM-DD")
	phone := fs.String("phone", "", "register: a mobile number")
	school := fs.String("school", "", "register: a student's school")
	studiesEnd := fs.String("studies-end", "", "register: a student's last day of studies, YYYY-MM-DD")
	product := fs.String("product", "", "apply: the product (the products file's ID)")
	holder := fs.Int64("holder", 0, "apply: the cardholder's ID (0: an anonymous card)")
	key := fs.String("key", "", "issue, replace, refund, topup pay, adjust: the idempotency key")
	channel := fs.String("channel", "cash", "issue, replace, refund, topup pay: cash, bank_card, third_party or partner_bank (a top-up: not cash)")
	party := fs.String("party", "", "issue, replace, refund, topup pay: the channel's registry party")
	reference := fs.String("reference", "", "issue, replace, refund, topup pay: the payment's reference")
	loadFen := fs.Int64("load-fen", 0, "issue: a first load, in fen")
	newASN := fs.String("new-asn", "", "replace: the new card's ASN")
	approval := fs.Int64("approval", 0, "refund, adjust: the approval request's ID, once approved")
	credit := fs.Int64("credit", 0, "adjust: the amount credited, in fen")
	debit := fs.Int64("debit", 0, "adjust: the amount debited, in fen")
	reason := fs.String("reason", "", "adjust: why (1 to 200 bytes)")
	asJSON := fs.Bool("json", false, "adjustments: the API's JSON instead of a table")
	amountFen := fs.Int64("amount-fen", 0, "topup pay: the amount, in fen")
	format := fs.String("format", "table", "dormant: table (for a person), csv or json (for a program)")
	pos, c, err := parseAPICommand(fs, args, e)
	if err != nil {
		return err
	}
	cmd := pos[0]
	if cmd == "topup" {
		return cardTopUp(ctx, e, c, pos[1:], *key, *channel, *party, *reference, *amountFen)
	}
	arg := func() (string, error) {
		if len(pos) != 2 {
			return "", fmt.Errorf("card %s: want one argument after it, have %d: %w", cmd, len(pos)-1, errUsage)
		}
		return pos[1], nil
	}
	if cmd == "dormant" {
		if len(pos) != 1 {
			return fmt.Errorf("card dormant: no argument, only flags: %w", errUsage)
		}
		return cardDormant(ctx, e, c, *format)
	}
	if cmd == "expire-due" {
		if len(pos) != 1 {
			return fmt.Errorf("card expire-due: no argument: %w", errUsage)
		}
		return c.show(ctx, e.stdout, "POST", "/v1/cards/expire-due", nil)
	}
	if cmd == "register" {
		if len(pos) != 1 {
			return fmt.Errorf("card register: no argument, only flags: %w", errUsage)
		}
		return c.show(ctx, e.stdout, "POST", "/v1/cardholders", map[string]string{"name": *name, "doc_type": *docType,
			"doc_number": *docNumber, "date_of_birth": *born, "phone": *phone, "school": *school, "studies_end": *studiesEnd})
	}
	a, err := arg()
	if err != nil {
		return err
	}
	switch cmd {
	case "holder":
		if _, err := strconv.ParseInt(a, 10, 64); err != nil {
			return fmt.Errorf("card holder: %q is no cardholder ID: %w", a, errUsage)
		}
		return c.show(ctx, e.stdout, "GET", "/v1/cardholders/"+a, nil)
	case "approve", "reject":
		if _, err := strconv.ParseInt(a, 10, 64); err != nil {
			return fmt.Errorf("card %s: %q is no approval ID: %w", cmd, a, errUsage)
		}
		return c.show(ctx, e.stdout, "POST", "/v1/approvals/"+a+"/"+cmd, nil)
	}
	issuer, asn, err := splitCard(a)
	if err != nil {
		return fmt.Errorf("card %s: %w: %w", cmd, err, errUsage)
	}
	path := "/v1/cards/" + issuer.String() + "/" + asn.String()
	ch := map[string]any{"key": *key, "channel": *channel, "channel_party": *party, "channel_reference": *reference}
	switch cmd {
	case "apply":
		return c.show(ctx, e.stdout, "POST", "/v1/cards", map[string]any{"issuer": issuer.String(), "asn": asn.String(), "product": *product, "holder_id": *holder})
	case "show":
		return c.show(ctx, e.stdout, "GET", path, nil)
	case "activate", "loss", "unloss", "review", "expire", "renew":
		return c.show(ctx, e.stdout, "POST", path+"/"+cmd, nil)
	case "issue":
		ch["load_fen"] = *loadFen
		return c.show(ctx, e.stdout, "POST", path+"/issue", ch)
	case "replace":
		ch["new_asn"] = *newASN
		return c.show(ctx, e.stdout, "POST", path+"/replace", ch)
	case "move-balance":
		return c.show(ctx, e.stdout, "POST", path+"/move-balance", map[string]any{"key": *key})
	case "adjust":
		return cardAdjust(ctx, e, c, path, *credit, *debit, *reason, *key, *approval)
	case "adjustments":
		return cardAdjustments(ctx, e, c, path, *asJSON)
	case "refund":
		body := map[string]any{"key": *key, "payee": *channel, "payee_party": *party, "payee_reference": *reference, "approval_id": *approval}
		return c.approvable(ctx, e, path+"/refund", body, "citycard card refund: over the approval limit: nothing was paid; a supervisor approves the request (citycard card approve ID), then run this again with --approval ID")
	}
	fs.Usage()
	return fmt.Errorf("card: unknown command %q: %w", cmd, errUsage)
}
