package city

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/apps"
)

// The applications' webhook receiver (appshooks.go): the school, the
// library and the sports centre have a webhook URL, an httptest server
// of the city's, to which the back office's outbox delivers their
// events over HTTP as serve does (apps.Office.Deliver through
// api.WebhookSender, signed, retried after apps.Backoff). The receiver
// verifies each signature against the application's secret, takes an
// event once by its Idempotency-Key (a delivery of an event it has
// taken is answered 200 and counted deduplicated), and with the webhook
// fault answers 503 now and then, before taking the event or after (the
// answer lost, so that the outbox sends it again). The other
// applications poll their events (GET /v1/apps/{app}/events).

// Webhook fault rates, per cent of deliveries.
const (
	hookFailPct = 5 // 503 before taking the event
	hookLostPct = 3 // 503 after taking it: the answer lost
	// hookTolerance is how far a signature's time may be from the
	// receiver's clock (the city's).
	hookTolerance = 5 * time.Minute
	hookBatch     = 100 // events a Deliver call
)

// hooked are the applications with a webhook.
var hooked = [appCount]bool{appSchool: true, appLibrary: true, appVenue: true}

// hookReceiver is the webhook receiver of the applications with one.
type hookReceiver struct {
	c                        *City
	srv                      *httptest.Server
	faulty                   bool
	mu                       sync.Mutex
	rng                      *rand.Rand
	secrets                  map[string]string // by application ID
	taken                    map[string]int    // by Idempotency-Key: times taken (once)
	seen                     map[string]int    // by Idempotency-Key: deliveries
	lost                     map[string]int    // by Idempotency-Key: answers lost after taking it
	apps                     map[string]string // by Idempotency-Key: the application it came for
	badSig, failed, lostAns  int64
	deduplicated, deliveries int64
}

func (c *City) startHooks() {
	h := &hookReceiver{c: c, faulty: c.cfg.has(FaultWebhook), rng: rngFor(c.cfg.Seed, "apps-hooks"), secrets: map[string]string{},
		taken: map[string]int{}, seen: map[string]int{}, lost: map[string]int{}, apps: map[string]string{}}
	h.srv = httptest.NewServer(h)
	c.apps.hooks = h
}

// url is application id's webhook URL, "" for none.
func (h *hookReceiver) url(k int) string {
	if h == nil || !hooked[k] {
		return ""
	}
	return h.srv.URL + "/hooks/" + appDefs[k].id
}

func (h *hookReceiver) close() {
	if h != nil {
		h.srv.Close()
	}
}

// ServeHTTP is the receiver: POST /hooks/{app}.
func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	app := strings.TrimPrefix(r.URL.Path, "/hooks/")
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "body", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	secret, ok := h.secrets[app]
	if !ok || !apps.VerifySignature(secret, r.Header.Get(apps.HeaderSignature), body, h.c.now(), hookTolerance) {
		h.badSig++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	rng := h.rng // drawn in delivery order: Deliver is sequential
	if h.faulty && rng.IntN(100) < hookFailPct {
		h.failed++
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	key := r.Header.Get(apps.HeaderIdempotencyKey)
	h.deliveries++
	h.seen[key]++
	h.apps[key] = app
	if h.taken[key] > 0 {
		h.deduplicated++
	} else {
		h.taken[key]++
	}
	if h.faulty && rng.IntN(100) < hookLostPct {
		h.lostAns++
		h.lost[key]++
		http.Error(w, "answer lost", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// appsFollow is what serve does every 2 s, at the gates' upload slots:
// the journal's application records filed, card management's audit log
// followed, the outbox's due webhooks delivered.
func (c *City) appsFollow(ctx context.Context) {
	o, lc := c.bo.Apps()
	if _, err := o.IndexRecords(ctx, api.AcquireJournal{Journal: c.bo.Journal()}); err != nil {
		c.fig.SyncFailures++
		return
	}
	if _, _, err := o.Follow(ctx, lc); err != nil {
		c.fig.SyncFailures++
		return
	}
	c.deliverHooks(ctx, o)
}

// deliverHooks delivers the outbox's due events, batch after batch.
func (c *City) deliverHooks(ctx context.Context, o *apps.Office) (delivered int) {
	for round := 0; round < 1000; round++ {
		d, f, err := o.Deliver(ctx, api.WebhookSender{}, hookBatch)
		if err != nil {
			c.fig.SyncFailures++
			return delivered
		}
		delivered += d
		if d+f == 0 {
			return delivered
		}
	}
	return delivered
}

// finalHooks delivers what is left, the city's clock moved on by each
// back-off in turn (the outbox's retries), until every event is out.
func (c *City) finalHooks(ctx context.Context, o *apps.Office) {
	for n := 1; n <= apps.DeliveryAttemptsMax; n++ {
		c.deliverHooks(ctx, o)
		c.setNow(c.now().Add(apps.Backoff(n)))
	}
	c.deliverHooks(ctx, o)
}

// checkHooks checks InvAppWebhooks: every event queued for an
// application with a webhook delivered (in the outbox as delivered),
// taken once by the receiver, each further delivery of it explained by
// an answer the receiver lost, none with a bad signature.
func (c *City) checkHooks(ctx context.Context, o *apps.Office, inv *inv) {
	h := c.apps.hooks
	if h == nil {
		return
	}
	c.finalHooks(ctx, o)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failed+h.lostAns > 0 {
		c.faults[string(FaultWebhook)] = h.failed + h.lostAns
	}
	var events int64
	queued := map[string]bool{}
	for k := range appDefs {
		if !hooked[k] {
			continue
		}
		id := appDefs[k].id
		for after := int64(0); ; {
			evs, err := o.Events(ctx, id, after, apps.EventsPageMax)
			if err != nil {
				inv.fail("reading the events of %s: %v", id, err)
				break
			}
			for _, e := range evs {
				after = e.ID
				events++
				queued[e.Key] = true
				switch {
				case e.DeliveredAt.IsZero():
					inv.fail("%s: %v not delivered (%d attempts, failed %v)", id, &e, e.Attempts, e.Failed)
				case h.taken[e.Key] != 1:
					inv.fail("%s: %v taken %d times by the receiver", id, &e, h.taken[e.Key])
				case h.apps[e.Key] != id:
					inv.fail("%s: %v delivered to the webhook of %s", id, &e, h.apps[e.Key])
				case h.seen[e.Key] > 1+h.lost[e.Key]:
					inv.fail("%s: %v delivered %d times, %d answers lost", id, &e, h.seen[e.Key], h.lost[e.Key])
				}
			}
			if len(evs) < apps.EventsPageMax {
				break
			}
		}
	}
	var stray []string
	for k := range h.seen {
		if !queued[k] {
			stray = append(stray, k)
		}
	}
	sort.Strings(stray)
	for _, k := range stray {
		inv.fail("the receiver got event %s, which no application with a webhook queued", k)
	}
	if h.badSig > 0 {
		inv.fail("%d deliveries with a bad signature", h.badSig)
	}
	inv.detail = fmt.Sprintf("%d events of %d applications with a webhook, each delivered, signed, taken once; %d deliveries, %d deduplicated by their key (%d answers lost), %d refused 503 and retried after the back-off", events, countTrue(hooked[:]), h.deliveries, h.deduplicated, h.lostAns, h.failed)
}

func countTrue(b []bool) int {
	n := 0
	for _, x := range b {
		if x {
			n++
		}
	}
	return n
}

func (c *City) closeHooks() {
	if c.apps != nil {
		c.apps.hooks.close()
	}
}
