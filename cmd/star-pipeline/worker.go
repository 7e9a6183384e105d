package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/star-pipeline/star-pipeline/runner"
	"github.com/star-pipeline/star-pipeline/tasks"
)

func init() {
	register(&cli.Command{
		Name:  "worker",
		Usage: "run search tasks (evolution, training, evaluation) from a shared Redis",
		UsageText: `star-pipeline worker --redis 10.0.0.5:6379 --concurrency 2
STAR_REDIS_PASSWORD=... star-pipeline worker --redis redis.internal:6379 --gpu --backend xla:/path/to/xla_cuda_plugin.so`,
		Flags: append([]cli.Flag{
			&cli.IntFlag{Name: "concurrency", Value: 1, EnvVars: []string{"STAR_CONCURRENCY"}, Usage: "tasks run at once"},
			&cli.StringFlag{Name: "queues", EnvVars: []string{"STAR_QUEUES"},
				Usage: "queues and priorities to serve, e.g. star-train=2,star-evolve=3 (default: evolution and training)"},
			&cli.BoolFlag{Name: "gpu", EnvVars: []string{"STAR_GPU"}, Usage: "also serve the GPU training queue (star-gpu)"},
			&cli.DurationFlag{Name: "poll", Value: 200 * time.Millisecond, EnvVars: []string{"STAR_POLL"},
				Usage: "how long an idle worker waits before polling its queues again"},
			backendFlag("GoMLX backend for training every run this worker serves, overriding each run config's backend: " +
				"go, xla:<plugin path> or auto (default $GOMLX_BACKEND, else each run's backend)"),
		}, redisFlags()...),
		Action: worker,
	})
}

func worker(c *cli.Context) error {
	if c.NArg() > 0 {
		return badInput("worker takes no arguments, got %q", c.Args().Slice())
	}
	if c.String("redis") == "" {
		return badInput("worker needs --redis (or STAR_REDIS): the queue it serves")
	}
	if err := checkQueueFlags(c); err != nil {
		return err
	}
	if c.Int("concurrency") < 1 {
		return badInput("--concurrency %d: want >= 1", c.Int("concurrency"))
	}
	queues := workerQueues(c.Bool("gpu"))
	if s := c.String("queues"); s != "" {
		q, err := runner.ParseQueues(s)
		if err != nil {
			return usageError{err}
		}
		queues = q
	}
	ev, release, err := evaluator(c)
	if err != nil {
		return err
	}
	defer release()
	b, err := openBroker(c)
	if err != nil {
		return err
	}
	defer b.Close()
	h := &tasks.Handlers{Evaluator: ev, Reports: b, Logger: logger(c)}
	w, err := b.NewWorker(h.Handler(), runner.WorkerOptions{Concurrency: c.Int("concurrency"), Queues: queues,
		TaskCheckInterval: c.Duration("poll")})
	if err != nil {
		return err
	}
	names := make([]string, 0, len(queues))
	for q := range queues {
		names = append(names, q)
	}
	backend := "each run config's backend"
	if te, ok := ev.(*tasks.TrainerEvaluator); ok && te.Backend != nil {
		backend = te.Backend.String() + ", for every run"
	} else if !ok {
		backend = "none (static evaluation)"
	}
	fmt.Fprintf(c.App.ErrWriter, "worker serving %s on %s (concurrency %d, backend %s)\n", strings.Join(names, ","), b.Addr(),
		c.Int("concurrency"), backend)
	if err := w.Run(c.Context); err != nil && c.Context.Err() == nil {
		return err
	}
	fmt.Fprintln(c.App.ErrWriter, "worker stopped")
	return nil
}
