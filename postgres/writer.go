package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/citycard/citycard"
)

// Writer lock keys: pg_try_advisory_lock(int4, int4), the first key the
// hash of "citycard.writer." and the schema, the second the scope. A
// two-key lock never collides with the one-key (bigint) locks of
// migrations and the ledger, and advisory locks are per database already.
const (
	// writerScopeStore is the scope of the whole store: every shard.
	// Shards are 0 to N-1; a per-shard writer would lock (key, shard)
	// exclusive and (key, writerScopeStore) shared, so that a whole-store
	// writer, holding the latter exclusive, still excludes every one.
	writerScopeStore = -1

	// The lock's session outlives any idle timeout, and the server ends
	// it within about a minute of its client's host going silent
	// (keepalive after 30 s, then 3 probes 10 s apart), so that the lock
	// of a server whose machine died is not held for the kernel's default
	// two hours. A process that dies on a live host closes its socket at
	// once, and the lock goes with it.
	writerKeepaliveIdleS     = 30
	writerKeepaliveIntervalS = 10
	writerKeepaliveCount     = 3

	writerReleaseTimeout = 10 * time.Second // bounds the unlock at Release
	applicationNameMax   = 63               // bytes PostgreSQL keeps of application_name
)

// WriterLock is the store's writer lock: a session advisory lock held by
// a connection of its own for as long as the lock is held. The lock dies
// with its session, so a server killed with kill -9 leaves nothing to wait
// out: its socket closes, its backend ends, its lock is free.
type WriterLock struct {
	conn    *pgx.Conn
	key     int32 // the first key; the second is writerScopeStore
	stop    context.CancelFunc
	watched chan struct{} // closed when the watch ends
	lost    chan struct{} // closed if the session ends while the lock is held
	lostErr error         // why; written before lost is closed

	once sync.Once
	err  error // Release's
}

// LockWriter takes the store's writer lock, without waiting. One process
// writes the journal of a store (the acquirer decides every batch from its
// state in memory, and two such states would decide against each other);
// the lock makes that a fact rather than a hope. The session names its
// process in application_name, so that whoever finds the lock taken
// learns who holds it. Kinds: Conflict (another session holds it: the
// message names that session's backend, application, client and start),
// IO.
//
// The lock is per store, the schema of the search_path: two schemas in one
// database are two stores. A lock per shard, when shards have writers of
// their own, is the same lock with the shard as second key (see
// writerScopeStore). If the session ends while the lock is held (the
// server restarted, an administrator ended it, the network failed), Lost
// is closed and the holder must stop writing: another process may hold the
// lock by then.
func (db *DB) LockWriter(ctx context.Context) (*WriterLock, error) {
	const op = "postgres.DB.LockWriter"
	pc, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, mapErr(op, err)
	}
	// A connection of its own: the lock lives with its session, which the
	// pool must not reuse or close.
	conn := pc.Hijack()
	l, err := lockWriter(ctx, conn)
	if err != nil {
		_ = conn.Close(context.Background()) // ends the session, and any lock it took; err says what failed
		return nil, err
	}
	return l, nil
}

