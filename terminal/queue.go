package terminal

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/filelock"
)

// The offline queue.
//
// A validator seals a record and stores it with Queue.Append before it
// tells the rider that the tap is done; an uploader sends Queue.Pending
// records to the back office and calls Queue.Ack for each one the back
// office has answered for. Power may fail at any instant, so the queue keeps
// four promises:
//
//  1. A record whose Append returned is never lost.
//  2. A record whose Ack returned is never delivered again.
//  3. A torn write at the end of the file never damages earlier records.
//  4. The file does not grow without bound.
//
// File format. The queue is one append-only file of frames, all integers
// little-endian:
//
//	length  uint32  bytes of payload
//	crc     uint32  CRC-32C (Castagnoli) of kind and payload
//	kind    byte    low 6 bits: 1 record, 2 ack, 3 header;
//	                bit 7 (0x80): first frame of a write;
//	                bit 6 (0x40): last frame of a write
//	payload length bytes
//
//	header  payload "CCQUEUE2" || next seq uint64 || epoch uint64; always
//	        the file's first frame (a file written before epochs has
//	        "CCQUEUE1" || next seq uint64, see Epoch)
//	record  payload seq uint64 || record bytes (1 to 64 KiB)
//	ack     payload one or more ranges lo uint64 || hi uint64 (lo <= hi):
//	        every record before the ack whose seq is in [lo, hi] is acked
//
// Each Append, AppendBatch or Ack is one write(2) of one or more frames
// followed by fsync; the first frame of the write carries the first-flag,
// the last one the last-flag, so a write is recognisable as a unit. Seqs
// are assigned by the queue: 1, 2, 3, ..., strictly increasing through the
// file, surviving restarts and compaction (the header keeps the counter when
// no record does).
//
// Epoch. A queue file is given a random 64-bit epoch (never 0) when it is
// created, kept in its header through every compaction. Seqs start again
// at 1 in a new file (the old one deleted, the terminal re-imaged), so the
// uploader names its batches by epoch and seqs together: see Epoch.
//
// Recovery. Because each write is synced before the next one begins, at most
// the last write can be torn by a power failure, and within it the kernel may
// have persisted any subset of pages (so a torn write may show zeros, a
// half-written frame, or even intact frames after a damaged one). OpenQueue
// therefore decides as follows when it meets a frame that is incomplete or
// fails its CRC (or a write that lacks its last frame at the end of file):
// if a valid frame carrying the first-flag (the beginning of a later write)
// exists anywhere after it, a write that had been synced has been damaged:
// that is corruption, reported as an error of kind IO naming the offset, and
// the file is left untouched. Otherwise the damage lies within the last,
// unsynced write: the whole write is cut off (truncate, fsync), so that an
// AppendBatch is all or nothing. A flipped byte in the very last write is
// indistinguishable from a torn write and is treated as one; that is a media
// failure, outside what a log without redundancy can detect.
//
// A fresh file and every compacted file are written to path+".compact",
// synced, renamed over path and the directory synced, so a crash leaves
// either the old file or the new one, both complete; a stale .compact file is
// removed at open. A lock file, path+".lock", held with flock(2) where
// available, keeps a second process (or a second Queue) off the file.
//
// Bounds. Records, entries, pending bytes and the batch size are limited;
// Append beyond a limit fails rather than losing a record (a terminal then
// refuses taps). Acked frames are dead bytes; when they exceed both the
// compaction threshold and the live bytes, Ack compacts, so the file stays
// below about twice the live data plus the threshold. Pending records are held
// in memory (about 185 bytes each for a 130-byte record), which the same
// limits bound.

// Limits of the file format. Options may lower, not raise, them.
const (
	queueRecordBytesCap = 64 << 10  // largest record the format holds
	queueRecordsCap     = 1 << 22   // largest QueueRecordsMax
	queueBytesCap       = 256 << 20 // largest QueueBytesMax and QueueCompactBytes
	queueFileBytesMax   = 1 << 30   // OpenQueue refuses larger files
	queueBatchMax       = 1024      // records in one AppendBatch
	queueSeqMax         = 1 << 62   // seqs are 1 <= seq < queueSeqMax
	ackRangesPerFrame   = 256

	frameHeaderBytes  = 9
	framePayloadMax   = 8 + queueRecordBytesCap
	frameKindMask     = 0x3f
	frameFirst        = 0x80
	frameLast         = 0x40
	frameKindRecord   = 1
	frameKindAck      = 2
	frameKindHeader   = 3
	headerPayloadSize = 24
	queueMagic        = "CCQUEUE2"
	// A header written before epochs: magic and next seq.
	headerPayloadSizeV1 = 16
	queueMagicV1        = "CCQUEUE1"
)

