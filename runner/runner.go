// Package runner wires asynq to Redis for star-pipeline: a Broker connects
// to a real Redis (or starts an embedded miniredis on loopback when no
// address is given) and hands out an asynq client, an inspector for
// reconcile-on-start, and Workers that serve queues with a retry policy
// suited to long training tasks and a graceful shutdown that lets an
// in-flight task checkpoint and go back to its queue.
package runner

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Sentinel errors. Errors returned by this package wrap them.
var (
	// ErrRedisUnreachable: nothing answered at the Redis address in time.
	ErrRedisUnreachable = errors.New("redis unreachable")
	// ErrRedisAuth: Redis refused the password (or wanted one).
	ErrRedisAuth = errors.New("redis refused authentication")
	// ErrInvalidOptions: the Redis address is malformed or an option is
	// out of range; nothing was dialled.
	ErrInvalidOptions = errors.New("invalid queue options")
)

// DefaultPingTimeout bounds the first PING to a real Redis.
const DefaultPingTimeout = 2 * time.Second

// Options says which Redis to use. The zero value starts an embedded
// miniredis.
type Options struct {
	// Addr is the Redis address: "" starts an embedded miniredis on a
	// random port of 127.0.0.1; "host:port" (port 6379 when omitted);
	// "unix:///path/redis.sock" or "/path/redis.sock" for a unix socket;
	// or a redis:// or rediss:// URL. Default "".
	Addr string

	// Password authenticates to Redis; it overrides a password in an
	// Addr URL. It is never logged. Default "" (no AUTH). The CLI reads it
	// from STAR_REDIS_PASSWORD.
	Password string

	// DB is the Redis database number to select. Default 0.
	DB int

	// TLS enables TLS with this configuration. Default nil: plaintext.
	TLS *tls.Config

	// PingTimeout bounds connecting to a real Redis and its first PING; an
	// address that does not answer in time fails with
	// ErrRedisUnreachable. Default DefaultPingTimeout.
	PingTimeout time.Duration

	// OutageLimit is how long EnqueueOnce, LookupTask and DeleteTask
	// retry, with back-off, errors of an unreachable Redis (see
	// IsTransient) before they fail with ErrRedisUnreachable: a Redis
	// restarted or stalled for less goes unnoticed but for a log line.
	// Default DefaultOutageLimit (5m); negative: no retries. The CLI reads
	// it from --redis-outage (STAR_REDIS_OUTAGE).
	OutageLimit time.Duration

	// Logger receives the runner's and asynq's logs. Default: discarded.
	Logger *slog.Logger
}

// String describes o without its password.
func (o Options) String() string {
	pw := "none"
	if o.Password != "" {
		pw = "set"
	}
	addr := redactAddr(o.Addr)
	if addr == "" {
		addr = "embedded"
	}
	return fmt.Sprintf("redis=%s db=%d tls=%t password=%s", addr, o.DB, o.TLS != nil, pw)
}

// LogValue keeps the password out of structured logs.
func (o Options) LogValue() slog.Value { return slog.StringValue(o.String()) }

