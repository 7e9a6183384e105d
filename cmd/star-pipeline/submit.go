package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/pipeline"
	"github.com/star-pipeline/star-pipeline/study"
)

func init() {
	register(&cli.Command{
		Name:  "submit",
		Usage: "start a search from a run config and coordinate it to the end",
		UsageText: `star-pipeline submit --config search.yaml
star-pipeline submit --config search.yaml --population 8 --generations 3 --seed 7
star-pipeline submit --config search.yaml --redis 127.0.0.1:6379 --workers 0   # workers run elsewhere
star-pipeline submit --config search.yaml --redis 127.0.0.1:6379 --detach      # a coordinator runs elsewhere`,
		Description: "Without --detach, submit drives the run itself unless a `star-pipeline coordinator` of the same " +
			"database takes it first; then submit says so, waits for it to end, and prints the result.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, EnvVars: []string{"STAR_CONFIG"}, TakesFile: true,
				Usage: "run config (YAML, required); see config/example.yaml"},
			dbFlag(),
			&cli.IntFlag{Name: "workers", Value: -1, EnvVars: []string{"STAR_WORKERS"},
				Usage: "in-process workers (default: 1 with the embedded queue, 0 with --redis)"},
			&cli.BoolFlag{Name: "detach", Usage: "store the run and return; a coordinator elsewhere (star-pipeline coordinator) drives it"},
			&cli.Uint64Flag{Name: "seed", Usage: "override the config's seed"},
			&cli.IntFlag{Name: "population", Usage: "override the config's population"},
			&cli.IntFlag{Name: "generations", Usage: "override the config's generations"},
			&cli.BoolFlag{Name: "json", Usage: "print the run id and Pareto set as JSON"},
			&cli.StringFlag{Name: "artifact-root", EnvVars: []string{"STAR_ARTIFACT_ROOT"}, TakesFile: true,
				Usage: "directory a relative artifacts: of the run config is resolved against (default: the working directory); the run stores the absolute path, which every worker must reach"},
			leaseFlag(),
			backendFlag("GoMLX backend of the in-process workers, overriding the run config's backend: go, xla:<plugin path> or auto (default $GOMLX_BACKEND, else the run config's)"),
		}, redisFlags()...),
		Action: submit,
	})
}

func submit(c *cli.Context) error {
	cfg, err := submittedConfig(c)
	if err != nil {
		return err
	}
	if err := checkStaticEval(c, cfg); err != nil {
		return err
	}
	if c.Bool("detach") && c.String("redis") == "" {
		return badInput("--detach needs --redis: the embedded queue lives only as long as this process")
	}
	ev, release, err := evaluator(c)
	if err != nil {
		return err
	}
	defer release()
	// The queue first: when Redis is unreachable nothing is written.
	b, err := openBroker(c)
	if err != nil {
		return err
	}
	defer b.Close()
	workers := 0
	if !c.Bool("detach") {
		if workers, err = inProcessWorkers(c, b); err != nil {
			return err
		}
	}
	if workers > 0 && !c.Bool("static-eval") {
		// This process trains: what it will read and write must be there.
		if err := checkLocalInputs(cfg); err != nil {
			return err
		}
	}
	if err := prepareBackend(ev, workers, cfg); err != nil {
		return err
	}
	id, err := recordSubmission(c, cfg)
	if err != nil {
		return err
	}
	if c.Bool("detach") {
		if c.Bool("json") {
			return writeJSON(c.App.Writer, map[string]string{"id": id, "status": "pending"})
		}
		fmt.Fprintln(c.App.Writer, id)
		return nil
	}
	if err := drive(c, b, c.String("db"), workers, ev, id); err != nil {
		return interrupted(c.Context, err)
	}
	return printEnd(c, id)
}

// submittedConfig reads --config, applies the flags that override it
// (--seed, --population, --generations), validates the result and makes
// its artifact directory absolute (--artifact-root). Every problem is bad
// usage.
func submittedConfig(c *cli.Context) (config.Config, error) {
	if c.NArg() > 0 {
		return config.Config{}, badInput("submit takes no arguments, got %q", c.Args().Slice())
	}
	// Checked here rather than by urfave/cli's Required, whose error
	// would exit 1.
	if c.String("config") == "" {
		return config.Config{}, badInput("submit needs --config (or STAR_CONFIG): the run config; config/example.yaml lists every field")
	}
	if err := checkQueueFlags(c); err != nil {
		return config.Config{}, err
	}
	cfg, err := config.Load(c.String("config"))
	if err != nil {
		return config.Config{}, usageError{err}
	}
	if c.IsSet("seed") {
		cfg.Seed = c.Uint64("seed")
	}
	if c.IsSet("population") {
		cfg.Population = c.Int("population")
	}
	if c.IsSet("generations") {
		cfg.Generations = c.Int("generations")
	}
	if err := cfg.Validate(); err != nil {
		return config.Config{}, usageError{err}
	}
	if err := resolveArtifacts(&cfg, c.String("artifact-root")); err != nil {
		return config.Config{}, err
	}
	return cfg, nil
}