// Defaults: a bus does some 2,000 taps a day; 65,536 records of 130 bytes
// are a month offline, in about 12 MiB of memory and 9.6 MiB of file
// (147-byte frames).
const (
	defaultRecordBytesMax = 4 << 10
	defaultRecordsMax     = 1 << 16
	defaultBytesMax       = 32 << 20
	defaultCompactBytes   = 1 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ErrQueueFull is in the chain of the error (kind Conflict) that Append and
// AppendBatch return when the queue holds its maximum number of entries or
// bytes. Nothing was written; the terminal should refuse taps until the
// uploader has drained the queue.
var ErrQueueFull = errors.New("queue full")

// ErrQueueClosed is in the chain of the error (kind Conflict) that a Queue
// returns after Close.
var ErrQueueClosed = errors.New("queue closed")

// Entry is one pending record: its seq, assigned by Queue.Append, and its
// bytes.
type Queued struct {
	Seq  uint64
	Data []byte
}

// QueueOption sets a limit or a collaborator of OpenQueue.
type QueueOption func(*queueConfig)

type queueConfig struct {
	recordBytesMax int
	recordsMax     int
	bytesMax       int64
	compactBytes   int64
	logger         *slog.Logger
}

// QueueRecordBytesMax sets the largest record Append accepts (default
// 4 KiB, at most 64 KiB).
func QueueRecordBytesMax(n int) QueueOption {
	return func(c *queueConfig) { c.recordBytesMax = n }
}

// QueueRecordsMax sets how many unacked records the queue holds before
// Append fails with ErrQueueFull (default 65,536, at most 4,194,304).
func QueueRecordsMax(n int) QueueOption {
	return func(c *queueConfig) { c.recordsMax = n }
}

// QueueBytesMax sets how many bytes of unacked records the queue holds before
// Append fails with ErrQueueFull (default 32 MiB, at most 256 MiB).
func QueueBytesMax(n int64) QueueOption {
	return func(c *queueConfig) { c.bytesMax = n }
}

// QueueCompactBytes sets how many dead bytes (acked records and ack frames)
// the file may hold before Ack compacts it, provided they also exceed the
// live bytes (default 1 MiB; 4 KiB to 256 MiB).
func QueueCompactBytes(n int64) QueueOption {
	return func(c *queueConfig) { c.compactBytes = n }
}

// QueueLogger sets where the queue reports what it repairs (a torn tail) and
// what fails in the background (an automatic compaction). By default it
// reports nothing.
func QueueLogger(l *slog.Logger) QueueOption {
	return func(c *queueConfig) { c.logger = l }
}

// Queue is a durable FIFO of records for a terminal that works offline. It is
// safe for concurrent use; a validator goroutine appending and an uploader
// goroutine acking is the intended pattern.
//
// After a write or fsync fails the queue refuses every further write (what
// reached the disk is unknown, see fsync(2)); Close it and OpenQueue again,
// which recovers the file.
type Queue struct {
	path  string
	cfg   queueConfig
	epoch uint64 // fixed at open

	mu          sync.Mutex
	f           *os.File
	lock        *os.File
	size        int64 // bytes of the file; the next write goes here
	state       queueState
	compactAt   int64 // dead bytes that trigger the next automatic compaction
	broken      error // the write or fsync failure that made the queue read-only
	closed      bool
	buf         []byte
	crashAtStep func(step compactStep) bool // tests: stop compaction as if the power failed
}

// compactStep names the points at which a test may simulate a crash during
// compaction.
type compactStep int

const (
	stepTempSynced compactStep = iota + 1 // new file written and synced, not renamed
	stepRenamed                           // renamed over the old file, directory not synced
)

var errSimulatedCrash = errors.New("simulated crash")

// OpenQueue opens the queue stored at path, creating it if it does not
// exist. It reads the whole file: a torn last write (see the design comment
// in queue.go) is cut off and the file synced; a damaged frame followed by a
// later write is corruption and returns an error of kind IO naming the byte
// offset, leaving the file untouched. A file that does not start with a queue
// header returns kind Invalid, as do options out of range. A queue already
// open (by this or another process) returns kind Conflict; other file
// system failures return kind IO.
func OpenQueue(path string, opts ...QueueOption) (*Queue, error) {
	const op = "terminal.OpenQueue"
	cfg := queueConfig{
		recordBytesMax: defaultRecordBytesMax,
		recordsMax:     defaultRecordsMax,
		bytesMax:       defaultBytesMax,
		compactBytes:   defaultCompactBytes,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.check(op); err != nil {
		return nil, err
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}

	// A lock file of its own: compaction replaces the queue file, and a
	// lock on the old inode would not cover the new one.
	lock, err := filelock.Lock(path + ".lock")
	if errors.Is(err, filelock.ErrLocked) {
		return nil, citycard.E(op, citycard.Conflict, "%s: the queue is open elsewhere: %w", path, err)
	}
	if err != nil {
		return nil, citycard.E(op, citycard.IO, "lock %s: %w", path, err)
	}
	q, err := openLocked(op, path, cfg)
	if err != nil {
		_ = lock.Close() // the error that matters is err; closing only releases the lock
		return nil, err
	}
	q.lock = lock
	return q, nil
}

func (c *queueConfig) check(op string) error {
	switch {
	case c.recordBytesMax < 1 || c.recordBytesMax > queueRecordBytesCap:
		return citycard.E(op, citycard.Invalid, "record size limit %d: want 1 to %d", c.recordBytesMax, queueRecordBytesCap)
	case c.recordsMax < 1 || c.recordsMax > queueRecordsCap:
		return citycard.E(op, citycard.Invalid, "record limit %d: want 1 to %d", c.recordsMax, queueRecordsCap)
	case c.bytesMax < 1 || c.bytesMax > queueBytesCap:
		return citycard.E(op, citycard.Invalid, "byte limit %d: want 1 to %d", c.bytesMax, queueBytesCap)
	case c.compactBytes < 4<<10 || c.compactBytes > queueBytesCap:
		return citycard.E(op, citycard.Invalid, "compaction threshold %d: want %d to %d", c.compactBytes, 4<<10, queueBytesCap)
	}
	return nil
}

func openLocked(op, path string, cfg queueConfig) (*Queue, error) {
	// A .compact file is a compaction that never reached its rename: the
	// file at path is complete without it.
	if err := os.Remove(path + ".compact"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, citycard.E(op, citycard.IO, "remove stale compaction file: %w", err)
	}
	f, data, err := readQueueFile(op, path)
	if err != nil {
		return nil, err
	}
	q, err := loadQueue(op, path, f, data, cfg)
	if err != nil {
		_ = f.Close() // the error already says what failed; nothing was written
		return nil, err
	}
	return q, nil
}

// readQueueFile opens the queue file for reading and writing, creating it
// if it is missing or empty, and returns its contents.
func readQueueFile(op, path string) (*os.File, []byte, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		f, err = createQueueFile(path)
	}
	if err != nil {
		return nil, nil, citycard.E(op, citycard.IO, "%w", err)
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() == 0 {
		// An empty file holds no record: give it a header the safe way.
		if err = f.Close(); err == nil {
			if f, err = createQueueFile(path); err == nil {
				fi, err = f.Stat()
			}
		}
	}
	if err != nil {
		if f != nil {
			_ = f.Close() // nothing written; err says what failed
		}
		return nil, nil, citycard.E(op, citycard.IO, "%w", err)
	}
	if fi.Size() > queueFileBytesMax {
		_ = f.Close() // read-only so far
		return nil, nil, citycard.E(op, citycard.Invalid, "%s: %d bytes, larger than any queue file (%d)", path, fi.Size(), queueFileBytesMax)
	}
	data := make([]byte, fi.Size())
	if _, err := f.ReadAt(data, 0); err != nil {
		_ = f.Close() // read-only so far
		return nil, nil, citycard.E(op, citycard.IO, "read %s: %w", path, err)
	}
	return f, data, nil
}

// createQueueFile makes a queue file holding only a header, through a
// synced temporary file and a rename, so that a crash never leaves a
// half-made header at path.
func createQueueFile(path string) (*os.File, error) {
	epoch, err := newEpoch()
	if err != nil {
		return nil, err
	}
	f, _, err := writeQueueFile(path, 1, epoch, nil, nil)
	return f, err
}

// newEpoch draws a queue epoch: 64 random bits, never 0 (0 stands for a
// file written before epochs). Two files of one terminal draw the same
// epoch with a chance of about n*n/2^65 for n files in its life.
func newEpoch() (uint64, error) {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, fmt.Errorf("queue epoch: %w", err)
		}
		if e := binary.LittleEndian.Uint64(b[:]); e != 0 {
			return e, nil
		}
	}
}