func lockWriter(ctx context.Context, conn *pgx.Conn) (*WriterLock, error) {
	const op = "postgres.DB.LockWriter"
	host, _ := os.Hostname() // application_name is for people; a host it cannot name is left out
	app := "citycard writer pid " + strconv.Itoa(os.Getpid())
	if host != "" {
		app += " on " + host
	}
	if len(app) > applicationNameMax {
		app = app[:applicationNameMax]
	}
	// Settings of this session only; a server without one of them (an
	// older release) is not asked to set it.
	_, err := conn.Exec(ctx, `SELECT set_config(s.name, s.value, false)
		FROM (VALUES ('application_name', $1),
			('tcp_keepalives_idle', $2), ('tcp_keepalives_interval', $3), ('tcp_keepalives_count', $4),
			('idle_session_timeout', '0'), ('idle_in_transaction_session_timeout', '0')) AS s (name, value)
		JOIN pg_settings p ON p.name = s.name`,
		app, strconv.Itoa(writerKeepaliveIdleS), strconv.Itoa(writerKeepaliveIntervalS), strconv.Itoa(writerKeepaliveCount))
	if err != nil {
		return nil, mapErr(op, err)
	}
	var (
		key         int32
		schema, dbn string
		ok          bool
	)
	err = conn.QueryRow(ctx, `SELECT k, current_schema(), current_database(), pg_try_advisory_lock(k, $1)
		FROM (SELECT hashtext('citycard.writer.' || current_schema()) AS k) AS key`, int32(writerScopeStore)).Scan(&key, &schema, &dbn, &ok)
	if err != nil {
		return nil, mapErr(op, err)
	}
	if !ok {
		return nil, citycard.E(op, citycard.Conflict, "schema %s of database %s: another session holds the writer lock (%s): one writer per store",
			schema, dbn, lockHolder(ctx, conn, key))
	}
	watch, stop := context.WithCancel(context.Background())
	l := &WriterLock{conn: conn, key: key, stop: stop, watched: make(chan struct{}), lost: make(chan struct{})}
	go l.watch(watch)
	return l, nil
}

// lockHolder describes the session holding the writer lock of key, as
// far as the server lets this role see it.
func lockHolder(ctx context.Context, conn *pgx.Conn, key int32) string {
	var (
		pid           int32
		app, client   string
		start         *time.Time
		descr, detail string
	)
	err := conn.QueryRow(ctx, `SELECT l.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local'), a.backend_start
		FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
			AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND l.classid = $1::int4::oid AND l.objid = $2::int4::oid
		LIMIT 1`, key, int32(writerScopeStore)).Scan(&pid, &app, &client, &start)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "its session has just ended: try again"
	case err != nil:
		return "holder unknown: " + err.Error()
	}
	descr = "backend pid " + strconv.Itoa(int(pid))
	if app != "" {
		detail += ", " + app
	}
	detail += ", client " + client
	if start != nil {
		detail += ", connected since " + start.UTC().Format(time.RFC3339)
	}
	return descr + detail
}

// watch waits on the lock's session until Release stops it or the
// session ends; no query runs on it meanwhile, so it reads only what the
// server says unasked: notices, and the error and end of a session that
// is ended.
func (l *WriterLock) watch(ctx context.Context) {
	defer close(l.watched)
	for {
		err := l.conn.PgConn().WaitForNotification(ctx)
		if ctx.Err() != nil {
			return // Release
		}
		if err != nil {
			l.lostErr = err
			close(l.lost)
			return
		}
	}
}

// Release gives the lock back and ends its session; a lock already lost
// has nothing to give back. Releasing twice does nothing more. Kind IO.
func (l *WriterLock) Release() error {
	l.once.Do(func() {
		const op = "postgres.WriterLock.Release"
		l.stop()
		<-l.watched
		select {
		case <-l.lost:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), writerReleaseTimeout)
		defer cancel()
		var unlocked bool
		err := l.conn.QueryRow(ctx, `SELECT pg_advisory_unlock($1, $2)`, l.key, int32(writerScopeStore)).Scan(&unlocked)
		if err == nil && !unlocked {
			err = errors.New("the session did not hold the lock")
		}
		// Closing ends the session, which frees the lock whatever the
		// unlock said.
		err = errors.Join(err, l.conn.Close(ctx))
		if err != nil {
			l.err = citycard.E(op, citycard.IO, "%w", err)
		}
	})
	return l.err
}

// Lost is closed when the lock's session ends while the lock is held.
func (l *WriterLock) Lost() <-chan struct{} { return l.lost }

// Err says why the lock was lost; nil while it is held.
func (l *WriterLock) Err() error {
	select {
	case <-l.lost:
		return citycard.E("postgres.WriterLock", citycard.Unavailable, "the writer lock's session ended: %w", l.lostErr)
	default:
		return nil
	}
}

// String names the lock, for logs.
func (l *WriterLock) String() string {
	return fmt.Sprintf("advisory lock (%d, %d) of backend %d", l.key, writerScopeStore, l.conn.PgConn().PID())
}
