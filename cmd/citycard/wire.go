package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"log/slog"
	"os"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/dburl"
	"github.com/citycard/citycard/fare"
	"github.com/citycard/citycard/interop"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/recon"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/registry"
	"github.com/citycard/citycard/sqlite"
	"github.com/citycard/citycard/terminal"
)

// journal is what the back office needs of a store's acquisition side.
type journal interface {
	acquire.Journal
	api.Rejections
}

// clearingStore is what clearing reads of the journal and where its
// cycles are kept.
type clearingStore interface {
	clearing.Journal
	interop.Journal // the grey records an OUT file sends
	clearing.Store
	clearing.FeeStore
	clearing.AdjustmentStore
	clearing.ParamStore
}

// interopStore is the interconnection's storage: its files and records,
// and our cards' records accepted elsewhere read card by card.
type interopStore interface {
	interop.Store
	interop.CardStore
}

// stores are the back office's storage, whichever engine holds it.
type stores struct {
	url       dburl.URL
	registry  registry.Store
	ledger    ledger.Store
	journal   journal
	blacklist blacklist.Store
	clearing  clearingStore
	cms       cms.Store
	topups    cms.TopUpStore // remote top-ups, beside cms
	staff     cms.StaffStore
	holders   cms.HolderAccountStore
	apps      apps.Store
	recon     recon.Store
	interop   interopStore
	close     func() error
	// lockWriter takes the store's writer lock (see writer.go).
	lockWriter func(context.Context) (writerLock, error)
}

// openStores opens the database of the --db flag and applies its
// migrations.
func openStores(ctx context.Context, db string) (*stores, error) {
	u, err := dburl.Parse(db)
	if err != nil {
		return nil, err
	}
	switch u.Engine {
	case dburl.SQLite:
		d, err := sqlite.Open(ctx, db)
		if err != nil {
			return nil, err
		}
		lock := func(ctx context.Context) (writerLock, error) {
			l, err := d.LockWriter(ctx)
			if err != nil {
				return nil, err
			}
			return l, nil
		}
		return &stores{url: u, registry: d.Registry(), ledger: d.Ledger(), journal: d.Journal(), blacklist: d.Blacklist(), clearing: d.Clearing(),
			cms: d.CMS(), topups: d.TopUps(), staff: d.Staff(), holders: d.HolderAccounts(), apps: d.Apps(), recon: d.Recon(), interop: d.Interop(), close: d.Close, lockWriter: lock}, nil
	}
	return openPostgres(ctx, u)
}

// terminalsOf serves acquisition's terminal look-ups from the registry's
// cache (its policy: registry.Cache).
func terminalsOf(store registry.Store) acquire.Terminals {
	return acquire.RegistryTerminals{Cache: registry.NewCache(store, 0, 0, nil)}
}

// terminalAuth adapts the registry to api.TerminalAuth.
type terminalAuth struct{ reg *registry.Registry }

func (a terminalAuth) AuthenticateTerminal(ctx context.Context, id citycard.TerminalID, token string) error {
	_, err := a.reg.Authenticate(ctx, id, token)
	return err
}

// AuthenticateTerminalType implements api.TerminalTypeAuth.
func (a terminalAuth) AuthenticateTerminalType(ctx context.Context, id citycard.TerminalID, token string) (registry.TerminalType, error) {
	t, err := a.reg.Authenticate(ctx, id, token)
	return t.Type, err
}

// acquisition is what deciding records takes: the acquirer over the
// stores, with the key store, the blacklist and (if any) the fare table.
type acquisition struct {
	acq         *acquire.Acquirer
	blacklist   *blacklist.List
	fareVersion string // "" without a fare table
}

// openAcquisition opens the acquirer of serve and of rejections resubmit:
// record MACs and TACs verified against ks, composite purchases re-priced
// against the fare table in faresDir (none if empty).
func openAcquisition(ctx context.Context, st *stores, ks keys.Store, faresDir string, logger *slog.Logger) (*acquisition, error) {
	own, err := ownIssuer(ctx, st.registry)
	if err != nil {
		return nil, err
	}
	bo := &acquisition{}
	var fares acquire.Fares
	if faresDir != "" {
		t, err := fare.Load(os.DirFS(faresDir))
		if err != nil {
			return nil, err
		}
		fares, bo.fareVersion = fareRecheck{terminal.NewFareEngine(t), logger}, t.Version()
		for _, w := range t.Warnings() {
			logger.Warn("fare table", "warning", w)
		}
	}
	if bo.blacklist, err = blacklist.Load(ctx, st.blacklist, time.Now); err != nil {
		return nil, err
	}
	bo.acq, err = acquire.Open(ctx, acquire.Config{
		Journal: st.journal, Terminals: terminalsOf(st.registry),
		Verifier: record.NewVerifier(ks, own), Fares: fares, Blacklist: bo.blacklist, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	return bo, nil
}

// fareRecheck adapts the terminal's fare engine to acquisition's
// re-pricing. A record the fare table cannot price is not checked (another
// network's, or a product the table lacks), and said in the log: a
// re-check error is never dropped silently.
type fareRecheck struct {
	e      *terminal.FareEngine
	logger *slog.Logger
}

func (f fareRecheck) Recheck(r *record.Record) acquire.FareVerdict {
	c, err := f.e.Recheck(r)
	switch {
	case err != nil:
		f.logger.Debug("fare re-check: record not priced", "terminal", r.TerminalID.String(), "sequence", r.TerminalSeq, "err", err)
		return acquire.FareUnchecked
	case c.ExitBeforeEntry:
		return acquire.FareClockWrong
	case !c.Match:
		return acquire.FareMismatch
	}
	return acquire.FareMatch
}

// cmsDataKey derives card management's data key (cardholders' personal
// data, cms.Protector) from the key-encryption key, so that serve needs
// no second secret: HMAC-SHA256 of the KEK over a label of its own. A
// new KEK is a new data key: the cardholders stored under the old one
// must be re-encrypted first (kind Crypto otherwise, never a wrong read).
func cmsDataKey(kek []byte) []byte {
	m := hmac.New(sha256.New, kek)
	m.Write([]byte("citycard.cms.data-key.v1"))
	return m.Sum(nil)
}

// cardManagement opens card management, the stored staff and the
// cardholders' self service over the stores, onto s: the products of
// productsFile (the sample, cms.DefaultProducts, if ""), personal data
// under dataKey.
func cardManagement(s *api.Server, st *stores, dataKey []byte, productsFile string, logger *slog.Logger) error {
	products := cms.DefaultProducts()
	if productsFile != "" {
		b, err := os.ReadFile(productsFile)
		if err != nil {
			return err
		}
		if products, err = cms.ParseProducts(productsFile, b); err != nil {
			return err
		}
	}
	p, err := cms.NewProtector(dataKey, nil)
	if err != nil {
		return err
	}
	logger.Info("card management", "products", len(products.Products()))
	// Every money operation group-committed (the load host's thousand a
	// second); a loss report lists the card on the terminals' blacklist.
	s.Cards = cms.NewManager(cms.NewGroupCommit(st.cms), products, p, time.Now).WithBlacklist(s.Blacklist)
	s.Staffing = cms.NewStaffing(st.staff, time.Now, cms.StaffOptions{})
	s.SelfService = cms.NewSelfService(s.Cards, st.holders, time.Now, cms.StaffOptions{})
	s.Staff = api.StoredStaff{Staffing: s.Staffing}
	// A card's purchases in other cities (the INC files' records
	// accepted) count in its refund and balance move as its purchases
	// here do.
	s.Elsewhere = api.InteropElsewhere{Store: st.interop}
	return nil
}