func loadQueue(op, path string, f *os.File, data []byte, cfg queueConfig) (*Queue, error) {
	scan, err := scanQueue(data)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, fmt.Errorf("%s: %w", path, err))
	}
	if scan.goodBytes < int64(len(data)) {
		if err := f.Truncate(scan.goodBytes); err != nil {
			return nil, citycard.E(op, citycard.IO, "cut torn tail: %w", err)
		}
		if err := f.Sync(); err != nil {
			return nil, citycard.E(op, citycard.IO, "cut torn tail: %w", err)
		}
		cfg.logger.Warn("terminal queue: cut a torn write at the end of the file",
			"path", path, "offset", scan.goodBytes, "bytes", int64(len(data))-scan.goodBytes)
	}
	epoch := scan.epoch
	if epoch == 0 {
		// A file written before epochs: it gets one now, written into the
		// header by the next compaction. Until then each open draws anew,
		// which only renames batches not yet answered (their records come
		// back as duplicates under the new name, never twice booked).
		var err error
		if epoch, err = newEpoch(); err != nil {
			return nil, citycard.E(op, citycard.IO, "%w", err)
		}
		cfg.logger.Info("terminal queue: a file without an epoch; its next compaction writes one", "path", path)
	}
	q := &Queue{path: path, cfg: cfg, epoch: epoch, f: f, size: scan.goodBytes, state: scan.state}
	q.compactAt = cfg.compactBytes
	q.state.purge()
	return q, nil
}

