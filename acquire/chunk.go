package acquire

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/record"
)

// ChunkEntrySize is the size of one entry in a journal chunk: outcome(1)
// class(1) flags(2, big-endian) record(104).
const ChunkEntrySize = 4 + record.Size

// EncodeChunk lays a batch's entries back to back, as the stores keep
// them: one row per batch, not per record.
func EncodeChunk(entries []Journaled) []byte {
	return appendChunk(make([]byte, 0, len(entries)*ChunkEntrySize), entries)
}

// appendChunk appends EncodeChunk(entries) to b.
func appendChunk(b []byte, entries []Journaled) []byte {
	for i := range entries {
		e := &entries[i]
		b = append(b, byte(e.Outcome), byte(e.Class))
		b = binary.BigEndian.AppendUint16(b, uint16(e.Flags))
		b = append(b, e.Raw[:]...)
	}
	return b
}

// DecodeChunk calls fn for each entry of a chunk whose first entry is at
// position first. Kind Invalid for a chunk that is not whole entries.
func DecodeChunk(first int64, terminal citycard.TerminalID, batchID string, data []byte, fn func(e *Journaled) error) error {
	if len(data)%ChunkEntrySize != 0 {
		return citycard.E("acquire.DecodeChunk", citycard.Invalid, "chunk at %d: %d bytes is not whole entries", first, len(data))
	}
	e := Journaled{Terminal: terminal, BatchID: batchID}
	for i := 0; i < len(data); i += ChunkEntrySize {
		e.Pos = first + int64(i/ChunkEntrySize)
		e.Outcome, e.Class = Outcome(data[i]), Class(data[i+1])
		e.Flags = Flags(binary.BigEndian.Uint16(data[i+2:]))
		copy(e.Raw[:], data[i+4:i+ChunkEntrySize])
		if err := fn(&e); err != nil {
			return err
		}
	}
	return nil
}

// Chunks splits a commit's entries by batch, in order: entries of one
// batch are contiguous.
func (c *Commit) Chunks() [][]Journaled {
	var out [][]Journaled
	for i := 0; i < len(c.Entries); {
		j := i + 1
		for j < len(c.Entries) && c.Entries[j].Terminal == c.Entries[i].Terminal && c.Entries[j].BatchID == c.Entries[i].BatchID {
			j++
		}
		out = append(out, c.Entries[i:j])
		i = j
	}
	return out
}

// LedgerSource is the Source of the ledger entries of terminal's batch
// batchID: the drill-down from the ledger to the journal.
func LedgerSource(terminal citycard.TerminalID, batchID string) string {
	return fmt.Sprintf("batch:%v/%s", terminal, batchID)
}

// LedgerEntries turns a batch's movements into ledger entries: one per
// product and kind (purchases, suspense), each drillable to the batch by
// its source, with an idempotency key derived from the batch, so that the
// general ledger takes a few entries per batch, not one per record.
func LedgerEntries(b *StoredBatch, moves []Movement) []ledger.Entry {
	type group struct {
		kind    ledger.EntryType
		product uint16
	}
	byGroup := map[group]*ledger.Entry{}
	var order []group
	source := LedgerSource(b.Terminal, b.ID)
	for _, m := range moves {
		g := group{ledger.EntryPurchase, m.Product}
		if m.Debit.Type == ledger.Suspense || m.Credit.Type == ledger.Suspense {
			g.kind = ledger.EntrySuspense
		}
		e := byGroup[g]
		if e == nil {
			e = &ledger.Entry{
				Key:  fmt.Sprintf("acquire:%v/%s/%s/%d", b.Terminal, b.ID, g.kind, g.product),
				Type: g.kind, Source: source, Product: g.product,
			}
			byGroup[g] = e
			order = append(order, g)
		}
		e.Postings = append(e.Postings, ledger.Transfer(m.Debit, m.Credit, m.AmountFen)...)
		e.Count += int64(m.Records)
	}
	out := make([]ledger.Entry, 0, len(order))
	for _, g := range order {
		out = append(out, *byGroup[g])
	}
	slices.SortStableFunc(out, func(x, y ledger.Entry) int {
		if x.Type != y.Type {
			if x.Type < y.Type {
				return -1
			}
			return 1
		}
		return int(x.Product) - int(y.Product)
	})
	return out
}

// Plan is a commit laid out as the stores write it: the journal's chunk
// rows, the batch rows, and the batches' ledger entries, validated. The
// stores then differ only in their SQL.
type Plan struct {
	Chunks  []ChunkRow
	Batches []BatchRow
	Ledger  []ledger.Entry
}

// ChunkRow is one batch's row of the journal: its entries from FirstPos on.
type ChunkRow struct {
	FirstPos int64
	N        int
	Terminal string
	BatchID  string
	Data     []byte // EncodeChunk
	// AmountFen is the sum of the entries' amounts, and AtNs the commit
	// time: the chunk's totals, which the stores keep apart from Data so
	// that clearing can count and sum a range without reading its entries
	// (and then proves the entries it read add up to them).
	AmountFen int64
	AtNs      int64
}

// BatchRow is one committed batch's row; FirstPos and N locate its chunk
// (N is 0 when every record of it was rejected). LedgerKey is the prefix
// of its ledger entries' idempotency keys.
type BatchRow struct {
	Terminal  string
	BatchID   string
	Hash      []byte
	Answer    []byte
	FirstPos  int64
	N         int
	LedgerKey string
	AtNs      int64
}

// Plan lays c out. Kind Invalid if a ledger entry breaks a rule (a
// programmer error upstream: nothing is written). The chunks' Data share
// one array, c's, which the next Plan of c overwrites.
func (c *Commit) Plan() (Plan, error) {
	var p Plan
	for i := range c.Batches {
		p.Ledger = append(p.Ledger, LedgerEntries(&c.Batches[i], c.Movements[i])...)
	}
	for i := range p.Ledger {
		if err := p.Ledger[i].Validate(); err != nil {
			return Plan{}, citycard.Wrap("acquire.Commit.Plan", citycard.Other, err)
		}
	}
	type loc struct {
		first int64
		n     int
	}
	locs := map[string]loc{}
	if need := len(c.Entries) * ChunkEntrySize; cap(c.chunkData) < need {
		c.chunkData = make([]byte, 0, need)
	}
	data := c.chunkData[:0]
	for _, ch := range c.Chunks() {
		k := batchKey(ch[0].Terminal, ch[0].BatchID)
		locs[k] = loc{ch[0].Pos, len(ch)}
		var fen int64
		for i := range ch {
			a, _ := record.AmountOf(ch[i].Raw[:])
			fen += int64(a)
		}
		start := len(data)
		data = appendChunk(data, ch)
		p.Chunks = append(p.Chunks, ChunkRow{FirstPos: ch[0].Pos, N: len(ch), Terminal: ch[0].Terminal.String(), BatchID: ch[0].BatchID,
			Data: data[start:len(data):len(data)], AmountFen: fen, AtNs: c.At.UnixNano()})
	}
	for _, b := range c.Batches {
		k := batchKey(b.Terminal, b.ID)
		p.Batches = append(p.Batches, BatchRow{Terminal: b.Terminal.String(), BatchID: b.ID, Hash: b.Hash[:], Answer: b.Answer,
			FirstPos: locs[k].first, N: locs[k].n, LedgerKey: "acquire:" + k, AtNs: c.At.UnixNano()})
	}
	return p, nil
}
