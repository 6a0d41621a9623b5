package cms

import (
	"context"
	"time"

	"github.com/citycard/citycard"
)

// LoginFailures is what a store keeps of one subject's failed logins
// (a member of staff's name, a cardholder's document): the failures
// counted in the window that began at the first of them, and the
// instant the subject is refused until. The zero value is none.
type LoginFailures struct {
	Count       int       // failures since First
	First       time.Time // the window's first failure
	LockedUntil time.Time // refused before this instant; zero: not refused
}

// LoginFailureStore keeps failed logins per subject ("staff:NAME",
// "holder:" and the document's look-up hash in hex), so that a restart
// or a second process over the same database keeps counting and keeps a
// lock (the stores' cms_login_failures; StaffStore and
// HolderAccountStore include it).
type LoginFailureStore interface {
	// LoginFailures returns a subject's failures; the zero value for
	// none.
	LoginFailures(ctx context.Context, subject string) (LoginFailures, error)
	// SwapLoginFailures writes next as subject's failures if what is
	// stored is still old (the zero value: nothing stored; next zero:
	// nothing kept), and reports whether it did: false when another
	// login changed them first, to be read again. In the same
	// transaction it drops the other subjects' failures whose window
	// began before forgetBefore (their lock is over too), so that the
	// names tried and never used again do not pile up.
	SwapLoginFailures(ctx context.Context, subject string, old, next LoginFailures, forgetBefore time.Time) (bool, error)
}

// loginSwapTries bounds the reads and swaps of one login's count: two
// logins of one subject at once is rare (LoginsAtOnce checks run in a
// process), more than a few a failure to be told as Unavailable.
const loginSwapTries = 4

// NextLoginFailure is f after one more failure at now: a new window if
// the last one is over (its first failure LoginWindow old), and from the
// LoginFailureMax-th failure of a window the subject refused until the
// window ends. A lock therefore never outlasts its window.
func NextLoginFailure(f LoginFailures, now time.Time) LoginFailures {
	if f.Count == 0 || !now.Before(f.First.Add(LoginWindow)) {
		f = LoginFailures{First: now}
	}
	f.Count++
	if f.Count >= LoginFailureMax {
		f.LockedUntil = f.First.Add(LoginWindow)
	}
	return f
}

// loginGuard limits failed logins per subject over a LoginFailureStore.
// Its errors are the store's (kind IO: the caller answers 503): while
// the count cannot be read or written, no login is answered either way,
// as a guess that is not counted must not be told right or wrong.
type loginGuard struct {
	store LoginFailureStore
}

// blocked returns how long subject is refused from now (0: it is not)
// and its failures as read.
func (g loginGuard) blocked(ctx context.Context, subject string, now time.Time) (time.Duration, LoginFailures, error) {
	f, err := g.store.LoginFailures(ctx, subject)
	if err != nil || !now.Before(f.LockedUntil) {
		return 0, f, err
	}
	return f.LockedUntil.Sub(now), f, nil
}

// failed counts a failure of subject at now, f being its failures as
// read before.
func (g loginGuard) failed(ctx context.Context, op, subject string, f LoginFailures, now time.Time) error {
	return g.swap(ctx, op, subject, f, now, func(f LoginFailures) LoginFailures { return NextLoginFailure(f, now) })
}

// succeeded forgets subject's failures (f as read before): nothing to
// write for a subject that had none, the common case.
func (g loginGuard) succeeded(ctx context.Context, op, subject string, f LoginFailures, now time.Time) error {
	if f.Count == 0 {
		return nil
	}
	return g.swap(ctx, op, subject, f, now, func(LoginFailures) LoginFailures { return LoginFailures{} })
}

func (g loginGuard) swap(ctx context.Context, op, subject string, f LoginFailures, now time.Time, next func(LoginFailures) LoginFailures) error {
	for range loginSwapTries {
		ok, err := g.store.SwapLoginFailures(ctx, subject, f, next(f), now.Add(-LoginWindow))
		if err != nil || ok {
			return citycard.Wrap(op, citycard.Other, err)
		}
		if f, err = g.store.LoginFailures(ctx, subject); err != nil {
			return citycard.Wrap(op, citycard.Other, err)
		}
	}
	return citycard.E(op, citycard.Unavailable, "the failed logins of one name changed %d times while they were counted: try again", loginSwapTries)
}
