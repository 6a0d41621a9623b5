package api

import (
	"context"
	"errors"
	"regexp"
	"sync"
	"time"

	"net/http"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/fare"
	"github.com/citycard/citycard/whatif"
)

// FareFeeds holds the fare tables a what-if may replay under, by name
// (the server's candidate feeds).
type FareFeeds interface {
	// FareFeed returns the table named name: kind NotFound for a name it
	// does not hold, Invalid for a table that does not load.
	FareFeed(name string) (*fare.Table, error)
}

// Replays is the fare what-if the API serves (GET /v1/fares/replay) for
// the console to chart: whatif.Run over the journal, bounded per
// request in days and time, one at a time (a replay takes a core for
// its duration).
type Replays struct {
	Journal whatif.Journal
	Feeds   FareFeeds
	// MaxDays bounds the days of one request; 0: DefaultReplayDays.
	MaxDays int
	// Timeout bounds one request's replay; 0: DefaultReplayTimeout. It
	// must stay under the server's write timeout.
	Timeout time.Duration

	mu sync.Mutex // held by the replay running
}

// Defaults of Replays. A request replays at most a week in 90 seconds:
// about 9M records on one core, a Ningbo-sized week or half a
// Beijing-sized day; longer replays are the job of citycard fare replay.
const (
	DefaultReplayDays    = 7
	DefaultReplayTimeout = 90 * time.Second
)

// feedName is what a feed's name may be: no path.
var feedName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// handleFareReplay answers GET /v1/fares/replay?from=DAY&to=DAY&feed=NAME
// [&old_feed=NAME] with the whatif.Report as JSON. Kind Invalid for a
// day that is not YYYY-MM-DD, more days than the bound, a feed name that
// is not one, or a replay that does not finish in time; NotFound when no
// feeds are configured or the feed is unknown; Unavailable while another
// replay runs.
func (s *Server) handleFareReplay(w http.ResponseWriter, r *http.Request, _ Staff) {
	const op = "api.fareReplay"
	rp := s.Replays
	if rp == nil || rp.Journal == nil || rp.Feeds == nil {
		s.fail(w, r, citycard.E(op, citycard.NotFound, "no fare feeds to replay under: the server runs without --fare-feeds"))
		return
	}
	q := r.URL.Query()
	rep, err := rp.Run(r.Context(), q.Get("from"), q.Get("to"), q.Get("feed"), q.Get("old_feed"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, rep)
}

// Run replays the journal from day from to day to (YYYY-MM-DD) under the
// feed named feed, the old table re-priced too when oldFeed is not
// empty: the API's GET /v1/fares/replay, and the console's. Kinds as
// handleFareReplay's.
func (rp *Replays) Run(parent context.Context, from, to, feed, oldFeed string) (*whatif.Report, error) {
	const op = "api.Replays.Run"
	var cfg whatif.Config
	var err error
	if cfg.From, err = whatif.ParseDay(from); err != nil {
		return nil, citycard.E(op, citycard.Invalid, "from: %v", err)
	}
	if cfg.To, err = whatif.ParseDay(to); err != nil {
		return nil, citycard.E(op, citycard.Invalid, "to: %v", err)
	}
	maxDays := rp.MaxDays
	if maxDays <= 0 {
		maxDays = DefaultReplayDays
	}
	if days := int(cfg.To.Sub(cfg.From)/(24*time.Hour)) + 1; days < 1 || days > maxDays {
		return nil, citycard.E(op, citycard.Invalid, "from %s to %s: 1 to %d days through the API (citycard fare replay takes up to %d)",
			from, to, maxDays, whatif.MaxDays)
	}
	for _, f := range []struct {
		param, name string
		dst         **fare.Table
	}{{"feed", feed, &cfg.New}, {"old_feed", oldFeed, &cfg.Old}} {
		name := f.name
		if name == "" && f.param == "old_feed" {
			continue
		}
		if !feedName.MatchString(name) {
			return nil, citycard.E(op, citycard.Invalid, "%s=%q: a feed's name, 1 to 64 letters, digits, '.', '_' or '-'", f.param, name)
		}
		if *f.dst, err = rp.Feeds.FareFeed(name); err != nil {
			return nil, citycard.Wrap(op, citycard.Other, err)
		}
	}
	if !rp.mu.TryLock() {
		return nil, citycard.E(op, citycard.Unavailable, "a fare replay is running: one at a time")
	}
	defer rp.mu.Unlock()
	timeout := rp.Timeout
	if timeout <= 0 {
		timeout = DefaultReplayTimeout
	}
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	rep, err := whatif.Run(ctx, rp.Journal, cfg)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && parent.Err() == nil {
			err = citycard.E(op, citycard.Invalid, "the replay did not finish within %v: ask for fewer days, or run citycard fare replay", timeout)
		}
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	return rep, nil
}
