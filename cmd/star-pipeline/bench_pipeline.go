package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/data"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/pipeline"
	"github.com/star-pipeline/star-pipeline/runner"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/tasks"
	"github.com/star-pipeline/star-pipeline/trainer"
)

func init() {
	registerBench(&cli.Command{
		Name:  "pipeline",
		Usage: "measure the workflow's own overhead: a search scored on static costs only, through the real queue",
		UsageText: `star-pipeline bench pipeline
star-pipeline bench pipeline --population 32 --generations 5 --json`,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "population", Value: 32, Usage: "candidates per generation"},
			&cli.IntFlag{Name: "generations", Value: 5, Usage: "generations after the first"},
			&cli.IntFlag{Name: "workers", Value: 2, Usage: "in-process workers"},
			&cli.StringFlag{Name: "redis", EnvVars: []string{"STAR_REDIS"},
				Usage: "a real Redis to measure too; default: start redis-server on a temporary socket when it is installed"},
			&cli.StringFlag{Name: "redis-password", EnvVars: []string{"STAR_REDIS_PASSWORD"}, Usage: "its password"},
			&cli.IntFlag{Name: "train-steps", Value: 5, Usage: "steps of the default training task timed for the overhead ratio (0 skips it)"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		},
		Action: benchPipeline,
	})
}

// maxBenchWorkers bounds --workers: goroutines of one in-process worker.
const maxBenchWorkers = 1024

// pipelineBench is one measured search.
type pipelineBench struct {
	Queue                string  `json:"queue"`
	Candidates           int     `json:"candidates"`
	Nodes                int     `json:"nodes"`
	Seconds              float64 `json:"seconds"`
	NodesPerSecond       float64 `json:"nodes_per_s"`
	OverheadPerCandidate float64 `json:"overhead_ms_per_candidate"`
}

func benchPipeline(c *cli.Context) error {
	if c.Int("population") < 2 || c.Int("generations") < 1 || c.Int("workers") < 1 {
		return badInput("--population >= 2, --generations >= 1 and --workers >= 1 are required")
	}
	err := checkIntFlags(c, intRange{"population", 2, config.MaxPopulation}, intRange{"generations", 1, config.MaxGenerations},
		intRange{"workers", 1, maxBenchWorkers}, intRange{"train-steps", 0, config.MaxSteps})
	if err != nil {
		return err
	}
	cfg := config.Default()
	cfg.Population = c.Int("population")
	cfg.Generations = c.Int("generations")
	cfg.Objectives = []string{config.Params, config.CacheBytes}
	cfg.Artifacts = filepath.Join(os.TempDir(), "star-bench-artifacts")
	if err := cfg.Validate(); err != nil {
		return err
	}
	fmt.Fprintln(c.App.ErrWriter, "benchmark mode: candidates are scored on static costs (params, cache_bytes); nothing is trained")
	var results []pipelineBench
	res, err := benchSearch(c.Context, cfg, runner.Options{}, c.Int("workers"), "embedded")
	if err != nil {
		return err
	}
	results = append(results, res)

	addr, password := c.String("redis"), c.String("redis-password")
	if addr == "" {
		sock, stop, err := startRedis()
		if err != nil {
			fmt.Fprintf(c.App.ErrWriter, "skipping the real Redis: %v\n", err)
		} else {
			defer stop()
			addr = sock
		}
	}
	if addr != "" {
		res, err := benchSearch(c.Context, cfg, runner.Options{Addr: addr, Password: password}, c.Int("workers"), "redis")
		if err != nil {
			return err
		}
		results = append(results, res)
	}

	out := map[string]any{"searches": results}
	var train float64
	if steps := c.Int("train-steps"); steps > 0 {
		train, err = defaultTrainingSeconds(c.Context, steps)
		if err != nil {
			return err
		}
		out["default_training_task_s"] = train
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, out)
	}
	t := newTable(c.App.Writer, "QUEUE", "CANDIDATES", "NODES", "SECONDS", "NODES/S", "OVERHEAD MS/CANDIDATE", "OF A TRAINING TASK")
	for _, r := range results {
		share := "-"
		if train > 0 {
			share = fmt.Sprintf("%.3f%%", 100*r.OverheadPerCandidate/1000/train)
		}
		t.row(r.Queue, r.Candidates, r.Nodes, fmt.Sprintf("%.2f", r.Seconds), fmt.Sprintf("%.0f", r.NodesPerSecond),
			fmt.Sprintf("%.1f", r.OverheadPerCandidate), share)
	}
	if err := t.flush(); err != nil {
		return err
	}
	if train > 0 {
		fmt.Fprintf(c.App.Writer, "default training task (config defaults, CPU): %.1f s, estimated from %d timed steps\n", train, c.Int("train-steps"))
	}
	return nil
}

