package main

import (
	"context"
	"time"

	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/console"
	"github.com/citycard/citycard/exchange"
	"github.com/citycard/citycard/keys"
)

// consoleCycles gives the console the cycles as clear runs them, and the
// store's walk back from a day (the list of cycles).
type consoleCycles struct{ *clearing.Cycles }

func (c consoleCycles) Before(ctx context.Context, d clearing.Day) (clearing.Stored, bool, error) {
	return c.Store.Before(ctx, d)
}

// consoleFiles writes a closed cycle's settlement files again, as
// citycard settle files does, from the registry's parties now; the
// console checks them against the hashes the cycle closed with.
type consoleFiles struct{ st *stores }

func (f consoleFiles) Files(ctx context.Context, s *clearing.Stored) (map[string][]byte, error) {
	parties, err := partiesOf(ctx, f.st.registry)
	if err != nil {
		return nil, err
	}
	fs, err := exchange.Files(&s.Cycle, s.Result, parties)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(fs))
	for _, file := range fs {
		out[file.Name] = file.Data
	}
	return out, nil
}

// consoleMore is what serve gives the console beyond the API's stores:
// the clearing cycles, their files, and the key store's list.
type consoleMore struct {
	cycles console.Cycles
	files  console.SettlementFiles
	keys   console.Keys
}

// consoleStores returns the console's clearing and key stores over st
// and ks.
func consoleStores(ctx context.Context, st *stores, ks keys.Store) (consoleMore, error) {
	cs, err := cyclesOver(ctx, st, time.Now)
	if err != nil {
		return consoleMore{}, err
	}
	return consoleMore{cycles: consoleCycles{cs}, files: consoleFiles{st}, keys: ks}, nil
}

func (m consoleMore) set(c *console.Console) {
	c.Cycles, c.Files, c.Keys = m.cycles, m.files, m.keys
}
