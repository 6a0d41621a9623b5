package cms

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/citycard/citycard"
)

// HolderAccountStore keeps the cardholders' own credentials for self
// service (the app, the website): a bcrypt hash of each one's password
// and their sessions, kept by the SHA-256 of the token.
// sqlite.DB.Staff and postgres.DB.Staff implement it beside StaffStore.
type HolderAccountStore interface {
	// LoginFailureStore keeps the failed logins, per document.
	LoginFailureStore
	// CreateHolderAccount stores a cardholder's password hash and its
	// audit record. Kind Exists for a holder who has an account,
	// NotFound for no such holder.
	CreateHolderAccount(ctx context.Context, holder int64, hash []byte, a *AuditRecord) error
	// HolderPassword returns a holder's password hash. Kind NotFound.
	HolderPassword(ctx context.Context, holder int64) ([]byte, error)
	// CreateHolderSession stores a session until expires and drops the
	// ones expired at now.
	CreateHolderSession(ctx context.Context, tokenHash [32]byte, holder int64, expires, now time.Time) error
	// HolderSession returns a session's holder and expiry. Kind NotFound.
	HolderSession(ctx context.Context, tokenHash [32]byte) (int64, time.Time, error)
}

// SelfService is the cardholder's own access: register with a card and
// the identity document it was issued against, then log in with the
// document and a password; every card it shows is the holder's own.
type SelfService struct {
	m      *Manager
	store  HolderAccountStore
	now    func() time.Time
	cost   int
	ttl    time.Duration
	random io.Reader
	limit  loginGuard
	dummy  []byte
	slots  chan struct{} // as Staffing's: LoginsAtOnce password checks at once
}

// NewSelfService returns self service over m's cardholders and store's
// accounts, with the options of staff (StaffOptions).
func NewSelfService(m *Manager, store HolderAccountStore, now func() time.Time, o StaffOptions) *SelfService {
	st := NewStaffing(nil, now, o)
	return &SelfService{m: m, store: store, now: now, cost: st.cost, ttl: st.ttl, random: st.random, dummy: st.dummy,
		limit: loginGuard{store}, slots: make(chan struct{}, LoginsAtOnce)}
}

// Register gives the holder of a card a password: the card must be a
// registered card whose cardholder shows that document. Kinds Invalid
// (the password), Permission (card and document do not match: the
// message does not say which is wrong, so that it tells no stranger
// whose card it is), Exists (the holder has an account), IO.
func (s *SelfService) Register(ctx context.Context, issuer citycard.IssuerCode, asn citycard.ASN, t DocType, number, password string) (int64, error) {
	const op = "cms.SelfService.Register"
	if err := checkPassword(op, password); err != nil {
		return 0, err
	}
	refused := citycard.E(op, citycard.Permission, "that card and that document do not go together")
	c, err := s.m.Card(ctx, issuer, asn)
	if citycard.IsKind(err, citycard.NotFound) {
		return 0, refused
	}
	if err != nil {
		return 0, citycard.Wrap(op, citycard.Other, err)
	}
	h, err := s.m.FindHolder(ctx, t, number)
	if citycard.IsKind(err, citycard.NotFound) || err == nil && (c.Holder == 0 || h.ID != c.Holder) {
		return 0, refused
	}
	if err != nil {
		return 0, citycard.Wrap(op, citycard.Other, err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return 0, citycard.E(op, citycard.Other, "hashing the password: %w", err)
	}
	a := &AuditRecord{At: s.now(), Actor: holderSubject(h.ID), ServicePoint: "self", Subject: holderSubject(h.ID), Action: "self-service register", After: `{"card":"` + c.String() + `"}`}
	if err := s.store.CreateHolderAccount(ctx, h.ID, hash, a); err != nil {
		return 0, citycard.Wrap(op, citycard.Other, err)
	}
	return h.ID, nil
}

// Login opens a cardholder's session with their document and password,
// limited per document as staff logins are per name (Staffing.Check; the
// failures are stored under the document's look-up hash, never the
// number). Kinds Unauthenticated (no such document, no account, a wrong
// password: the message does not say which), Permission (too many
// failures), Unavailable (LoginsAtOnce checks running), IO (the store:
// never told as a wrong password).
func (s *SelfService) Login(ctx context.Context, t DocType, number, password string) (string, int64, time.Time, error) {
	const op = "cms.SelfService.Login"
	lh := s.m.protector.LookupHash(t, NormalizeDocNumber(number))
	subject := "holder:" + hex.EncodeToString(lh[:])
	now := s.now()
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		return "", 0, time.Time{}, citycard.E(op, citycard.Unavailable, "busy: %d logins are being checked, try again", LoginsAtOnce)
	}
	wait, f, err := s.limit.blocked(ctx, subject, now)
	switch {
	case err != nil:
		return "", 0, time.Time{}, citycard.Wrap(op, citycard.Other, err)
	case wait > 0:
		return "", 0, time.Time{}, citycard.E(op, citycard.Permission, "too many failed logins with that document: try again in %d s", int(wait.Seconds()+1))
	}
	wrong := citycard.E(op, citycard.Unauthenticated, "wrong document or password, or no self-service account")
	h, err := s.m.FindHolder(ctx, t, number)
	var hash []byte
	if err == nil {
		hash, err = s.store.HolderPassword(ctx, h.ID)
	}
	switch {
	case citycard.IsKind(err, citycard.NotFound):
		bcrypt.CompareHashAndPassword(s.dummy, []byte(password))
		if err := s.limit.failed(ctx, op, subject, f, now); err != nil {
			return "", 0, time.Time{}, err
		}
		return "", 0, time.Time{}, wrong
	case err != nil:
		return "", 0, time.Time{}, citycard.Wrap(op, citycard.Other, err)
	case bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil:
		if err := s.limit.failed(ctx, op, subject, f, now); err != nil {
			return "", 0, time.Time{}, err
		}
		return "", 0, time.Time{}, wrong
	}
	if err := s.limit.succeeded(ctx, op, subject, f, now); err != nil {
		return "", 0, time.Time{}, err
	}
	var raw [32]byte
	if _, err := io.ReadFull(s.random, raw[:]); err != nil {
		return "", 0, time.Time{}, citycard.E(op, citycard.IO, "drawing a session token: %w", err)
	}
	tok := hex.EncodeToString(raw[:])
	exp := now.Add(s.ttl)
	if err := s.store.CreateHolderSession(ctx, sha256.Sum256([]byte(tok)), h.ID, exp, now); err != nil {
		return "", 0, time.Time{}, citycard.Wrap(op, citycard.Other, err)
	}
	return tok, h.ID, exp, nil
}