// Append stores rec durably (written and fsynced) and returns the seq it
// was given; only then may the terminal tell the rider the tap is done. The
// queue keeps its own copy of rec. Errors: kind Invalid for an empty record
// or one above the size limit; kind Conflict with ErrQueueFull when the queue
// is full, or with ErrQueueClosed after Close; kind IO when the write or
// fsync fails, after which the queue refuses writes.
func (q *Queue) Append(rec []byte) (uint64, error) {
	seqs, err := q.appendRecords("terminal.Queue.Append", [][]byte{rec})
	if err != nil {
		return 0, err
	}
	return seqs[0], nil
}

// AppendBatch stores recs in one write and one fsync (group commit) and
// returns their seqs, in order. It is all or nothing, crash included: after
// a power failure either every record of the batch is in the queue or none
// is. An empty batch writes nothing. Errors are those of Append, and kind
// Invalid for more than 1,024 records.
func (q *Queue) AppendBatch(recs [][]byte) ([]uint64, error) {
	return q.appendRecords("terminal.Queue.AppendBatch", recs)
}

func (q *Queue) appendRecords(op string, recs [][]byte) ([]uint64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.usable(op); err != nil {
		return nil, err
	}
	if len(recs) > queueBatchMax {
		return nil, citycard.E(op, citycard.Invalid, "batch of %d records: limit %d", len(recs), queueBatchMax)
	}
	var bytes int64
	for i, rec := range recs {
		if len(rec) == 0 || len(rec) > q.cfg.recordBytesMax {
			return nil, citycard.E(op, citycard.Invalid, "record %d: %d bytes, want 1 to %d", i, len(rec), q.cfg.recordBytesMax)
		}
		bytes += int64(len(rec))
	}
	if len(recs) == 0 {
		return []uint64{}, nil
	}
	s := &q.state
	if s.live+len(recs) > q.cfg.recordsMax {
		return nil, citycard.E(op, citycard.Conflict, "%d records pending, limit %d: %w", s.live, q.cfg.recordsMax, ErrQueueFull)
	}
	if s.liveDataBytes+bytes > q.cfg.bytesMax {
		return nil, citycard.E(op, citycard.Conflict, "%d bytes pending, limit %d: %w", s.liveDataBytes, q.cfg.bytesMax, ErrQueueFull)
	}
	if s.nextSeq > queueSeqMax-uint64(len(recs)) {
		// 2^62 taps: unreachable in practice, but the check keeps seqs unique.
		return nil, citycard.E(op, citycard.Conflict, "seqs exhausted: %w", ErrQueueFull)
	}

	buf := q.buf[:0]
	seqs := make([]uint64, len(recs))
	for i, rec := range recs {
		seqs[i] = s.nextSeq + uint64(i)
		flags := byte(0)
		if i == 0 {
			flags |= frameFirst
		}
		if i == len(recs)-1 {
			flags |= frameLast
		}
		buf = appendRecordFrame(buf, flags, seqs[i], rec)
	}
	q.buf = buf
	if err := q.writeSync(buf); err != nil {
		return nil, citycard.E(op, citycard.IO, "%w", err)
	}
	for i, rec := range recs {
		s.add(seqs[i], slices.Clone(rec))
	}
	s.nextSeq += uint64(len(recs))
	q.shrinkBuf()
	return seqs, nil
}

// Pending returns up to n records not yet acked, oldest (lowest seq)
// first; n <= 0 returns none. The Data slices are copies the caller may
// keep. Only durable records are returned: Append adds a record to the
// queue after its fsync.
func (q *Queue) Pending(n int) []Queued {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.state.pending(n)
}

// Epoch returns the queue file's epoch: a random number, never 0, drawn
// when the file was created and kept by every compaction and reopen, so
// that (epoch, seq) names a record uniquely for the terminal's whole life,
// across files deleted and made again. A file written before epochs is
// given one at open, kept from its next compaction on (until then a
// reopen may draw another).
func (q *Queue) Epoch() uint64 { return q.epoch }

// Len returns the number of records not yet acked.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.state.live
}

