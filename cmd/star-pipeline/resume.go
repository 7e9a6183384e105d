package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/star-pipeline/star-pipeline/pipeline"
	"github.com/star-pipeline/star-pipeline/storage"
)

func init() {
	register(&cli.Command{
		Name:      "resume",
		Usage:     "continue an interrupted, failed or paused search where its lineage stops",
		UsageText: "star-pipeline resume r20261126-193000-ab12cd [--db star.db] [--redis ADDR] [--workers N]",
		Description: "A run has one coordinator at a time: the holder of its lease in the database. If another live " +
			"coordinator drives the run, resume says which and waits until that one lets it go (the run ends, is paused, " +
			"or its coordinator stops) or dies and its lease expires (--lease; at once for a coordinator of this machine " +
			"whose process is gone), then drives what is left, or prints the result. Ctrl-C stops waiting (exit 130).",
		Flags: append([]cli.Flag{
			dbFlag(),
			&cli.IntFlag{Name: "workers", Value: -1, EnvVars: []string{"STAR_WORKERS"},
				Usage: "in-process workers (default: 1 with the embedded queue, 0 with --redis)"},
			&cli.BoolFlag{Name: "json", Usage: "print the Pareto set as JSON"},
			leaseFlag(),
			backendFlag("GoMLX backend of the in-process workers, overriding the run config's backend: go, xla:<plugin path> or auto (default $GOMLX_BACKEND, else the run config's)"),
		}, redisFlags()...),
		Action: resume,
	})
	register(&cli.Command{
		Name:  "coordinator",
		Usage: "coordinate every unfinished run of a database (runs submitted with --detach included; paused runs wait until resumed)",
		Description: "Several coordinators may serve one database and Redis: each run is driven by the one that holds its " +
			"lease; the others skip it and try again every --poll, and take it over when its coordinator stops, or " +
			"dies and its lease expires (--lease). A Redis outage shorter than --redis-outage is waited out.",
		Flags: append([]cli.Flag{
			dbFlag(),
			&cli.DurationFlag{Name: "poll", Value: 5e9, Usage: "how often to look for newly submitted runs"},
			leaseFlag(),
		}, redisFlags()...),
		Action: coordinator,
	})
}

func resume(c *cli.Context) error {
	id, err := oneArg(c, "RUN_ID", runHint)
	if err != nil {
		return err
	}
	if err := checkQueueFlags(c); err != nil {
		return err
	}
	db, err := openDB(c)
	if err != nil {
		return err
	}
	run, err := db.GetRun(c.Context, id)
	db.Close()
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("no run %s in %s", id, c.String("db"))
	}
	if err != nil {
		return err
	}
	switch run.Status {
	case storage.RunFinished:
		fmt.Fprintf(c.App.ErrWriter, "run %s already finished\n", id)
		return printFinal(c, id)
	case storage.RunCancelled:
		return fmt.Errorf("run %s was cancelled; a cancelled run cannot be resumed", id)
	}
	cfg, err := runConfig(run)
	if err != nil {
		return err
	}
	if err := checkStaticEval(c, cfg); err != nil {
		return err
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
	workers, err := inProcessWorkers(c, b)
	if err != nil {
		return err
	}
	if err := prepareBackend(ev, workers, cfg); err != nil {
		return err
	}
	if run.Status == storage.RunPaused {
		if err := unpause(c.Context, c.String("db"), id); err != nil {
			return err
		}
	}
	fmt.Fprintf(c.App.ErrWriter, "resuming run %s (%s) at generation %d\n", id, run.Status, run.CurrentGeneration)
	if err := drive(c, b, c.String("db"), workers, ev, id); err != nil {
		return interrupted(c.Context, err)
	}
	return printEnd(c, id)
}

// unpause moves a paused run back to pending, for this process to drive.
func unpause(ctx context.Context, dbPath, id string) error {
	db, err := openDBForWrite(ctx, dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.ResumeRun(ctx, id)
}

// printEnd reports how driving run id ended: the Pareto set of a finished
// run, how to continue one paused meanwhile, an error otherwise.
func printEnd(c *cli.Context, id string) error {
	db, err := openDB(c)
	if err != nil {
		return err
	}
	r, err := db.GetRun(c.Context, id)
	db.Close()
	if err != nil {
		return err
	}
	switch r.Status {
	case storage.RunFinished:
		return printFinal(c, id)
	case storage.RunPaused:
		fmt.Fprintf(c.App.ErrWriter, "run %s paused at generation %d; `star-pipeline resume %s` continues it\n",
			id, r.CurrentGeneration, id)
		if c.Bool("json") {
			return writeJSON(c.App.Writer, map[string]string{"id": id, "status": string(r.Status)})
		}
		return nil
	}
	if r.Error != "" {
		return fmt.Errorf("run %s is %s: %s", id, r.Status, r.Error)
	}
	return fmt.Errorf("run %s is %s", id, r.Status)
}

// coordinator drives every unfinished run, picking up new ones as they are
// submitted, until interrupted.
func coordinator(c *cli.Context) error {
	if c.String("redis") == "" {
		return badInput("coordinator needs --redis (or STAR_REDIS): workers must reach the same queue")
	}
	if err := checkQueueFlags(c); err != nil {
		return err
	}
	b, err := openBroker(c)
	if err != nil {
		return err
	}
	defer b.Close()
	db, err := openDBForWrite(c.Context, c.String("db"))
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(c.App.ErrWriter, "coordinator on %s, database %s\n", b.Addr(), db.Path())
	unfinished := func(ctx context.Context) ([]string, error) {
		runs, err := db.ListRuns(ctx, storage.RunPending, storage.RunRunning)
		if err != nil {
			return nil, err
		}
		ids := make([]string, len(runs))
		for i, r := range runs {
			ids[i] = r.ID
		}
		return ids, nil
	}
	ids, err := unfinished(c.Context)
	if err != nil {
		return err
	}
	pp := newProgressPrinter(c.App.ErrWriter)
	defer pp.finish()
	co, err := pipeline.New(pipeline.Options{DB: db, Broker: b, Logger: logger(c), Progress: pp.update,
		ReconcileEvery: c.Duration("poll"), Discover: unfinished, Lease: c.Duration("lease"),
		Held: func(l storage.Lease) {
			pp.note("run %s is driven by another coordinator (%s); trying again while it holds the run", l.RunID, l.Owner)
		}})
	if err != nil {
		return err
	}
	if err := co.Drive(c.Context, ids...); err != nil && c.Context.Err() == nil {
		return err
	}
	return nil
}
