package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/gomlx/compute"
	"github.com/redis/go-redis/v9"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/pipeline"
	"github.com/star-pipeline/star-pipeline/runner"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/tasks"
)

// redisFlags are the queue connection flags shared by submit, resume,
// worker and coordinator.
func redisFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "redis", EnvVars: []string{"STAR_REDIS"},
			Usage: "Redis address (host:port, unix socket path or redis:// URL); empty starts an embedded queue on 127.0.0.1"},
		&cli.StringFlag{Name: "redis-password", EnvVars: []string{"STAR_REDIS_PASSWORD"},
			Usage: "Redis password (prefer the environment variable: flags show in process lists)"},
		&cli.IntFlag{Name: "redis-db", EnvVars: []string{"STAR_REDIS_DB"}, Usage: "Redis database number"},
		&cli.DurationFlag{Name: "redis-outage", Value: runner.DefaultOutageLimit, EnvVars: []string{"STAR_REDIS_OUTAGE"},
			Usage: "how long to wait for an unreachable Redis, retrying, before failing (the run, for a coordinator; 0: fail at once)"},
		&cli.BoolFlag{Name: "static-eval", EnvVars: []string{"STAR_STATIC_EVAL"},
			Usage: "benchmark mode: score candidates on static costs only (params, cache_bytes), train nothing"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, EnvVars: []string{"STAR_VERBOSE"}, Usage: "log queue activity to stderr"},
	}
}

// logger logs to stderr: everything from info level with --verbose, else
// only the lines about an unreachable Redis, which say why nothing moves.
func logger(c *cli.Context) *slog.Logger {
	h := slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: slog.LevelInfo})
	if !c.Bool("verbose") {
		return slog.New(outageOnly{h})
	}
	return slog.New(h)
}

// outageOnly passes on the records about a Redis outage
// (runner.OutageKey) and drops the others.
type outageOnly struct{ slog.Handler }