// recordSubmission writes the new run into the database and says so on
// stderr; it returns the run's id.
func recordSubmission(c *cli.Context, cfg config.Config) (string, error) {
	db, err := openDBForWrite(c.Context, c.String("db"))
	if err != nil {
		return "", err
	}
	id, err := pipeline.Submit(c.Context, db, cfg)
	db.Close()
	if err != nil {
		return "", err
	}
	fmt.Fprintf(c.App.ErrWriter, "run %s submitted (%s, population %d, %d generations, objectives %v)\n",
		id, cfg.Algorithm.Name, cfg.Population, cfg.Generations, cfg.Objectives)
	return id, nil
}

// printFinal prints the run id and its final Pareto set, and the report of
// its final stage when it has one.
func printFinal(c *cli.Context, id string) error {
	db, err := openDB(c)
	if err != nil {
		return err
	}
	defer db.Close()
	set, err := paretoSet(c.Context, db, id)
	if err != nil {
		return err
	}
	rep, err := study.Load(c.Context, db, id)
	hasReport := err == nil
	if err != nil && !errors.Is(err, study.ErrNoFinalStage) {
		return err
	}
	if c.Bool("json") {
		out := map[string]any{"id": id, "pareto": set}
		if hasReport {
			out["report"] = rep
		}
		return writeJSON(c.App.Writer, out)
	}
	fmt.Fprintf(c.App.Writer, "run %s finished; Pareto set of the last generation:\n", id)
	if err := printParetoTable(c.App.Writer, set); err != nil {
		return err
	}
	if !hasReport {
		return nil
	}
	fmt.Fprintf(c.App.Writer, "\nfinal stage: the best of the last generation retrained beside the baselines (star-pipeline report %s):\n", id)
	return printReport(c.App.Writer, rep, false)
}

// resolveArtifacts makes a relative artifacts: of cfg absolute before the
// run is stored: joined to root (--artifact-root, $STAR_ARTIFACT_ROOT) when
// it is set, else to the working directory. The coordinator sends workers
// checkpoint paths under it, and a relative one would name a different
// directory in each worker's working directory. An absolute path or a
// file:// URL is kept as written.
func resolveArtifacts(cfg *config.Config, root string) error {
	dir, err := cfg.ArtifactDir()
	if err != nil {
		return usageError{err}
	}
	if filepath.IsAbs(dir) {
		return nil
	}
	if root == "" {
		if root, err = os.Getwd(); err != nil {
			return fmt.Errorf("resolving artifacts %q: %w", dir, err)
		}
	}
	abs, err := filepath.Abs(filepath.Join(root, dir))
	if err != nil {
		return fmt.Errorf("resolving artifacts %q against %q: %w", dir, root, err)
	}
	cfg.Artifacts = abs
	return nil
}

// checkLocalInputs checks, before a run is stored, what workers of this
// process need: a writable artifact directory and, for perplexity, the
// corpus. Either missing would fail every candidate.
func checkLocalInputs(cfg config.Config) error {
	dir, err := cfg.ArtifactDir()
	if err != nil {
		return usageError{err}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return badInput("artifacts %s cannot be created: %v; set artifacts: in the run config to a writable directory", dir, err)
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return badInput("artifacts %s is not writable: %v; set artifacts: in the run config to a writable directory", dir, err)
	}
	f.Close()
	os.Remove(f.Name())
	if cfg.HasObjective(config.Perplexity) {
		corpus := cfg.Quality.Corpus
		if corpus == "" {
			corpus = filepath.Join("data", "brown")
		}
		if _, err := os.Stat(corpus); err != nil {
			hint := "set quality.corpus to a text file or directory"
			if cfg.Quality.Corpus == "" || filepath.Clean(cfg.Quality.Corpus) == filepath.Join("data", "brown") {
				hint = "`star-pipeline data brown` installs the Brown corpus there"
			}
			return badInput("corpus %s for perplexity: %v; %s", corpus, err, hint)
		}
	}
	return nil
}