func (o Options) withDefaults() Options {
	if o.PingTimeout <= 0 {
		o.PingTimeout = DefaultPingTimeout
	}
	if o.OutageLimit == 0 {
		o.OutageLimit = DefaultOutageLimit
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o
}

// Broker is a connection to the queue's Redis: real, or an embedded
// miniredis it owns. Close it when done.
type Broker struct {
	opts      Options
	redisOpts *redis.Options // template for every connection pool
	display   string         // address without credentials, for messages
	embedded  *embedded
	rdb       *redis.Client
	client    *asynq.Client
	inspector *asynq.Inspector
	log       *slog.Logger

	closeOnce sync.Once
	closeErr  error
}

// Open connects to the Redis of opts, or starts an embedded miniredis when
// opts.Addr is empty. A real Redis must answer PING within
// opts.PingTimeout: otherwise Open fails with ErrRedisUnreachable, or with
// ErrRedisAuth when it refuses the password. A malformed address or a
// negative DB fails with ErrInvalidOptions before anything is dialled. No
// error and no log line shows the password or an address's credentials.
func Open(ctx context.Context, opts Options) (*Broker, error) {
	opts = opts.withDefaults()
	if opts.DB < 0 {
		return nil, fmt.Errorf("%w: redis db %d: want 0 or more", ErrInvalidOptions, opts.DB)
	}
	b := &Broker{opts: opts, log: opts.Logger}
	if opts.Addr == "" {
		e, err := startEmbedded(opts.Password)
		if err != nil {
			return nil, fmt.Errorf("starting embedded redis: %w", err)
		}
		b.embedded = e
		b.redisOpts = &redis.Options{Network: "tcp", Addr: e.addr(), Password: opts.Password, DB: opts.DB}
		b.display = e.addr() + " (embedded)"
	} else {
		ro, err := redisOptions(opts)
		if err != nil {
			return nil, err
		}
		b.redisOpts = ro
		b.display = redactAddr(opts.Addr)
	}
	b.rdb = b.newRedis()
	if err := b.ping(ctx); err != nil {
		b.Close()
		return nil, err
	}
	b.client = asynq.NewClientFromRedisClient(b.rdb)
	b.inspector = asynq.NewInspectorFromRedisClient(b.rdb)
	b.log.Info("queue connected", "redis", b.display, "embedded", b.embedded != nil, "db", opts.DB, "tls", opts.TLS != nil)
	return b, nil
}

// redisOptions turns Options into go-redis options. A malformed address
// fails with ErrInvalidOptions; no error shows the address's credentials.
func redisOptions(o Options) (*redis.Options, error) {
	addr := o.Addr
	display := redactAddr(addr)
	var ro *redis.Options
	switch {
	case strings.HasPrefix(addr, "unix://") && !strings.Contains(addr, "@"):
		ro = &redis.Options{Network: "unix", Addr: strings.TrimPrefix(addr, "unix://"), DB: o.DB}
	case strings.Contains(addr, "://"):
		var err error
		if ro, err = parseURL(addr); err != nil {
			return nil, err
		}
		if o.DB != 0 {
			ro.DB = o.DB
		}
	case strings.HasPrefix(addr, "/"):
		ro = &redis.Options{Network: "unix", Addr: addr, DB: o.DB}
	case strings.ContainsAny(addr, "@/"):
		return nil, fmt.Errorf("%w: redis address %s is neither host:port, a socket path nor a URL; "+
			"write credentials as redis://:PASSWORD@host:port/db, or give the password with --redis-password (STAR_REDIS_PASSWORD)",
			ErrInvalidOptions, display)
	default:
		if _, _, err := net.SplitHostPort(addr); err != nil {
			addr = net.JoinHostPort(addr, "6379")
		}
		ro = &redis.Options{Network: "tcp", Addr: addr, DB: o.DB}
	}
	if o.Password != "" {
		ro.Password = o.Password
	}
	if o.TLS != nil {
		ro.TLSConfig = o.TLS
	}
	if ro.DB < 0 {
		return nil, fmt.Errorf("%w: redis db %d: want 0 or more", ErrInvalidOptions, ro.DB)
	}
	return ro, nil
}

// parseURL parses a redis://, rediss:// or unix:// URL. url.Parse and
// go-redis quote the whole URL, or the part that failed, in their errors:
// the password itself when it is the part that is malformed. So a URL that
// does not parse is parsed again without its credentials, and only that
// error is shown; and an "@" left in the path, query or fragment, which
// means that the credentials did not end where they should, is refused
// before go-redis sees it.
func parseURL(addr string) (*redis.Options, error) {
	display := redactAddr(addr)
	credentials := fmt.Errorf("%w: redis URL %s: its user name or password is not valid URL syntax; "+
		"percent-encode it (%% as %%25, @ as %%40, / as %%2F, : as %%3A, ? as %%3F, # as %%23) "+
		"or give the password with --redis-password (STAR_REDIS_PASSWORD)", ErrInvalidOptions, display)
	u, err := url.Parse(addr)
	if err != nil {
		if !strings.Contains(addr, "@") {
			return nil, fmt.Errorf("%w: malformed redis URL: %v", ErrInvalidOptions, err)
		}
		if _, err := url.Parse(display); err != nil {
			return nil, fmt.Errorf("%w: malformed redis URL: %v", ErrInvalidOptions, err)
		}
		return nil, credentials
	}
	if strings.Contains(u.Path, "@") || strings.Contains(u.RawQuery, "@") || strings.Contains(u.Fragment, "@") {
		return nil, credentials
	}
	ro, err := redis.ParseURL(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: redis URL %s: %v", ErrInvalidOptions, display, err)
	}
	return ro, nil
}

// newRedis returns a new connection pool to the broker's Redis.
func (b *Broker) newRedis() *redis.Client {
	ro := *b.redisOpts
	ro.DialTimeout = b.opts.PingTimeout
	return redis.NewClient(&ro)
}

func (b *Broker) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, b.opts.PingTimeout)
	defer cancel()
	// One try, no retries: a wrong address should fail in seconds.
	ro := *b.redisOpts
	ro.DialTimeout = b.opts.PingTimeout
	ro.ReadTimeout = b.opts.PingTimeout
	ro.WriteTimeout = b.opts.PingTimeout
	ro.ContextTimeoutEnabled = true
	ro.MaxRetries = -1
	ro.DialerRetries = 1
	ro.PoolSize = 1
	c := redis.NewClient(&ro)
	defer c.Close()
	err := c.Ping(ctx).Err()
	switch {
	case err == nil:
		return nil
	case redis.IsAuthError(err) || strings.Contains(err.Error(), "without any password configured"):
		return fmt.Errorf("%w: redis at %s refused the password: %v; check --redis-password (STAR_REDIS_PASSWORD)", ErrRedisAuth, b.display, err)
	case ctx.Err() != nil && errors.Is(context.Cause(ctx), context.Canceled):
		return fmt.Errorf("connecting to redis at %s: %w", b.display, ctx.Err())
	default:
		return fmt.Errorf("%w: redis at %s is unreachable: %v; start redis-server or check --redis", ErrRedisUnreachable, b.display, err)
	}
}