func (h outageOnly) Handle(ctx context.Context, r slog.Record) error {
	keep := false
	r.Attrs(func(a slog.Attr) bool {
		keep = a.Key == runner.OutageKey
		return !keep
	})
	if !keep {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h outageOnly) WithAttrs(as []slog.Attr) slog.Handler {
	return outageOnly{h.Handler.WithAttrs(as)}
}

func (h outageOnly) WithGroup(name string) slog.Handler { return outageOnly{h.Handler.WithGroup(name)} }

// leaseFlag sets how long a coordinator's lease of a run lasts.
func leaseFlag() cli.Flag {
	return &cli.DurationFlag{Name: "lease", Value: pipeline.DefaultLease, EnvVars: []string{"STAR_LEASE"},
		Usage: "how long a run stays owned by this coordinator without renewal (renewed every third of it): " +
			"another coordinator takes the run over that long after this one dies"}
}

// quietRedis keeps go-redis's own connection log lines (printed on every
// failed dial) off stderr unless --verbose asks for logs.
type quietRedis struct{ log *slog.Logger }

func (q quietRedis) Printf(_ context.Context, format string, v ...any) {
	q.log.Debug(fmt.Sprintf(format, v...), "component", "go-redis")
}

// checkQueueFlags refuses bad values of the queue flags that c's command
// has, before anything connects or is written: a negative --redis-db,
// --poll or --redis-outage, a --workers below -1 (its default), a --lease
// under 1s.
func checkQueueFlags(c *cli.Context) error {
	for _, f := range c.Command.Flags {
		switch name := f.Names()[0]; name {
		case "redis-db":
			if n := c.Int(name); n < 0 {
				return badInput("--redis-db %d: want a Redis database number, 0 or more", n)
			}
		case "workers":
			if n := c.Int(name); n < -1 {
				return badInput("--workers %d: want 0 or more (the default, -1, means 1 with the embedded queue and 0 with --redis)", n)
			}
		case "poll":
			if d := c.Duration(name); d < 0 {
				return badInput("--poll %v is negative; give a duration such as 5s", d)
			}
		case "redis-outage":
			if d := c.Duration(name); d < 0 {
				return badInput("--redis-outage %v is negative; give a duration such as 5m, or 0 to fail at once", d)
			}
		case "lease":
			if d := c.Duration(name); d < time.Second {
				return badInput("--lease %v: want 1s or more (default %v)", d, pipeline.DefaultLease)
			}
		}
	}
	return nil
}

// queueOptions returns the runner options of c's queue flags.
func queueOptions(c *cli.Context, log *slog.Logger) runner.Options {
	outage := c.Duration("redis-outage")
	if outage == 0 {
		outage = -1 // no retries; also for commands without the flag (serve: its pages show errors at once)
	}
	return runner.Options{Addr: c.String("redis"), Password: c.String("redis-password"), DB: c.Int("redis-db"),
		OutageLimit: outage, Logger: log}
}

// openQueue connects to the queue of opts, or starts an embedded one. A
// malformed address is bad input; hint ends the message of a queue that is
// unreachable or refuses the password. runner's errors never show the
// password, and go-redis's own log lines go to opts.Logger at debug level.
func openQueue(c *cli.Context, opts runner.Options, hint string) (*runner.Broker, error) {
	redis.SetLogger(quietRedis{opts.Logger})
	b, err := runner.Open(c.Context, opts)
	switch {
	case err == nil:
		return b, nil
	case errors.Is(err, runner.ErrInvalidOptions):
		return nil, usageError{err}
	case errors.Is(err, runner.ErrRedisUnreachable), errors.Is(err, runner.ErrRedisAuth):
		return nil, fmt.Errorf("%w; %s", err, hint)
	}
	return nil, err
}

// openBroker connects to the queue named by the flags, or starts an
// embedded one.
func openBroker(c *cli.Context) (*runner.Broker, error) {
	return openQueue(c, queueOptions(c, logger(c)), "or omit --redis for the embedded queue")
}

// checkStaticEval refuses --static-eval (exit 2) for a run with objectives
// the static evaluator cannot measure: every candidate would fail.
func checkStaticEval(c *cli.Context, cfg config.Config) error {
	if !c.Bool("static-eval") {
		return nil
	}
	if err := cfg.CheckMeasurable(config.StaticObjectives, "--static-eval"); err != nil {
		return usageError{err}
	}
	return nil
}

// evaluator returns what workers train and score candidates with, and a
// function that releases its backends when the workers have stopped.
func evaluator(c *cli.Context) (tasks.Evaluator, func(), error) {
	if c.Bool("static-eval") {
		return tasks.StaticEvaluator{}, func() {}, nil
	}
	ev, err := newTrainerEvaluator(c)
	if err != nil {
		return nil, nil, err
	}
	return ev, func() {
		ev.Close()
		if ev.Backend != nil {
			ev.Backend.Finalize()
		}
	}, nil
}

// prepareBackend creates, before anything is queued, the backend that the
// in-process workers will train run config cfg on, so that a backend this
// binary cannot create is refused up front (exit 2) rather than by every
// training task.
func prepareBackend(ev tasks.Evaluator, workers int, cfg config.Config) error {
	te, ok := ev.(*tasks.TrainerEvaluator)
	if !ok || workers == 0 {
		return nil
	}
	if err := te.Prepare(cfg.Backend); err != nil {
		return badInput("%w", err)
	}
	return nil
}

// workerQueues are the queues an in-process or standalone worker serves.
func workerQueues(gpu bool) map[string]int {
	q := map[string]int{tasks.QueueEvolve: 3, tasks.QueueTrain: 2}
	if gpu {
		q[tasks.QueueGPU] = 4
	}
	return q
}

// startWorkers starts n in-process workers on b; stop shuts them down.
func startWorkers(c *cli.Context, b *runner.Broker, n int, ev tasks.Evaluator) (stop func(), err error) {
	if n <= 0 {
		return func() {}, nil
	}
	h := &tasks.Handlers{Evaluator: ev, Reports: b, Logger: logger(c)}
	w, err := b.NewWorker(h.Handler(), runner.WorkerOptions{Concurrency: n, Queues: workerQueues(false),
		TaskCheckInterval: 50 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	if err := w.Start(); err != nil {
		return nil, err
	}
	return w.Shutdown, nil
}

// progressPrinter shows a run's progress on w: one line rewritten in place
// on a terminal, plain lines at most every few seconds otherwise. A state
// held back by that limit is printed when the interval ends, so the last
// line always tells the current state (a training that started just after
// a line, and runs for minutes, shows).
type progressPrinter struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	every   time.Duration // least time between plain lines
	last    time.Time
	lastG   int
	start   time.Time
	pending string      // the latest line held back, or ""
	timer   *time.Timer // prints pending when the interval ends
}

func newProgressPrinter(w io.Writer) *progressPrinter {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &progressPrinter{w: w, tty: tty, every: 5 * time.Second, lastG: -1, start: time.Now()}
}

func (p *progressPrinter) update(pr pipeline.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	hv := "-"
	if pr.Hypervolume != nil {
		hv = fmt.Sprintf("%.4f", *pr.Hypervolume)
	}
	line := fmt.Sprintf("generation %d/%d  candidates %d/%d (training %d, failed %d)  hypervolume %s  elapsed %s",
		pr.Generation, pr.Generations, pr.Done, pr.Total, pr.Training, pr.Failed, hv, time.Since(p.start).Round(time.Second))
	stage := pr.Generation
	if pr.Final {
		line = fmt.Sprintf("final stage  retrainings %d/%d (training %d, failed %d)  elapsed %s",
			pr.Done, pr.Total, pr.Training, pr.Failed, time.Since(p.start).Round(time.Second))
		if pr.Total == 0 {
			line = "final stage  choosing the architectures to retrain"
		}
		stage = pr.Generations + 1
	}
	if p.tty {
		width := 30
		filled := 0
		if pr.Total > 0 {
			filled = width * pr.Done / pr.Total
		}
		bar := fmt.Sprintf("[%-*s]", width, string(repeat('#', filled)))
		fmt.Fprintf(p.w, "\r\033[K%s %s", bar, line)
		return
	}
	if stage != p.lastG || time.Since(p.last) >= p.every || pr.Done == pr.Total {
		p.print(line)
		p.lastG = stage
		return
	}
	p.pending = line
	if p.timer == nil {
		p.timer = time.AfterFunc(p.every-time.Since(p.last), p.flush)
	}
}

// print writes a plain line now; a held-back one is dropped. Callers hold
// p.mu.
func (p *progressPrinter) print(line string) {
	fmt.Fprintln(p.w, line)
	p.last, p.pending = time.Now(), ""
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
}

// flush prints the line held back, if any.
func (p *progressPrinter) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.timer = nil
	if p.pending != "" {
		p.print(p.pending)
	}
}

// note prints a line of its own between progress lines.
func (p *progressPrinter) note(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}

func (p *progressPrinter) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

func repeat(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

// drive coordinates runs until they end, with in-process workers when asked.
func drive(c *cli.Context, b *runner.Broker, dbPath string, workers int, ev tasks.Evaluator, runIDs ...string) error {
	db, err := openDBForWrite(c.Context, dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	stop, err := startWorkers(c, b, workers, ev)
	if err != nil {
		return err
	}
	defer stop()
	pp := newProgressPrinter(c.App.ErrWriter)
	defer pp.finish()
	co, err := pipeline.New(pipeline.Options{DB: db, Broker: b, Logger: logger(c), Progress: pp.update,
		Lease: c.Duration("lease"), Held: func(l storage.Lease) {
			pp.note("run %s is driven by another coordinator (%s, lease renewed %s, expires %s); "+
				"waiting until it lets the run go or its lease expires (Ctrl-C stops waiting, not the run)",
				l.RunID, l.Owner, l.Renewed.Local().Format(time.TimeOnly), l.Expires.Local().Format(time.TimeOnly))
		}})
	if err != nil {
		return err
	}
	return co.Drive(c.Context, runIDs...)
}

// interrupted turns a cancelled context into the error that exits 130.
func interrupted(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("interrupted; continue with `star-pipeline resume`: %w", context.Canceled)
	}
	return err
}

// backendFlag is --backend of the commands that run workers.
func backendFlag(usage string) cli.Flag {
	return &cli.StringFlag{Name: "backend", EnvVars: []string{"STAR_BACKEND"}, Usage: usage}
}

// explicitBackend returns the backend a worker was told to train on, if
// any: --backend (or STAR_BACKEND) where the command has the flag, else
// $GOMLX_BACKEND.
func explicitBackend(c *cli.Context) (string, bool) {
	if s := c.String("backend"); s != "" {
		return s, true
	}
	if s := os.Getenv(compute.ConfigEnvVar); s != "" {
		return s, true
	}
	return "", false
}

// newTrainerEvaluator returns the GoMLX evaluator. A backend the worker
// was told to use (explicitBackend) trains every run it serves; without
// one, each run trains on its run config's backend, created on first use.
func newTrainerEvaluator(c *cli.Context) (*tasks.TrainerEvaluator, error) {
	ev := &tasks.TrainerEvaluator{NewBackend: createBackend, Logger: warnLogger(c)}
	if spec, ok := explicitBackend(c); ok {
		b, err := newBackend(spec)
		if err != nil {
			return nil, err
		}
		ev.Backend = b
	}
	return ev, nil
}

// warnLogger is logger(c), but showing warnings even without --verbose.
func warnLogger(c *cli.Context) *slog.Logger {
	if c.Bool("verbose") {
		return logger(c)
	}
	return slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// inProcessWorkers resolves --workers: by default one in-process worker with
// the embedded queue (nothing else can reach it) and none with a real Redis.
func inProcessWorkers(c *cli.Context, b *runner.Broker) (int, error) {
	n := c.Int("workers")
	if n < 0 {
		n = 0
		if b.Embedded() {
			n = 1
		}
	}
	if b.Embedded() && n == 0 {
		return 0, badInput("--workers 0 with the embedded queue: no worker could reach it; give --redis or --workers >= 1")
	}
	return n, nil
}
