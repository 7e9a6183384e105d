package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/star-pipeline/star-pipeline/internal/redistest"
)

// setup opens a broker on an embedded miniredis, closed at cleanup.
func setup(t *testing.T, opts Options) (*Broker, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	b, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b, ctx
}

// serve runs a worker until the test ends (or until the returned stop is
// called) and reports Run's result on the returned channel.
func serve(t *testing.T, b *Broker, h Handler, opts WorkerOptions) (stop func(), done <-chan error) {
	t.Helper()
	if opts.TaskCheckInterval == 0 {
		opts.TaskCheckInterval = 50 * time.Millisecond
	}
	w, err := b.NewWorker(h, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	go func() { ch <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-ch; err != nil {
				t.Errorf("worker: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop, ch
}

// waitState polls until the task reaches want or the deadline passes.
func waitState(t *testing.T, ctx context.Context, b *Broker, queue, id string, want TaskState, within time.Duration) *TaskInfo {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st, info, err := b.LookupTask(ctx, queue, id)
		if err != nil {
			t.Fatal(err)
		}
		if st == want {
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s is %s after %v, want %s", id, st, within, want)
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
}

// roundTrip enqueues one task with an id and retention, checks a handler
// runs it and its result is stored, and that the id cannot be enqueued
// again while the completed record is retained.
func roundTrip(t *testing.T, b *Broker, ctx context.Context) {
	t.Helper()
	ran := make(chan string, 1)
	h := Handler(func(ctx context.Context, task *Delivery) error {
		id := task.ID
		if err := task.WriteResult([]byte("result:" + string(task.Payload))); err != nil {
			return err
		}
		ran <- id
		return nil
	})
	serve(t, b, h, WorkerOptions{Queues: map[string]int{"star-control": 2, "star-train": 1}})

	id := "run1/g000/train/0000"
	job := Job{Kind: "star:train", ID: id, Queue: "star-train", Retention: time.Hour, MaxRetry: 3}
	enq, err := b.EnqueueOnce(ctx, withPayload(job, "p1"))
	if err != nil || !enq {
		t.Fatalf("EnqueueOnce = %v, %v", enq, err)
	}
	select {
	case got := <-ran:
		if got != id {
			t.Errorf("handler saw id %q", got)
		}
	case <-ctx.Done():
		t.Fatal("handler did not run")
	}
	info := waitState(t, ctx, b, "star-train", id, StateCompleted, 10*time.Second)
	if string(info.Result) != "result:p1" {
		t.Errorf("result = %q", info.Result)
	}
	task, opts := job.task()
	if _, err := b.client.EnqueueContext(ctx, task, opts...); !errors.Is(err, asynq.ErrTaskIDConflict) {
		t.Errorf("enqueueing a completed id = %v, want ErrTaskIDConflict", err)
	}
	if enq, err := b.EnqueueOnce(ctx, job); err != nil || enq {
		t.Errorf("EnqueueOnce(completed id) = %v, %v; want false, nil", enq, err)
	}
	for _, tc := range []struct{ queue, id string }{{"star-train", "nope"}, {"no-such-queue", id}} {
		if st, info, err := b.LookupTask(ctx, tc.queue, tc.id); err != nil || st != StateMissing || info != nil {
			t.Errorf("LookupTask(%s, %s) = %s, %v, %v; want missing", tc.queue, tc.id, st, info, err)
		}
	}
	// Deleting the completed record frees the id.
	if err := b.DeleteTask(ctx, "star-train", id); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteTask(ctx, "star-train", id); err != nil {
		t.Errorf("deleting a missing task: %v", err)
	}
	if enq, err := b.EnqueueOnce(ctx, withPayload(job, "p2")); err != nil || !enq {
		t.Errorf("EnqueueOnce after delete = %v, %v", enq, err)
	}
	<-ran
}

func TestEmbeddedRoundTrip(t *testing.T) {
	t.Parallel()
	b, ctx := setup(t, Options{})
	if !b.Embedded() || !strings.HasPrefix(b.Addr(), "127.0.0.1:") {
		t.Fatalf("embedded = %v at %q", b.Embedded(), b.Addr())
	}
	roundTrip(t, b, ctx)
}

// TestEmbeddedTTLsMove checks the FastForward ticker: a key with a TTL
// expires in wall-clock time.
func TestEmbeddedTTLsMove(t *testing.T) {
	t.Parallel()
	b, ctx := setup(t, Options{})
	if err := b.Redis().Set(ctx, "lease", "x", time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(4 * time.Second)
	for b.Redis().Exists(ctx, "lease").Val() == 1 {
		if time.Now().After(deadline) {
			t.Fatal("a 1s TTL did not expire within 4s")
		}
		time.Sleep(50 * time.Millisecond) // polling with a deadline
	}
}

func TestEmbeddedPassword(t *testing.T) {
	t.Parallel()
	b, ctx := setup(t, Options{Password: "pw"})
	if err := b.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, Options{Addr: b.Addr(), Password: "wrong"})
	if !errors.Is(err, ErrRedisAuth) {
		t.Errorf("wrong password = %v, want ErrRedisAuth", err)
	}
}

func TestRealRedisRoundTrip(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.WithPassword("s3cret"), redistest.WithTCP())
	for i, addr := range []string{"unix://" + srv.Socket, srv.TCPAddr} {
		t.Run(strings.SplitN(addr, ":", 2)[0], func(t *testing.T) {
			b, ctx := setup(t, Options{Addr: addr, Password: "s3cret", DB: i + 1})
			if b.Embedded() {
				t.Fatal("embedded with an address")
			}
			roundTrip(t, b, ctx)
		})
	}
}

func TestRealRedisWrongPassword(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.WithPassword("s3cret"))
	ctx := context.Background()
	for _, pw := range []string{"wrong-horse", ""} {
		start := time.Now()
		_, err := Open(ctx, Options{Addr: srv.Socket, Password: pw})
		if !errors.Is(err, ErrRedisAuth) {
			t.Errorf("password %q: Open = %v, want ErrRedisAuth", pw, err)
			continue
		}
		if pw != "" && strings.Contains(err.Error(), pw) {
			t.Errorf("error message leaks the password: %v", err)
		}
		if !strings.Contains(err.Error(), "STAR_REDIS_PASSWORD") || time.Since(start) > 3*time.Second {
			t.Errorf("error %q after %v", err, time.Since(start))
		}
	}
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close() // accepts connections (backlog) but never answers
	for _, a := range []string{addr, silent.Addr().String(), "/nonexistent/redis.sock"} {
		start := time.Now()
		_, err := Open(context.Background(), Options{Addr: a})
		took := time.Since(start)
		if !errors.Is(err, ErrRedisUnreachable) {
			t.Errorf("%s: Open = %v, want ErrRedisUnreachable", a, err)
			continue
		}
		if took > 3*time.Second {
			t.Errorf("%s: took %v, want < 3s", a, took)
		}
		if !strings.Contains(err.Error(), a) || !strings.Contains(err.Error(), "start redis-server or check --redis") {
			t.Errorf("%s: message %q", a, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Open(ctx, Options{Addr: silent.Addr().String()}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Open = %v", err)
	}
}

// TestGracefulShutdown cancels a worker while a task runs: the handler's
// context is cancelled, Run returns without waiting for the shutdown
// timeout, and the task goes back to its queue without a retry counted; a
// new worker then finishes it.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	b, ctx := setup(t, Options{})
	started := make(chan struct{}, 1)
	checkpointed := make(chan error, 1)
	h := Handler(func(ctx context.Context, task *Delivery) error {
		started <- struct{}{}
		<-ctx.Done()
		checkpointed <- context.Cause(ctx)
		return ctx.Err()
	})
	stop, _ := serve(t, b, h, WorkerOptions{ShutdownTimeout: 20 * time.Second})
	id := "run1/g000/train/0001"
	if _, err := b.EnqueueOnce(ctx, Job{Kind: "star:train", ID: id, Queue: DefaultQueue, MaxRetry: 2, Retention: time.Hour}); err != nil {
		t.Fatal(err)
	}
	<-started
	begin := time.Now()
	stop()
	if took := time.Since(begin); took > 10*time.Second {
		t.Errorf("shutdown took %v", took)
	}
	if cause := <-checkpointed; !errors.Is(cause, ErrInterrupted) {
		t.Errorf("handler context cause = %v, want ErrInterrupted", cause)
	}
	st, info, err := b.LookupTask(ctx, DefaultQueue, id)
	if err != nil || !st.InQueue() || info.Retried != 0 || !strings.Contains(info.LastErr, "interrupted") {
		t.Fatalf("after shutdown: %s %+v %v", st, info, err)
	}

	done := make(chan struct{})
	serve(t, b, Handler(func(context.Context, *Delivery) error { close(done); return nil }), WorkerOptions{})
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("the interrupted task did not run again")
	}
	waitState(t, ctx, b, DefaultQueue, id, StateCompleted, 10*time.Second)
}

// TestShutdownOnLastTry interrupts a task with no retries left: asynq
// would archive it on any error, so the worker holds it until the shutdown
// timeout pushes it back to pending.
func TestShutdownOnLastTry(t *testing.T) {
	t.Parallel()
	b, ctx := setup(t, Options{})
	started := make(chan struct{}, 1)
	h := Handler(func(ctx context.Context, task *Delivery) error {
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	})
	stop, _ := serve(t, b, h, WorkerOptions{ShutdownTimeout: time.Second})
	id := "run1/g000/select/0000"
	if _, err := b.EnqueueOnce(ctx, Job{Kind: "star:select", ID: id}); err != nil {
		t.Fatal(err)
	}
	<-started
	stop()
	if st, info, err := b.LookupTask(ctx, DefaultQueue, id); err != nil || st != StatePending || info.Retried != 0 {
		t.Fatalf("after shutdown: %s %+v %v; want pending", st, info, err)
	}
}

// TestFailureIsRetried checks that a real error is retried with a delay
// and counted, and SkipRetry archives.
func TestFailureIsRetried(t *testing.T) {
	t.Parallel()
	b, ctx := setup(t, Options{})
	h := Handler(func(ctx context.Context, task *Delivery) error {
		if string(task.Payload) == "permanent" {
			return fmt.Errorf("bad genome: %w", SkipRetry)
		}
		return errors.New("transient")
	})
	serve(t, b, h, WorkerOptions{})
	if _, err := b.EnqueueOnce(ctx, Job{Kind: "k", ID: "t1", MaxRetry: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.EnqueueOnce(ctx, Job{Kind: "k", ID: "t2", Payload: []byte("permanent"), MaxRetry: 3}); err != nil {
		t.Fatal(err)
	}
	info := waitState(t, ctx, b, DefaultQueue, "t1", StateRetry, 10*time.Second)
	if info.Retried != 1 || info.LastErr != "transient" || time.Until(info.NextProcessAt) < 5*time.Second {
		t.Errorf("retry: retried %d, err %q, next in %v", info.Retried, info.LastErr, time.Until(info.NextProcessAt))
	}
	info = waitState(t, ctx, b, DefaultQueue, "t2", StateArchived, 10*time.Second)
	if !strings.Contains(info.LastErr, "bad genome") {
		t.Errorf("archived with %q", info.LastErr)
	}
}

// TestLostQueue kills a real redis-server without persistence: a lookup
// made while it is down waits for it (Options.OutageLimit), the broker
// reconnects and the task is missing, so reconcile enqueues it again under
// the same id. Without retries (a negative limit) the lookup fails at once.
func TestLostQueue(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	b, ctx := setup(t, Options{Addr: srv.Socket})
	impatient, _ := setup(t, Options{Addr: srv.Socket, OutageLimit: -1})
	job := Job{Kind: "star:mutate", ID: "r/g001/mutate/0003", Queue: "star-evolve"}
	if enq, err := b.EnqueueOnce(ctx, job); err != nil || !enq {
		t.Fatal(enq, err)
	}
	waitState(t, ctx, b, "star-evolve", "r/g001/mutate/0003", StatePending, time.Second)
	srv.Kill()
	if _, _, err := impatient.LookupTask(ctx, "star-evolve", "r/g001/mutate/0003"); err == nil {
		t.Error("lookup without retries succeeded with redis down")
	}
	type lookup struct {
		st  TaskState
		err error
	}
	looked := make(chan lookup, 1)
	go func() {
		st, _, err := b.LookupTask(ctx, "star-evolve", "r/g001/mutate/0003")
		looked <- lookup{st, err}
	}()
	srv.Restart()
	if l := <-looked; l.err != nil || l.st != StateMissing {
		t.Errorf("lookup across the restart = %s, %v; want missing", l.st, l.err)
	}
	if enq, err := b.EnqueueOnce(ctx, job); err != nil || !enq {
		t.Errorf("re-enqueue after loss = %v, %v", enq, err)
	}
}

// TestOutage stops a real redis-server (killed, then stalled with SIGSTOP)
// while EnqueueOnce runs: it waits, logs the outage once and its end, and
// enqueues once the server is back; past the outage limit it fails with
// ErrRedisUnreachable.
func TestOutage(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.WithAppendOnly())
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, ctx := setup(t, Options{Addr: srv.Socket, Logger: log})
	for i, stall := range []bool{false, true} {
		job := Job{Kind: "star:mutate", ID: fmt.Sprintf("r/g001/mutate/%04d", i), Queue: "star-evolve"}
		if stall {
			srv.Pause()
		} else {
			srv.Kill()
		}
		enqueued := make(chan error, 1)
		go func() {
			_, err := b.EnqueueOnce(ctx, job)
			enqueued <- err
		}()
		for !strings.Contains(logs.String(), "redis unreachable") {
			select {
			case err := <-enqueued:
				t.Fatalf("stall=%t: EnqueueOnce returned %v while redis was down", stall, err)
			case <-time.After(20 * time.Millisecond): // polling the log
			}
		}
		if stall {
			srv.Resume()
		} else {
			srv.Restart()
		}
		if err := <-enqueued; err != nil {
			t.Fatalf("stall=%t: EnqueueOnce across the outage: %v", stall, err)
		}
		waitState(t, ctx, b, "star-evolve", fmt.Sprintf("r/g001/mutate/%04d", i), StatePending, 5*time.Second)
		if out := logs.String(); !strings.Contains(out, "redis is back") || !strings.Contains(out, OutageKey+"=") {
			t.Errorf("stall=%t: log:\n%s", stall, out)
		}
		logs.Reset()
	}

	short, _ := setup(t, Options{Addr: srv.Socket, OutageLimit: 300 * time.Millisecond})
	srv.Kill()
	start := time.Now()
	_, err := short.EnqueueOnce(ctx, Job{Kind: "star:mutate", ID: "r/g001/mutate/0009", Queue: "star-evolve"})
	if !errors.Is(err, ErrRedisUnreachable) || !strings.Contains(err.Error(), "outage limit") {
		t.Errorf("outage past the limit: %v, want ErrRedisUnreachable", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("gave up after %v with a limit of 300ms", d)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test together.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

// redisError is an error answered by Redis, as go-redis returns it.
type redisError string

func (e redisError) Error() string { return string(e) }
func (redisError) RedisError()     {}

var _ redis.Error = redisError("")

func TestIsTransient(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, true},
		{&net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.ENOENT)}, true},
		{fmt.Errorf("asynq: %w", &net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), true},
		{&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, true},
		{io.EOF, true},
		{redis.ErrPoolTimeout, true},
		{fmt.Errorf("dial: %w", context.DeadlineExceeded), true},
		{redisError("LOADING Redis is loading the dataset in memory"), true},
		{fmt.Errorf("x: %w", redisError("MASTERDOWN Link with MASTER is down")), true},
		{redisError("WRONGTYPE Operation against a key holding the wrong kind of value"), false},
		{redisError("NOAUTH Authentication required."), false},
		{errors.New("enqueueing star:mutate: UNKNOWN: redis eval error: i/o timeout"), true},
		{errors.New("UNKNOWN: redis eval error: dial unix /tmp/x/redis.sock: connect: connection refused"), true},
		{errors.New("UNKNOWN: redis eval error: LOADING Redis is loading the dataset in memory"), true},
		{errors.New("UNKNOWN: redis eval error: ERR Error running script"), false},
		{redis.ErrClosed, false},
		{context.Canceled, false},
		{asynq.ErrTaskIDConflict, false},
		{errors.New("boom"), false},
		{nil, false},
	} {
		if got := IsTransient(tc.err); got != tc.want {
			t.Errorf("IsTransient(%v) = %t, want %t", tc.err, got, tc.want)
		}
	}
}

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	if d := RetryDelay(3, asynq.ErrLeaseExpired); d != 0 {
		t.Errorf("lease expired: %v", d)
	}
	if d := RetryDelay(0, fmt.Errorf("%w: context canceled", ErrInterrupted)); d != 0 {
		t.Errorf("interrupted: %v", d)
	}
	if d := RetryDelay(0, errors.New("x")); d < 15*time.Second {
		t.Errorf("error: %v", d)
	}
	if d := RetryDelay(7, fmt.Errorf("report: %w", ErrRequeue)); d != 0 {
		t.Errorf("requeued: %v", d)
	}
	if isFailure(fmt.Errorf("%w: x", ErrInterrupted)) || isFailure(fmt.Errorf("x: %w", ErrRequeue)) ||
		!isFailure(errors.New("x")) || isFailure(nil) {
		t.Error("isFailure")
	}
}

func TestParseQueues(t *testing.T) {
	t.Parallel()
	got, err := ParseQueues(" star-control=6, star-train=3,star-gpu ")
	if err != nil || len(got) != 3 || got["star-control"] != 6 || got["star-gpu"] != 1 {
		t.Errorf("ParseQueues = %v, %v", got, err)
	}
	if fmtQueues(got) != "star-control=6,star-gpu=1,star-train=3" {
		t.Errorf("fmtQueues = %q", fmtQueues(got))
	}
	for _, bad := range []string{"", ",", "a=0", "a=-1", "a=x", "=3", "a,a"} {
		if _, err := ParseQueues(bad); err == nil {
			t.Errorf("ParseQueues(%q) accepted", bad)
		}
	}
	b, _ := setup(t, Options{})
	if _, err := b.NewWorker(Handler(nil), WorkerOptions{Queues: map[string]int{"q": 0}}); err == nil {
		t.Error("priority 0 accepted")
	}
	if _, err := b.NewWorker(nil, WorkerOptions{}); err == nil {
		t.Error("nil handler accepted")
	}
}

func TestRedisOptions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in           Options
		network      string
		addr, pw     string
		db           int
		display      string
		wantErr      bool
		tlsConfigued bool
	}{
		{in: Options{Addr: "redis"}, network: "tcp", addr: "redis:6379", display: "redis"},
		{in: Options{Addr: "10.0.0.1:6390", Password: "p", DB: 2}, network: "tcp", addr: "10.0.0.1:6390", pw: "p", db: 2},
		{in: Options{Addr: "/run/redis.sock"}, network: "unix", addr: "/run/redis.sock"},
		{in: Options{Addr: "unix:///run/redis.sock"}, network: "unix", addr: "/run/redis.sock"},
		{in: Options{Addr: "redis://:urlpw@host:7000/3"}, network: "tcp", addr: "host:7000", pw: "urlpw", db: 3, display: "redis://host:7000/3"},
		{in: Options{Addr: "redis://:urlpw@host:7000/3", Password: "flag"}, network: "tcp", addr: "host:7000", pw: "flag", db: 3},
		{in: Options{Addr: "redis://host:7000/x"}, wantErr: true},
		{in: Options{Addr: "host", DB: -1}, wantErr: true},
	}
	for _, tc := range cases {
		ro, err := redisOptions(tc.in)
		if tc.wantErr {
			if err == nil {
				t.Errorf("%v: accepted", tc.in)
			}
			continue
		}
		if err != nil || ro.Network != tc.network || ro.Addr != tc.addr || ro.Password != tc.pw || ro.DB != tc.db {
			t.Errorf("%v: %+v, %v", tc.in, ro, err)
		}
		if tc.display != "" && redactAddr(tc.in.Addr) != tc.display {
			t.Errorf("redactAddr(%q) = %q", tc.in.Addr, redactAddr(tc.in.Addr))
		}
	}
}

func TestPasswordNeverLogged(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o := Options{Addr: "redis://:hunter2@h:1/0", Password: "hunter2"}
	log.Info("options", "redis", o)
	if s := o.String(); strings.Contains(s, "hunter2") || !strings.Contains(s, "password=set") {
		t.Errorf("String() = %q", s)
	}
	b, ctx := setup(t, Options{Password: "hunter2", Logger: log})
	w, err := b.NewWorker(Handler(func(context.Context, *Delivery) error { return nil }), WorkerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := w.Run(wctx); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, "hunter2") {
		t.Errorf("password in logs:\n%s", out)
	}
	if !strings.Contains(out, "component=asynq") || !strings.Contains(out, "worker stopped") {
		t.Errorf("missing asynq or worker records:\n%s", out)
	}
}

func TestLogger(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := NewLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	l.Debug("a", 1)
	l.Info("b")
	l.Warn("c")
	l.Error("d")
	l.Fatal("e")
	out := buf.String()
	for _, want := range []string{"level=DEBUG msg=a1", "level=INFO msg=b", "level=WARN msg=c", "level=ERROR msg=d", "msg=e component=asynq fatal=true"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	quiet := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if logLevel(quiet) != asynq.WarnLevel {
		t.Errorf("logLevel = %v", logLevel(quiet))
	}
}

func TestCloseTwice(t *testing.T) {
	t.Parallel()
	b, err := Open(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestLookupArchivedByOperator archives tasks that never ran, as the queue
// monitor's archive buttons do: LookupTask forgets them and reports them
// missing, so that reconcile enqueues them again under the same id. A task
// that failed for good stays archived with its error.
func TestLookupArchivedByOperator(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	b, ctx := setup(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	for _, id := range []string{"run1/g000/train/0000", "run1/g000/train/0001"} {
		if _, err := b.EnqueueOnce(ctx, Job{Kind: "star:train", ID: id, Queue: "star-train"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.inspector.ArchiveTask("star-train", "run1/g000/train/0000"); err != nil {
		t.Fatal(err)
	}
	if n, err := b.ArchivePending(ctx, "star-train"); err != nil || n != 1 {
		t.Fatalf("ArchiveAllPendingTasks = %d, %v", n, err)
	}
	for _, id := range []string{"run1/g000/train/0000", "run1/g000/train/0001"} {
		st, info, err := b.LookupTask(ctx, "star-train", id)
		if err != nil || st != StateMissing || info != nil {
			t.Errorf("LookupTask(%s archived by an operator) = %s, %v, %v; want missing", id, st, info, err)
		}
		if enq, err := b.EnqueueOnce(ctx, Job{Kind: "star:train", ID: id, Queue: "star-train"}); err != nil || !enq {
			t.Errorf("EnqueueOnce(%s) after LookupTask = %v, %v; want enqueued again", id, enq, err)
		}
	}
	if !strings.Contains(logs.String(), "run1/g000/train/0001") {
		t.Errorf("forgetting an archived task is not logged:\n%s", logs.String())
	}

	// A task that failed for good keeps its verdict.
	fail := Handler(func(context.Context, *Delivery) error {
		return fmt.Errorf("bad genome: %w", SkipRetry)
	})
	serve(t, b, fail, WorkerOptions{Queues: map[string]int{"star-evolve": 1}})
	if _, err := b.EnqueueOnce(ctx, Job{Kind: "star:mutate", ID: "run1/g001/mutate/0000", Queue: "star-evolve"}); err != nil {
		t.Fatal(err)
	}
	info := waitState(t, ctx, b, "star-evolve", "run1/g001/mutate/0000", StateArchived, 10*time.Second)
	if !strings.Contains(info.LastErr, "bad genome") {
		t.Errorf("failed task archived with %q", info.LastErr)
	}
}

// withPayload returns job carrying payload.
func withPayload(job Job, payload string) Job {
	job.Payload = []byte(payload)
	return job
}
