package api

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/registry"
	"github.com/citycard/citycard/terminal"
)

// maxLoadBody bounds a load request: a dozen short fields.
const maxLoadBody = 2048

// loadRequest is a load session as a terminal sends it, decoded.
type loadRequest struct {
	session cms.LoadSession
	mac     [4]byte // MAC1 to authorize, the TAC to confirm
	channel cms.Channel
}

// readLoadRequest reads a load request strictly: the card (issuer, asn),
// its INITIALIZE FOR LOAD answer (key_version, alg, online_counter,
// balance_before_fen, random, mac1), the load (amount_fen, date, time) and,
// to authorize, the payment (channel, channel_party, channel_reference);
// to confirm, the card's tac instead of mac1 and the payment. The
// terminal is the caller. Kind Invalid.
func readLoadRequest(w http.ResponseWriter, r *http.Request, tid citycard.TerminalID, confirm bool) (loadRequest, error) {
	return readSession(w, r, tid, confirm, !confirm)
}

// readSession is readLoadRequest with the payment's fields read or not
// (a remote top-up's claim is paid already).
func readSession(w http.ResponseWriter, r *http.Request, tid citycard.TerminalID, confirm, payment bool) (loadRequest, error) {
	const op = "api.loadRequest"
	var q loadRequest
	if _, err := mediaType(r, mediaJSON); err != nil {
		return q, citycard.Wrap(op, citycard.Invalid, err)
	}
	var issuer, asn, alg, random, date, tm, mac, channel, party, ref string
	var version, counter, before, amount int64
	fields := []field{
		{"issuer", readString(&issuer)}, {"asn", readString(&asn)},
		{"key_version", readInt(&version, 0, math.MaxUint8)}, {"alg", readString(&alg)},
		{"online_counter", readInt(&counter, 0, math.MaxUint16)},
		{"balance_before_fen", readInt(&before, 0, math.MaxUint32)}, {"amount_fen", readInt(&amount, 0, math.MaxUint32)},
		{"random", readString(&random)}, {"date", readString(&date)}, {"time", readString(&tm)},
	}
	if confirm {
		fields = append(fields, field{"tac", readString(&mac)})
	} else {
		fields = append(fields, field{"mac1", readString(&mac)})
	}
	if payment {
		fields = append(fields, channelFields("channel", &channel, &party, &ref)...)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxLoadBody))
	dec.UseNumber()
	if err := readObject(dec, fields); err != nil {
		return q, citycard.E(op, citycard.Invalid, "load: %w", err)
	}
	s := &q.session
	var err error
	if s.Issuer, err = citycard.ParseIssuerCode(issuer); err != nil {
		return q, citycard.Wrap(op, citycard.Invalid, err)
	}
	if s.ASN, err = citycard.ParseASN(asn); err != nil {
		return q, citycard.Wrap(op, citycard.Invalid, err)
	}
	if s.Alg, err = keys.ParseAlg(alg); err != nil {
		return q, citycard.Wrap(op, citycard.Invalid, err)
	}
	s.KeyVersion = uint8(version)
	s.Load = keys.Load{OnlineCounter: uint16(counter), BalanceBefore: uint32(before), Amount: uint32(amount), Type: citycard.TxLoad, TerminalID: tid}
	macName := "mac1"
	if confirm {
		macName = "tac"
	}
	for _, f := range []struct {
		name, s string
		dst     []byte
	}{{"random", random, s.Load.Random[:]}, {"date", date, s.Load.Date[:]}, {"time", tm, s.Load.Time[:]}, {macName, mac, q.mac[:]}} {
		if len(f.s) != 2*len(f.dst) {
			return q, citycard.E(op, citycard.Invalid, "load: field %q: want %d hex digits", f.name, 2*len(f.dst))
		}
		if _, err := hex.Decode(f.dst, []byte(f.s)); err != nil {
			return q, citycard.E(op, citycard.Invalid, "load: field %q: want %d hex digits", f.name, 2*len(f.dst))
		}
	}
	// The terminal's date and time go into MAC2 and the load's record: a
	// day that does not exist is refused here, not booked.
	if _, err := citycard.TimeOf(s.Load.Date, s.Load.Time, citycard.ChinaTime); err != nil {
		return q, citycard.E(op, citycard.Invalid, "load: fields \"date\" and \"time\": %v", err)
	}
	if payment {
		if q.channel, err = parseChannel(channel, party, ref); err != nil {
			return q, citycard.Wrap(op, citycard.Invalid, err)
		}
	}
	return q, nil
}

// terminalActor is a terminal as the audit log names it.
func terminalActor(tid citycard.TerminalID) cms.Actor {
	return cms.Actor{Who: tid.String(), ServicePoint: "terminal:" + tid.String()}
}

