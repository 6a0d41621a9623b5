package acquire

import (
	"context"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/registry"
)

// RegistryTerminals serves acquisition's terminal look-ups from the
// registry through its cache, which keeps a fault of the store (kind IO)
// apart from a terminal the registry does not know (kind NotFound).
type RegistryTerminals struct{ Cache *registry.Cache }

// Terminal implements Terminals.
func (r RegistryTerminals) Terminal(ctx context.Context, id citycard.TerminalID) (TerminalInfo, error) {
	res, err := r.Cache.Terminal(ctx, id)
	if err != nil {
		return TerminalInfo{}, err
	}
	t := &res.Terminal
	return TerminalInfo{ID: t.ID, PSAM: t.PSAM, Operator: t.Operator, OperatorCode: res.Operator.Code, Active: t.Active()}, nil
}

// TerminalMap is a fixed registry of terminals: the fake of tests and of
// tools that know their terminals up front. A terminal not in it is kind
// NotFound.
type TerminalMap map[citycard.TerminalID]TerminalInfo

// Terminal implements Terminals.
func (m TerminalMap) Terminal(_ context.Context, id citycard.TerminalID) (TerminalInfo, error) {
	t, ok := m[id]
	if !ok {
		return TerminalInfo{}, citycard.E("acquire.TerminalMap", citycard.NotFound, "no terminal %v", id)
	}
	return t, nil
}