// Ack removes the records with the given seqs, durably: when Ack returns nil
// the ack frame is written and fsynced, and the records will never be
// returned by Pending again, restart included. Seqs that are unknown or
// already acked are ignored; if none is pending, Ack writes nothing. When the
// acked bytes exceed the compaction threshold Ack also compacts the file; a
// failed automatic compaction does not fail the Ack (it is logged and retried
// later). Errors: kind Conflict with ErrQueueClosed after Close; kind IO when
// the write or fsync fails, after which the queue refuses writes.
func (q *Queue) Ack(seqs ...uint64) error {
	const op = "terminal.Queue.Ack"
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.usable(op); err != nil {
		return err
	}
	s := &q.state
	ranges := s.ackRanges(seqs)
	if len(ranges) == 0 {
		return nil
	}
	buf := q.buf[:0]
	for i := 0; i < len(ranges); i += ackRangesPerFrame {
		j := min(i+ackRangesPerFrame, len(ranges))
		flags := byte(0)
		if i == 0 {
			flags |= frameFirst
		}
		if j == len(ranges) {
			flags |= frameLast
		}
		buf = appendAckFrame(buf, flags, ranges[i:j])
	}
	q.buf = buf
	if err := q.writeSync(buf); err != nil {
		return citycard.E(op, citycard.IO, "%w", err)
	}
	for _, r := range ranges {
		s.ackRange(r[0], r[1])
	}
	s.deadBytes += int64(len(buf))
	s.purgeIfSparse()
	q.shrinkBuf()

	if s.deadBytes >= q.compactAt && s.deadBytes >= s.liveFrameBytes() {
		if err := q.compactLocked(); err != nil {
			// The ack is durable; the old file is still whole (or, if the
			// rename could not be synced, the queue is broken and the next
			// write says so). Try again when twice as much is dead.
			q.compactAt = 2 * s.deadBytes
			q.cfg.logger.Error("terminal queue: automatic compaction failed", "path", q.path, "err", err)
		}
	}
	return nil
}

// Compact rewrites the file with only the unacked records, keeping their
// seqs and the seq counter: it writes path+".compact", fsyncs it, renames it
// over path and fsyncs the directory. A crash at any point leaves a complete
// queue, old or new. Errors: kind Conflict with ErrQueueClosed after Close;
// kind IO when a file operation fails. If the failure comes before the
// rename the queue goes on with the old file; after it, the queue refuses
// writes.
func (q *Queue) Compact() error {
	const op = "terminal.Queue.Compact"
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.usable(op); err != nil {
		return err
	}
	if err := q.compactLocked(); err != nil {
		return citycard.E(op, citycard.IO, "%w", err)
	}
	return nil
}

// Close releases the file and its lock. Every record Append returned and
// every Ack is already on disk, so Close writes nothing. Errors: kind
// Conflict with ErrQueueClosed if already closed; kind IO if closing fails.
func (q *Queue) Close() error {
	const op = "terminal.Queue.Close"
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return citycard.E(op, citycard.Conflict, "%w", ErrQueueClosed)
	}
	q.closed = true
	errFile := q.f.Close()
	errLock := q.lock.Close()
	if err := errors.Join(errFile, errLock); err != nil {
		return citycard.E(op, citycard.IO, "%w", err)
	}
	return nil
}

func (q *Queue) usable(op string) error {
	if q.closed {
		return citycard.E(op, citycard.Conflict, "%w", ErrQueueClosed)
	}
	if q.broken != nil {
		return citycard.E(op, citycard.IO, "queue refuses writes after an earlier failure: %w", q.broken)
	}
	return nil
}

// writeSync writes buf at the end of the file and fsyncs. On failure the
// queue is broken: a partial write or a failed fsync leaves the tail in an
// unknown state that only OpenQueue's recovery may judge.
func (q *Queue) writeSync(buf []byte) error {
	if _, err := q.f.WriteAt(buf, q.size); err != nil {
		q.broken = err
		return err
	}
	if err := q.f.Sync(); err != nil {
		q.broken = err
		return err
	}
	q.size += int64(len(buf))
	return nil
}

// shrinkBuf drops a scratch buffer that a large batch or ack grew, so that
// one burst does not pin memory.
func (q *Queue) shrinkBuf() {
	if cap(q.buf) > 64<<10 {
		q.buf = nil
	}
}

// compactLocked rewrites the file; q.mu is held.
func (q *Queue) compactLocked() error {
	s := &q.state
	s.purge()
	live := s.entries[s.head:]
	f, size, err := writeQueueFile(q.path, s.nextSeq, q.epoch, live, q.crashAtStep)
	if err != nil {
		if errors.Is(err, errRenamedUnsynced) || errors.Is(err, errSimulatedCrash) {
			// Appends must go to a file whose name is durable: if the
			// rename were lost, they would be lost with it.
			q.broken = err
		}
		return err
	}
	old := q.f
	q.f = f
	q.size = size
	s.deadBytes = 0
	q.compactAt = q.cfg.compactBytes
	if err := old.Close(); err != nil {
		// The old file is unlinked; nothing more will be written to it.
		q.cfg.logger.Warn("terminal queue: close the file replaced by compaction", "path", q.path, "err", err)
	}
	return nil
}

var errRenamedUnsynced = errors.New("compaction renamed the file but could not sync the directory")