// benchSearch runs one static search to the end and measures it.
func benchSearch(ctx context.Context, cfg config.Config, opts runner.Options, workers int, label string) (pipelineBench, error) {
	dir, err := os.MkdirTemp("", "star-bench-")
	if err != nil {
		return pipelineBench{}, err
	}
	defer os.RemoveAll(dir)
	b, err := runner.Open(ctx, opts)
	if err != nil {
		return pipelineBench{}, err
	}
	defer b.Close()
	db, err := storage.Open(ctx, filepath.Join(dir, "bench.db"))
	if err != nil {
		return pipelineBench{}, err
	}
	defer db.Close()
	h := &tasks.Handlers{Evaluator: tasks.StaticEvaluator{}, Reports: b}
	w, err := b.NewWorker(h.Handler(), runner.WorkerOptions{Concurrency: workers, Queues: workerQueues(false),
		TaskCheckInterval: 50 * time.Millisecond})
	if err != nil {
		return pipelineBench{}, err
	}
	if err := w.Start(); err != nil {
		return pipelineBench{}, err
	}
	defer w.Shutdown()
	co, err := pipeline.New(pipeline.Options{DB: db, Broker: b})
	if err != nil {
		return pipelineBench{}, err
	}
	id, err := co.Submit(ctx, cfg)
	if err != nil {
		return pipelineBench{}, err
	}
	start := time.Now()
	if err := co.Drive(ctx, id); err != nil {
		return pipelineBench{}, err
	}
	secs := time.Since(start).Seconds()
	nodes, err := db.ListTaskStates(ctx, id)
	if err != nil {
		return pipelineBench{}, err
	}
	cands, err := db.ListCandidates(ctx, id, -1)
	if err != nil {
		return pipelineBench{}, err
	}
	return pipelineBench{Queue: label, Candidates: len(cands), Nodes: len(nodes), Seconds: secs,
		NodesPerSecond: float64(len(nodes)) / secs, OverheadPerCandidate: 1000 * secs / float64(len(cands))}, nil
}

// startRedis starts redis-server on a temporary unix socket.
func startRedis() (string, func(), error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, fmt.Errorf("redis-server is not installed")
	}
	dir, err := os.MkdirTemp("", "star-bench-redis-")
	if err != nil {
		return "", nil, err
	}
	sock := filepath.Join(dir, "redis.sock")
	cmd := exec.Command(path, "--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	stop := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		os.RemoveAll(dir)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			return sock, stop, nil
		}
	}
	stop()
	return "", nil, fmt.Errorf("redis-server did not open %s", sock)
}

// defaultTrainingSeconds estimates how long one training task of the
// default run config takes on the CPU: it times steps of the transformer++
// seed on the first default MAD task, then scales to the default budget
// (every MAD task, every sweep point, all steps).
func defaultTrainingSeconds(ctx context.Context, steps int) (float64, error) {
	cfg := config.Default()
	g, err := genome.Preset(genome.PresetTransformerPP, cfg.Search.Depth)
	if err != nil {
		return 0, err
	}
	models := tasks.NewRecipe(cfg, 0).Models
	task, err := data.NewTask(models[0].Spec, models[0].Opts)
	if err != nil {
		return 0, err
	}
	backend, err := newBackend("")
	if err != nil {
		return 0, err
	}
	defer backend.Finalize()
	var first, last time.Duration
	_, err = trainer.Train(ctx, g, cfg.Search.Dims.WithDefaults(), task, trainer.Config{
		Steps: steps + 1, BatchSize: cfg.Training.BatchSize, Seed: 1, ThroughputSeconds: -1, Backend: backend,
	}, func(p trainer.Progress) {
		if p.Step == 1 {
			first = p.Elapsed
		}
		last = p.Elapsed
	})
	if err != nil {
		return 0, err
	}
	perStep := (last - first).Seconds() / float64(steps)
	return perStep * float64(cfg.Training.Steps*len(models)), nil
}