// TerminalTypeAuth is a TerminalAuth that also answers the type of the
// terminal it authenticated (the registry's adapter implements it). The
// load routes take only the terminals whose type may load
// (registry.TerminalType.Loads: a kiosk, a counter's reader), and none
// when the Server's TerminalAuth cannot tell types.
type TerminalTypeAuth interface {
	AuthenticateTerminalType(ctx context.Context, id citycard.TerminalID, token string) (registry.TerminalType, error)
}

// loadRoute guards h as terminalRoute does, and lets through only a
// terminal whose type may run online loads (Server.loadTerminal).
func (s *Server) loadRoute(pattern string, h func(w http.ResponseWriter, r *http.Request, id citycard.TerminalID)) route {
	return s.terminalGuarded(pattern, s.loadTerminal, h)
}

// loadTerminal authenticates the request as Server.terminal does, by
// TerminalTypeAuth: kind Permission for a terminal whose type may not
// run online loads (a bus validator, a gate), Unavailable if the
// Server's TerminalAuth cannot tell a terminal's type.
func (s *Server) loadTerminal(r *http.Request) (citycard.TerminalID, error) {
	const op = "api.loadTerminal"
	ta, ok := s.Terminals.(TerminalTypeAuth)
	if !ok {
		return citycard.TerminalID{}, citycard.E(op, citycard.Unavailable, "this server cannot tell a terminal's type: it takes no loads")
	}
	var typ registry.TerminalType
	id, err := s.authenticateTerminal(r, func(ctx context.Context, id citycard.TerminalID, token string) (err error) {
		typ, err = ta.AuthenticateTerminalType(ctx, id, token)
		return err
	})
	if err != nil {
		return id, err
	}
	if !typ.Loads() {
		return id, citycard.E(op, citycard.Permission, "terminal %v is a %v, which may not run online loads (a kiosk or a counter's reader, pos, may)", id, typ)
	}
	return id, nil
}

// handleLoadAuthorize is the load host's answer to a card's INITIALIZE
// FOR LOAD (cms.LoadHost.Authorize): MAC1 checked, the load booked,
// MAC2 returned. A retry of the session answers the same MAC2.
func (s *Server) handleLoadAuthorize(w http.ResponseWriter, r *http.Request, tid citycard.TerminalID) {
	const op = "api.loadAuthorize"
	if s.Loads == nil {
		s.fail(w, r, citycard.E(op, citycard.Unavailable, "this server takes no loads"))
		return
	}
	q, err := readLoadRequest(w, r, tid, false)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	mac2, err := s.Loads.Authorize(r.Context(), terminalActor(tid), q.channel, &q.session, q.mac)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, loadAnswerJSON{Key: cms.LoadKey(&q.session), MAC2: hexUpper(mac2[:])})
}

// handleLoadConfirm takes the card's TAC of a load (cms.LoadHost.Confirm).
func (s *Server) handleLoadConfirm(w http.ResponseWriter, r *http.Request, tid citycard.TerminalID) {
	const op = "api.loadConfirm"
	if s.Loads == nil {
		s.fail(w, r, citycard.E(op, citycard.Unavailable, "this server takes no loads"))
		return
	}
	q, err := readLoadRequest(w, r, tid, true)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.Loads.Confirm(r.Context(), terminalActor(tid), &q.session, q.mac); err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, loadAnswerJSON{Key: cms.LoadKey(&q.session), Status: cms.LoadConfirmed.String()})
}