// writeQueueFile writes a complete queue file (header with nextSeq and epoch, then
// one single-frame write per entry) to path+".compact", syncs it, renames it
// over path and syncs the directory. It returns the new file, open for
// writing, and its size. crash, if not nil, is asked at each step whether to
// stop there as if the power had failed.
func writeQueueFile(path string, nextSeq, epoch uint64, entries []queueEntry, crash func(compactStep) bool) (f *os.File, size int64, err error) {
	tmp := path + ".compact"
	f, err = os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, 0, err
	}
	renamed := false
	defer func() {
		if err == nil {
			return
		}
		_ = f.Close() // err already says what failed
		if !renamed && !errors.Is(err, errSimulatedCrash) {
			_ = os.Remove(tmp) // best effort: OpenQueue removes it too
		}
	}()

	w := bufio.NewWriterSize(f, 64<<10)
	frame := appendHeaderFrame(nil, nextSeq, epoch)
	size = int64(len(frame))
	if _, err = w.Write(frame); err != nil {
		return nil, 0, err
	}
	for _, e := range entries {
		if e.acked {
			continue
		}
		frame = appendRecordFrame(frame[:0], frameFirst|frameLast, e.seq, e.data)
		size += int64(len(frame))
		if _, err = w.Write(frame); err != nil {
			return nil, 0, err
		}
	}
	if err = w.Flush(); err != nil {
		return nil, 0, err
	}
	if err = f.Sync(); err != nil {
		return nil, 0, err
	}
	if crash != nil && crash(stepTempSynced) {
		return nil, 0, errSimulatedCrash
	}
	if err = os.Rename(tmp, path); err != nil {
		return nil, 0, err
	}
	renamed = true
	if crash != nil && crash(stepRenamed) {
		return nil, 0, errSimulatedCrash
	}
	if err = syncDir(filepath.Dir(path)); err != nil {
		return nil, 0, fmt.Errorf("%w: %w", errRenamedUnsynced, err)
	}
	return f, size, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	errSync := d.Sync()
	errClose := d.Close()
	return errors.Join(errSync, errClose)
}

// Frames.

func appendFrame(buf []byte, kind byte, payloadLen int) ([]byte, int) {
	start := len(buf)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(payloadLen))
	buf = binary.LittleEndian.AppendUint32(buf, 0) // CRC, set by sealFrame
	buf = append(buf, kind)
	return buf, start
}

func sealFrame(buf []byte, start int) []byte {
	crc := crc32.Checksum(buf[start+8:], crcTable)
	binary.LittleEndian.PutUint32(buf[start+4:], crc)
	return buf
}

func appendHeaderFrame(buf []byte, nextSeq, epoch uint64) []byte {
	buf, start := appendFrame(buf, frameKindHeader|frameFirst|frameLast, headerPayloadSize)
	buf = append(buf, queueMagic...)
	buf = binary.LittleEndian.AppendUint64(buf, nextSeq)
	buf = binary.LittleEndian.AppendUint64(buf, epoch)
	return sealFrame(buf, start)
}

// parseHeader decodes a header frame: version 2 with an epoch, version 1
// (written before epochs) without, version 0 for any other frame.
func parseHeader(h frame) (nextSeq, epoch uint64, version int) {
	if h.kind != frameKindHeader|frameFirst|frameLast {
		return 0, 0, 0
	}
	p := h.payload
	switch {
	case len(p) == headerPayloadSize && string(p[:8]) == queueMagic:
		return binary.LittleEndian.Uint64(p[8:]), binary.LittleEndian.Uint64(p[16:]), 2
	case len(p) == headerPayloadSizeV1 && string(p[:8]) == queueMagicV1:
		return binary.LittleEndian.Uint64(p[8:]), 0, 1
	}
	return 0, 0, 0
}

func appendRecordFrame(buf []byte, flags byte, seq uint64, rec []byte) []byte {
	buf, start := appendFrame(buf, frameKindRecord|flags, 8+len(rec))
	buf = binary.LittleEndian.AppendUint64(buf, seq)
	buf = append(buf, rec...)
	return sealFrame(buf, start)
}

func appendAckFrame(buf []byte, flags byte, ranges [][2]uint64) []byte {
	buf, start := appendFrame(buf, frameKindAck|flags, 16*len(ranges))
	for _, r := range ranges {
		buf = binary.LittleEndian.AppendUint64(buf, r[0])
		buf = binary.LittleEndian.AppendUint64(buf, r[1])
	}
	return sealFrame(buf, start)
}

func recordFrameBytes(dataLen int) int64 { return int64(frameHeaderBytes + 8 + dataLen) }

// frame is a frame whose length and CRC check out.
type frame struct {
	kind    byte // with its flags
	payload []byte
	end     int64 // offset just past the frame
}

