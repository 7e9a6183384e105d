// Package runview is the read model of the lineage database: what the
// command line (runs, status, pareto, plot), the dashboard and its JSON API
// show about runs, computed in one place over storage. It holds a run's
// summary (one JSON shape for `runs --json` and /api/runs), its generations'
// summaries, its Pareto sets, objective vectors, the run's configuration
// with its fallback, and the data of the charts (Pareto, Hypervolume,
// Classes). It only reads; drawing and printing are the callers'.
package runview

import (
	"context"
	"fmt"
	"sort"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/storage"
)

// Source is what the read model reads: a *storage.DB, or a *storage.Tx for
// one consistent snapshot.
type Source interface {
	GetRun(ctx context.Context, id string) (storage.Run, error)
	ListCandidates(ctx context.Context, runID string, generation int) ([]storage.Candidate, error)
	ListGenerations(ctx context.Context, runID string) ([]storage.Generation, error)
}

// Config parses the configuration a run was submitted with.
func Config(r storage.Run) (config.Config, error) {
	cfg, err := config.Parse([]byte(r.Config))
	if err != nil {
		return cfg, fmt.Errorf("parsing the config of run %s: %w", r.ID, err)
	}
	return cfg, nil
}

// ConfigOrDefault returns a run's configuration, or the default
// configuration when the stored YAML does not parse (a run written by
// another version): the pages of such a run still show what the lineage
// holds.
func ConfigOrDefault(r storage.Run) config.Config {
	cfg, err := Config(r)
	if err != nil {
		return config.Default()
	}
	return cfg
}

// Objectives returns a run's objectives in the order of its configuration.
// A configuration that does not parse yields the default objectives.
func Objectives(r storage.Run) []string {
	return ConfigOrDefault(r).Objectives
}

// ReportedObjectives returns a run's objectives in config order or, when
// its config does not parse, the names its candidates report, sorted.
func ReportedObjectives(r storage.Run, cands []storage.Candidate) []string {
	if cfg, err := Config(r); err == nil {
		return cfg.Objectives
	}
	seen := map[string]bool{}
	var names []string
	for _, c := range cands {
		for k := range c.Objectives {
			if !seen[k] {
				seen[k] = true
				names = append(names, k)
			}
		}
	}
	sort.Strings(names)
	return names
}