// hexUpper writes bytes as upper-case hex, as records write MACs.
func hexUpper(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

// loadAnswerJSON is the answer to a load request: the load's key and,
// to an authorization, MAC2; to a confirmation, the load's status.
type loadAnswerJSON struct {
	Key    string `json:"key"`
	MAC2   string `json:"mac2,omitempty"`
	Status string `json:"status,omitempty"`
}

// LoadClient is a load terminal's (a kiosk's, a counter reader's)
// connection to the load host: it implements terminal.LoadHost over
// HTTP, each load paid through Channel.
type LoadClient struct {
	BaseURL  string
	Terminal citycard.TerminalID
	Token    string
	HTTP     *http.Client // nil: http.DefaultClient
	Channel  cms.Channel
	// Timeout bounds each request (terminal.LoadHost takes no context);
	// 0: 10 seconds.
	Timeout time.Duration
}

var _ terminal.LoadHost = (*LoadClient)(nil)

// AuthorizeLoad implements terminal.LoadHost: kinds as the server
// answered (Crypto: MAC1; Conflict: the card's state or a limit; IO or
// Unavailable: nothing decided, retry the same session).
func (c *LoadClient) AuthorizeLoad(req terminal.LoadRequest) ([4]byte, error) {
	var a loadAnswerJSON
	if err := c.post("api.LoadClient.AuthorizeLoad", "loads", c.body(req, "mac1", req.MAC1, true), &a); err != nil {
		return [4]byte{}, err
	}
	return decodeMAC2("api.LoadClient.AuthorizeLoad", a.MAC2)
}

// ConfirmLoad implements terminal.LoadHost.
func (c *LoadClient) ConfirmLoad(req terminal.LoadRequest, tac [4]byte) error {
	var a loadAnswerJSON
	return c.post("api.LoadClient.ConfirmLoad", "loads/confirm", c.body(req, "tac", tac, false), &a)
}

// loadRequestJSON is a load request as the client writes it (the
// server reads it strictly, readLoadRequest).
type loadRequestJSON struct {
	Issuer     string  `json:"issuer"`
	ASN        string  `json:"asn"`
	KeyVersion uint8   `json:"key_version"`
	Alg        string  `json:"alg"`
	Counter    uint16  `json:"online_counter"`
	BeforeFen  uint32  `json:"balance_before_fen"`
	AmountFen  uint32  `json:"amount_fen"`
	Random     string  `json:"random"`
	Date       string  `json:"date"`
	Time       string  `json:"time"`
	MAC1       string  `json:"mac1,omitempty"`
	TAC        string  `json:"tac,omitempty"`
	Channel    *string `json:"channel,omitempty"`
	Party      *string `json:"channel_party,omitempty"`
	Reference  *string `json:"channel_reference,omitempty"`
}

func (c *LoadClient) body(req terminal.LoadRequest, macName string, mac [4]byte, payment bool) loadRequestJSON {
	j := loadBody(req, macName, mac)
	if payment {
		ch := c.Channel.Type.String()
		j.Channel, j.Party, j.Reference = &ch, &c.Channel.Party, &c.Channel.Reference
	}
	return j
}

// loadBody is the card's session req as a load request's body, with its
// MAC1 or TAC (macName "tac") and no payment.
func loadBody(req terminal.LoadRequest, macName string, mac [4]byte) loadRequestJSON {
	l := &req.Load
	j := loadRequestJSON{Issuer: req.Issuer.String(), ASN: req.ASN.String(), KeyVersion: req.KeyVersion, Alg: req.Alg.String(),
		Counter: l.OnlineCounter, BeforeFen: l.BalanceBefore, AmountFen: l.Amount,
		Random: hexUpper(l.Random[:]), Date: hexUpper(l.Date[:]), Time: hexUpper(l.Time[:])}
	if macName == "tac" {
		j.TAC = hexUpper(mac[:])
	} else {
		j.MAC1 = hexUpper(mac[:])
	}
	return j
}

func (c *LoadClient) post(op, path string, body loadRequestJSON, out *loadAnswerJSON) error {
	b, err := json.Marshal(body)
	if err != nil {
		return citycard.E(op, citycard.Invalid, "%w", err)
	}
	return c.request(context.Background(), op, http.MethodPost, path, b, 4096, out)
}

// request sends method path (below the terminal's own) with body (nil:
// none) within ctx and Timeout, and decodes an answer of at most limit
// bytes into out: sendJSON's kinds, an answer other than 200 an error.
func (c *LoadClient) request(ctx context.Context, op, method, path string, body []byte, limit int64, out any) error {
	url := fmt.Sprintf("%s/v1/terminals/%v/%s", c.BaseURL, c.Terminal, path)
	status, err := sendJSON(ctx, c.HTTP, c.Timeout, op, method, url, c.Token, body, limit, out)
	if err == nil && status != http.StatusOK {
		return citycard.E(op, citycard.IO, "answer: status %d, want 200", status)
	}
	return err
}

// sendJSON is the clients' request (LoadClient's, StaffClient's): method
// url with body (nil: none) as JSON under the bearer token, within ctx
// and timeout (0: 10 seconds), through h (nil: http.DefaultClient); an
// answer of 2xx, of at most limit bytes, is decoded into out and its
// status returned. Errors keep the kind the server answered with; a
// failure to reach it, or an answer that does not decode, is kind IO.
func sendJSON(ctx context.Context, h *http.Client, timeout time.Duration, op, method, url, token string, body []byte, limit int64, out any) (int, error) {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, citycard.E(op, citycard.Invalid, "%w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if h == nil {
		h = http.DefaultClient
	}
	resp, err := h.Do(req)
	if err != nil {
		return 0, citycard.E(op, citycard.IO, "%w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, errorFromResponse(op, resp)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, limit)).Decode(out); err != nil {
		return resp.StatusCode, citycard.E(op, citycard.IO, "answer: %w", err)
	}
	return resp.StatusCode, nil
}

// KioskTopUp is a remote top-up as a kiosk sees it: what it needs to
// claim it (cms.TopUps.Pending), nothing of its payer.
type KioskTopUp struct {
	ID        string
	AmountFen int64
	ClaimBy   time.Time
}

// kioskTopUpsMax bounds the top-ups a kiosk reads of a card: the most a
// card may have waiting.
const kioskTopUpsMax = cms.TopUpsPendingMax

// TopUps asks the host for the remote top-ups (补登) the kiosk may claim
// on a card now, oldest first: at its tap, before it claims one with
// Claim (a card with none, or unknown, has an empty list). Kinds as the
// server answered (Invalid: the card's issuer or ASN; Permission: a
// terminal that may not load; IO or Unavailable: ask again); an answer
// that does not decode, or names more top-ups than a card may have
// waiting, is kind IO.
func (c *LoadClient) TopUps(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN) ([]KioskTopUp, error) {
	const op = "api.LoadClient.TopUps"
	var j []kioskTopUpJSON
	if err := c.request(ctx, op, http.MethodGet, fmt.Sprintf("cards/%v/%v/topups", issuer, asn), nil, 16<<10, &j); err != nil {
		return nil, err
	}
	return readKioskTopUps(op, j)
}

// readKioskTopUps checks a host's answer of claimable top-ups: kind IO
// for more than a card may have waiting, or one that does not read.
func readKioskTopUps(op string, j []kioskTopUpJSON) ([]KioskTopUp, error) {
	if len(j) > kioskTopUpsMax {
		return nil, citycard.E(op, citycard.IO, "answer: %d top-ups, a card has at most %d waiting", len(j), kioskTopUpsMax)
	}
	out := make([]KioskTopUp, len(j))
	for i, t := range j {
		id, err := cms.ParseTopUpID(t.ID)
		if err != nil {
			return nil, citycard.E(op, citycard.IO, "answer: %w", err)
		}
		by, err := time.Parse(time.RFC3339, t.ClaimBy)
		if err != nil {
			return nil, citycard.E(op, citycard.IO, "answer: top-up %s: claim_by %q", id, t.ClaimBy)
		}
		if t.AmountFen <= 0 || t.AmountFen > math.MaxUint32 {
			return nil, citycard.E(op, citycard.IO, "answer: top-up %s: amount_fen %d", id, t.AmountFen)
		}
		out[i] = KioskTopUp{ID: id, AmountFen: t.AmountFen, ClaimBy: by}
	}
	return out, nil
}

// Claim returns the load host through which the kiosk claims top-up id
// with terminal.Load, for the top-up's amount: its AuthorizeLoad sends
// the card's INITIALIZE FOR LOAD answer to the claim route (the money
// from the top-up pending account, paid already: no channel is sent),
// its ConfirmLoad the card's TAC as any load's. A claim whose TAC never
// comes back is an unconfirmed load, settled by the card's next session
// (see cms's package doc, "Remote top-up").
func (c *LoadClient) Claim(id string) terminal.LoadHost { return claimHost{c, id} }

// claimHost is LoadClient.Claim's load host.
type claimHost struct {
	c  *LoadClient
	id string
}

// AuthorizeLoad implements terminal.LoadHost: kinds as the server
// answered (Invalid: the ID, or an amount not the top-up's; NotFound:
// no such top-up of the card; Conflict: a top-up not pending, expired,
// claimed on a replaced card, or the card's limits; Crypto: MAC1).
func (h claimHost) AuthorizeLoad(req terminal.LoadRequest) ([4]byte, error) {
	const op = "api.LoadClient.Claim"
	id, err := cms.ParseTopUpID(h.id)
	if err != nil {
		return [4]byte{}, citycard.Wrap(op, citycard.Other, err)
	}
	var a loadAnswerJSON
	if err := h.c.post(op, "topups/"+id+"/claim", h.c.body(req, "mac1", req.MAC1, false), &a); err != nil {
		return [4]byte{}, err
	}
	return decodeMAC2(op, a.MAC2)
}

// ConfirmLoad implements terminal.LoadHost: the claim's TAC goes where
// any load's does.
func (h claimHost) ConfirmLoad(req terminal.LoadRequest, tac [4]byte) error {
	return h.c.ConfirmLoad(req, tac)
}

// decodeMAC2 reads an answer's MAC2: 8 hex digits, else kind IO.
func decodeMAC2(op, s string) ([4]byte, error) {
	var mac2 [4]byte
	if b, err := hex.DecodeString(s); err != nil || len(b) != 4 {
		return mac2, citycard.E(op, citycard.IO, "answer: mac2 %q", s)
	}
	hex.Decode(mac2[:], []byte(s))
	return mac2, nil
}