// parseFrame reads the frame at off; ok is false if it is incomplete, too
// long or fails its CRC.
func parseFrame(data []byte, off int64) (fr frame, ok bool) {
	rest := data[off:]
	if len(rest) < frameHeaderBytes {
		return fr, false
	}
	n := binary.LittleEndian.Uint32(rest)
	if n > framePayloadMax || int64(n) > int64(len(rest)-frameHeaderBytes) {
		return fr, false
	}
	body := rest[8 : frameHeaderBytes+int(n)]
	if crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(rest[4:]) {
		return fr, false
	}
	return frame{kind: body[0], payload: body[1:], end: off + frameHeaderBytes + int64(n)}, true
}

// findWriteStart returns the offset of the first valid frame at or after
// off that begins a write.
func findWriteStart(data []byte, off int64) (int64, bool) {
	for p := off; p+frameHeaderBytes <= int64(len(data)); p++ {
		if data[p+8]&frameFirst == 0 {
			continue // cheap test before the CRC
		}
		if _, ok := parseFrame(data, p); ok {
			return p, true
		}
	}
	return 0, false
}

// scanResult is what a queue file holds.
type scanResult struct {
	state     queueState
	epoch     uint64 // 0: a file written before epochs
	goodBytes int64  // end of the last complete write; the rest is a torn write
}

// scanQueue reads a queue file. It returns kind Invalid if data does not
// begin with a queue header, kind IO for corruption before the last write.
func scanQueue(data []byte) (scanResult, error) {
	const op = "terminal.scanQueue"
	var r scanResult
	h, ok := parseFrame(data, 0)
	nextSeq, epoch, version := parseHeader(h)
	if !ok || version == 0 {
		// Queue files are made whole by a rename, so a bad header is never
		// a torn write: either the header was damaged or this is not a
		// queue file at all.
		if p, later := findWriteStart(data, 1); !ok && later {
			return r, citycard.E(op, citycard.IO, "corrupt queue at byte offset 0: damaged header followed by a write at offset %d", p)
		}
		return r, citycard.E(op, citycard.Invalid, "not a queue file: no queue header at offset 0")
	}
	r.state.nextSeq = nextSeq
	if r.state.nextSeq == 0 || r.state.nextSeq > queueSeqMax {
		return r, citycard.E(op, citycard.IO, "corrupt queue: header's next seq %d out of range", r.state.nextSeq)
	}
	if version == 2 && epoch == 0 {
		return r, citycard.E(op, citycard.IO, "corrupt queue: header's epoch is 0")
	}
	r.epoch = epoch
	corrupt := func(off int64, format string, args ...any) error {
		return citycard.E(op, citycard.IO, "corrupt queue at byte offset %d: %s", off, fmt.Sprintf(format, args...))
	}

	// A write's frames are applied only when its last frame has been read.
	type pendingOp struct {
		kind    byte
		payload []byte
		bytes   int64
	}
	var write []pendingOp
	writeStart := h.end
	lastSeq := uint64(0)
	off := h.end
	for off < int64(len(data)) {
		fr, ok := parseFrame(data, off)
		if !ok {
			if p, later := findWriteStart(data, off+1); later {
				return r, corrupt(off, "damaged frame (bad length or CRC-32C) followed by a later write at offset %d", p)
			}
			break // a torn last write
		}
		first, last := fr.kind&frameFirst != 0, fr.kind&frameLast != 0
		switch {
		case first && len(write) > 0:
			return r, corrupt(off, "a write begins before the previous one (at offset %d) ended", writeStart)
		case !first && len(write) == 0:
			return r, corrupt(off, "frame continues a write that never began")
		}
		switch fr.kind & frameKindMask {
		case frameKindRecord:
			if len(fr.payload) < 9 {
				return r, corrupt(off, "record frame of %d bytes", len(fr.payload))
			}
			seq := binary.LittleEndian.Uint64(fr.payload)
			if seq <= lastSeq || seq >= queueSeqMax {
				return r, corrupt(off, "record seq %d after seq %d", seq, lastSeq)
			}
			lastSeq = seq
		case frameKindAck:
			if len(fr.payload) == 0 || len(fr.payload)%16 != 0 {
				return r, corrupt(off, "ack frame of %d bytes", len(fr.payload))
			}
			for i := 0; i < len(fr.payload); i += 16 {
				lo := binary.LittleEndian.Uint64(fr.payload[i:])
				hi := binary.LittleEndian.Uint64(fr.payload[i+8:])
				if lo == 0 || lo > hi {
					return r, corrupt(off, "ack range [%d, %d]", lo, hi)
				}
			}
		case frameKindHeader:
			return r, corrupt(off, "a second header")
		default:
			return r, corrupt(off, "unknown frame kind %#x", fr.kind)
		}
		write = append(write, pendingOp{kind: fr.kind & frameKindMask, payload: fr.payload, bytes: fr.end - off})
		off = fr.end
		if !last {
			continue
		}
		for _, w := range write {
			if w.kind == frameKindRecord {
				seq := binary.LittleEndian.Uint64(w.payload)
				// A copy, so that the file's dead bytes are not kept alive.
				r.state.add(seq, slices.Clone(w.payload[8:]))
				r.state.nextSeq = max(r.state.nextSeq, seq+1)
				continue
			}
			for i := 0; i < len(w.payload); i += 16 {
				r.state.ackRange(binary.LittleEndian.Uint64(w.payload[i:]), binary.LittleEndian.Uint64(w.payload[i+8:]))
			}
			r.state.deadBytes += w.bytes
			r.state.purgeIfSparse()
		}
		write = write[:0]
		writeStart = off
	}
	// Whatever follows writeStart is a write that did not complete: a record
	// in it was never acknowledged to its caller, an ack never returned.
	r.goodBytes = writeStart
	return r, nil
}