// Ping checks that Redis still answers.
func (b *Broker) Ping(ctx context.Context) error { return b.ping(ctx) }

// Addr returns the Redis address without credentials; for an embedded
// server, its loopback address (other processes on this machine can use it).
func (b *Broker) Addr() string {
	if b.embedded != nil {
		return b.embedded.addr()
	}
	return b.display
}

// Embedded reports whether the broker runs its own miniredis.
func (b *Broker) Embedded() bool { return b.embedded != nil }

// Redis returns the broker's connection pool. It stays valid until Close.
func (b *Broker) Redis() *redis.Client { return b.rdb }

// EnqueueOnce enqueues job unless a job with the same ID is already in
// its queue in any state, including completed within its retention; it
// reports whether it enqueued. With deterministic ids this makes
// enqueueing a DAG node idempotent, and so retrying it while Redis is
// unreachable (Options.OutageLimit): a try whose answer was lost finds its
// job there.
func (b *Broker) EnqueueOnce(ctx context.Context, job Job) (bool, error) {
	task, opts := job.task()
	err := b.retry(ctx, "enqueueing "+job.Kind, func() error {
		_, err := b.client.EnqueueContext(ctx, task, opts...)
		return err
	})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask):
		return false, nil
	default:
		return false, fmt.Errorf("enqueueing %s: %w", job.Kind, err)
	}
}

// Close closes the client, the inspector and the connections, and stops an
// embedded server. Workers must be shut down first. Closing twice is safe.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() { b.closeErr = b.close() })
	return b.closeErr
}

func (b *Broker) close() error {
	// The client and inspector share rdb; closing rdb closes them.
	var errs []error
	if b.rdb != nil {
		errs = append(errs, b.rdb.Close())
	}
	if b.embedded != nil {
		b.embedded.stop()
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("closing queue connection: %w", err)
	}
	return nil
}

// redactAddr removes credentials from a Redis address: a URL's user info
// goes (the text up to the last "@", which may hold an unescaped "/", "?"
// or another "@"), and any other address with an "@" shows xxxxx in place
// of what comes before it.
func redactAddr(addr string) string {
	at := strings.LastIndex(addr, "@")
	if at < 0 {
		return addr
	}
	if i := strings.Index(addr[:at], "://"); i >= 0 && !strings.ContainsAny(addr[:i], ":/@") {
		return addr[:i+len("://")] + addr[at+1:]
	}
	return "xxxxx@" + addr[at+1:]
}

// embedded is an in-process miniredis on loopback whose TTLs follow the
// wall clock.
type embedded struct {
	m    *miniredis.Miniredis
	quit chan struct{}
	done chan struct{}
}

// FastForwardInterval is how often an embedded miniredis advances its TTL
// clock. miniredis never expires keys on its own; asynq needs expiring
// keys for server heartbeats, unique locks and retention.
const FastForwardInterval = time.Second

func startEmbedded(password string) (*embedded, error) {
	m := miniredis.NewMiniRedis()
	if password != "" {
		m.RequireAuth(password)
	}
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, err
	}
	e := &embedded{m: m, quit: make(chan struct{}), done: make(chan struct{})}
	go e.tick()
	return e, nil
}

func (e *embedded) tick() {
	defer close(e.done)
	t := time.NewTicker(FastForwardInterval)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-e.quit:
			return
		case now := <-t.C:
			e.m.FastForward(now.Sub(last))
			last = now
		}
	}
}

func (e *embedded) addr() string { return e.m.Addr() }

func (e *embedded) stop() {
	close(e.quit)
	<-e.done
	e.m.Close()
}