// Authenticate returns the cardholder of a session token. Kind
// Unauthenticated for a token unknown or expired; IO.
func (s *SelfService) Authenticate(ctx context.Context, token string) (int64, error) {
	const op = "cms.SelfService.Authenticate"
	id, exp, err := s.store.HolderSession(ctx, sha256.Sum256([]byte(token)))
	if citycard.IsKind(err, citycard.NotFound) {
		return 0, citycard.E(op, citycard.Unauthenticated, "unknown cardholder session token")
	}
	if err != nil {
		return 0, citycard.Wrap(op, citycard.Other, err)
	}
	if !s.now().Before(exp) {
		return 0, citycard.E(op, citycard.Unauthenticated, "the session ended: log in again")
	}
	return id, nil
}

// OwnCard returns a card if it is holder's; another's card, or none, is
// kind NotFound alike, so that a cardholder learns nothing of the cards
// of others.
func (s *SelfService) OwnCard(ctx context.Context, holder int64, issuer citycard.IssuerCode, asn citycard.ASN) (Card, error) {
	const op = "cms.SelfService.OwnCard"
	c, err := s.m.Card(ctx, issuer, asn)
	if err == nil && c.Holder != holder || citycard.IsKind(err, citycard.NotFound) {
		return Card{}, citycard.E(op, citycard.NotFound, "no card %v/%v of yours", issuer, asn)
	}
	return c, citycard.Wrap(op, citycard.Other, err)
}

// Cards returns the holder's cards. Kind IO.
func (s *SelfService) Cards(ctx context.Context, holder int64) ([]Card, error) {
	l, err := s.m.store.CardsOf(ctx, holder)
	return l, citycard.Wrap("cms.SelfService.Cards", citycard.Other, err)
}

// Flows returns the flows of the holder's card, oldest first (OwnCard's
// kinds).
func (s *SelfService) Flows(ctx context.Context, holder int64, issuer citycard.IssuerCode, asn citycard.ASN) ([]Flow, error) {
	if _, err := s.OwnCard(ctx, holder, issuer, asn); err != nil {
		return nil, err
	}
	f, err := s.m.store.Flows(ctx, issuer, asn)
	return f, citycard.Wrap("cms.SelfService.Flows", citycard.Other, err)
}

// ReportLoss reports the holder's own card lost, from the app (the
// audit log names the holder and "self"). Kinds of OwnCard and
// Manager.Move.
func (s *SelfService) ReportLoss(ctx context.Context, holder int64, issuer citycard.IssuerCode, asn citycard.ASN) (Card, error) {
	if _, err := s.OwnCard(ctx, holder, issuer, asn); err != nil {
		return Card{}, err
	}
	return s.m.Move(ctx, Actor{Who: holderSubject(holder), ServicePoint: "self"}, issuer, asn, ReportLoss)
}