// In-memory state, shared by the scan and the live queue.

type queueEntry struct {
	seq   uint64
	data  []byte
	acked bool
}

// queueState holds the records in seq order. Acked records stay in entries,
// marked, until enough of them accumulate for purge to drop them, so an ack
// in the middle costs a binary search, not a copy.
type queueState struct {
	entries       []queueEntry
	head          int // entries before head are all acked
	acked         int // acked entries in entries[head:]
	live          int
	liveDataBytes int64
	deadBytes     int64 // file bytes of acked records and of ack frames
	nextSeq       uint64
}

func (s *queueState) add(seq uint64, data []byte) {
	if n := len(s.entries); n > 0 && s.entries[n-1].seq >= seq {
		panic(fmt.Sprintf("terminal: queue seq %d added after %d", seq, s.entries[n-1].seq))
	}
	s.entries = append(s.entries, queueEntry{seq: seq, data: data})
	s.live++
	s.liveDataBytes += int64(len(data))
}

func (s *queueState) liveFrameBytes() int64 {
	return int64(s.live)*recordFrameBytes(0) + s.liveDataBytes
}

// find returns the index in entries of seq.
func (s *queueState) find(seq uint64) (int, bool) {
	i, ok := slices.BinarySearchFunc(s.entries[s.head:], seq, func(e queueEntry, seq uint64) int {
		switch {
		case e.seq < seq:
			return -1
		case e.seq > seq:
			return 1
		}
		return 0
	})
	return s.head + i, ok
}

// ackRange marks acked every live entry with lo <= seq <= hi.
func (s *queueState) ackRange(lo, hi uint64) {
	i, _ := s.find(lo)
	for ; i < len(s.entries) && s.entries[i].seq <= hi; i++ {
		e := &s.entries[i]
		if e.acked {
			continue
		}
		e.acked = true
		s.acked++
		s.live--
		s.liveDataBytes -= int64(len(e.data))
		s.deadBytes += recordFrameBytes(len(e.data))
	}
	for s.head < len(s.entries) && s.entries[s.head].acked {
		s.entries[s.head] = queueEntry{} // let the data go
		s.head++
		s.acked--
	}
}

// ackRanges returns the fewest ranges that ack exactly the live entries
// named by seqs: a range may span seqs that are acked or absent, never a
// live entry that is not named.
func (s *queueState) ackRanges(seqs []uint64) [][2]uint64 {
	idx := make([]int, 0, len(seqs))
	for _, seq := range seqs {
		if i, ok := s.find(seq); ok && !s.entries[i].acked {
			idx = append(idx, i)
		}
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	var ranges [][2]uint64
	for k := 0; k < len(idx); {
		lo, end := idx[k], idx[k]
		k++
	extend:
		for ; k < len(idx); k++ {
			for j := end + 1; j < idx[k]; j++ {
				if !s.entries[j].acked {
					break extend // a live entry not named lies between
				}
			}
			end = idx[k]
		}
		ranges = append(ranges, [2]uint64{s.entries[lo].seq, s.entries[end].seq})
	}
	return ranges
}

// purgeIfSparse drops acked entries once they are the majority, keeping
// the amortized cost of an ack constant.
func (s *queueState) purgeIfSparse() {
	if dropped := s.head + s.acked; dropped > 64 && dropped > s.live {
		s.purge()
	}
}

// purge drops acked entries.
func (s *queueState) purge() {
	if s.acked == 0 && s.head == 0 {
		return
	}
	live := make([]queueEntry, 0, s.live)
	for _, e := range s.entries[s.head:] {
		if !e.acked {
			live = append(live, e)
		}
	}
	s.entries, s.head, s.acked = live, 0, 0
}

func (s *queueState) pending(n int) []Queued {
	if n <= 0 {
		return nil
	}
	out := make([]Queued, 0, min(n, s.live))
	for _, e := range s.entries[s.head:] {
		if len(out) == n {
			break
		}
		if !e.acked {
			out = append(out, Queued{Seq: e.seq, Data: slices.Clone(e.data)})
		}
	}
	return out
}
