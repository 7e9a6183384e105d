package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultOutageLimit is how long the broker's operations ride out a Redis
// outage by default (Options.OutageLimit).
const DefaultOutageLimit = 5 * time.Minute

// OutageKey is the attribute that every log record about a Redis outage
// carries (the time it has lasted), so that a quiet log can keep them.
const OutageKey = "redis_outage"

// Back-off between tries while Redis is unreachable.
const (
	retryFirst = 100 * time.Millisecond
	retryMax   = 2 * time.Second
	// outageLogEvery spaces the log lines of a long outage.
	outageLogEvery = 30 * time.Second
)

// IsTransient reports whether err is a Redis error that goes away by
// itself: the server refuses or resets connections (stopped, restarting,
// its socket not there yet), does not answer in time (stalled, or a
// network partition), or answers LOADING (loading its data after a
// restart), MASTERDOWN, TRYAGAIN or CLUSTERDOWN. A cancelled context, a
// closed client and every answer of a running Redis are not.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, redis.ErrClosed) {
		return false
	}
	for _, target := range []error{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
		syscall.ENOENT, io.EOF, io.ErrUnexpectedEOF, os.ErrDeadlineExceeded, redis.ErrPoolTimeout} {
		if errors.Is(err, target) {
			return true
		}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var re redis.Error
	if errors.As(err, &re) && busyReply(re.Error()) {
		return true
	}
	// asynq reports a failed script as text ("redis eval error: ..."),
	// without the error it wraps.
	if _, cause, ok := strings.Cut(err.Error(), asynqEvalError); ok {
		if busyReply(cause) {
			return true
		}
		for _, s := range transientTexts {
			if strings.Contains(cause, s) {
				return true
			}
		}
	}
	return false
}

const asynqEvalError = "redis eval error: "

// transientTexts are the texts of the transient errors of IsTransient.
var transientTexts = []string{"connection refused", "connection reset", "broken pipe", "software caused connection abort",
	"no such file or directory", "i/o timeout", "deadline exceeded", "EOF", redis.ErrPoolTimeout.Error()}

// busyReply reports whether a Redis error reply says the server cannot
// answer yet.
func busyReply(msg string) bool {
	for _, p := range []string{"LOADING", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// retry runs op until it returns nil or an error that is not transient, ctx
// ends, or transient errors have lasted the broker's outage limit; then it
// fails with ErrRedisUnreachable and the last error. The first failure of
// an outage and the recovery are logged at warn level with OutageKey, and
// a long outage again every outageLogEvery.
func (b *Broker) retry(ctx context.Context, what string, op func() error) error {
	limit := b.opts.OutageLimit
	var start, logged time.Time
	wait := retryFirst
	for {
		err := op()
		if limit < 0 || ctx.Err() != nil {
			return err
		}
		if !IsTransient(err) {
			// The server answered (an answer lost in the outage may make
			// this one an error, such as a task id conflict).
			if !start.IsZero() {
				b.log.Warn("redis is back; going on", OutageKey, time.Since(start).Round(time.Millisecond),
					"redis", b.display, "op", what)
			}
			return err
		}
		t := time.Now()
		if start.IsZero() {
			start, logged = t, t
			b.log.Warn("redis unreachable; retrying until it is back", OutageKey, time.Duration(0),
				"redis", b.display, "op", what, "err", err, "limit", limit)
		} else if t.Sub(logged) >= outageLogEvery {
			logged = t
			b.log.Warn("redis still unreachable; retrying", OutageKey, t.Sub(start).Round(time.Second),
				"redis", b.display, "op", what, "err", err, "limit", limit)
		}
		if t.Sub(start) >= limit {
			return fmt.Errorf("%w: redis at %s has been unreachable for %v, the outage limit (--redis-outage): %s: %w",
				ErrRedisUnreachable, b.display, t.Sub(start).Round(time.Second), what, err)
		}
		timer := time.NewTimer(min(wait, limit-t.Sub(start)))
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
		wait = min(2*wait, retryMax)
	}
}
