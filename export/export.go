// Package export assembles everything needed to rebuild one candidate of a
// search: its genome, the run config it was trained under, its static costs
// and where its weights are. The command line's `export` and the
// dashboard's export endpoint print the same document.
package export

import (
	"encoding/json"
	"fmt"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/storage"
)

// Candidate is the export of one candidate.
type Candidate struct {
	ID           string                  `json:"id"`
	RunID        string                  `json:"run_id"`
	Generation   int                     `json:"generation"`
	Index        int                     `json:"index"`
	Status       storage.CandidateStatus `json:"status"`
	Genome       string                  `json:"genome"` // canonical text
	Slots        []genome.Slot           `json:"slots"`  // the genome's JSON form
	Hash         string                  `json:"hash"`
	Parents      []string                `json:"parents"`
	Operator     storage.Operator        `json:"operator"`
	Seed         uint64                  `json:"seed"`
	Objectives   map[string]float64      `json:"objectives"`
	Metrics      json.RawMessage         `json:"metrics"`
	Checkpoint   string                  `json:"checkpoint"`
	TrainSeconds float64                 `json:"train_seconds"`
	Worker       string                  `json:"worker,omitempty"`
	Error        string                  `json:"error,omitempty"`
	Config       config.Config           `json:"config"`
	ConfigYAML   string                  `json:"config_yaml"`
	ConfigHash   string                  `json:"config_hash"`
	Dims         arch.Config             `json:"dims"` // the run's model dims, defaults applied
	// Costs at the run's dims; nil when they cannot be computed (see
	// CostErr).
	Costs   *arch.CostReport `json:"costs"`
	CostErr error            `json:"-"`
	// Weights is the safetensors file the export wrote, when it wrote one.
	Weights *WeightsFile `json:"weights,omitempty"`
}

// Build exports cand of run, whose parsed config is cfg. It fails only when
// the stored genome does not parse.
func Build(cand storage.Candidate, run storage.Run, cfg config.Config) (Candidate, error) {
	g, err := genome.Parse(cand.Genome)
	if err == nil {
		err = genome.CheckRanges(g, genome.Space{})
	}
	if err != nil {
		return Candidate{}, fmt.Errorf("parsing the genome of %s: %w", cand.ID, err)
	}
	dims := cfg.Search.Dims.WithDefaults()
	out := Candidate{
		ID: cand.ID, RunID: cand.RunID, Generation: cand.Generation, Index: cand.Index, Status: cand.Status,
		Genome: genome.Format(g), Slots: g, Hash: cand.GenomeHash, Parents: cand.Parents,
		Operator: cand.Operator, Seed: cand.Seed, Objectives: cand.Objectives, Metrics: cand.Metrics,
		Checkpoint: cand.Checkpoint, TrainSeconds: cand.TrainSeconds, Worker: cand.Worker, Error: cand.Error,
		Config: cfg, ConfigYAML: run.Config, ConfigHash: run.ConfigHash, Dims: dims,
	}
	if out.Hash == "" {
		out.Hash = genome.Hash(g)
	}
	if out.Parents == nil {
		out.Parents = []string{}
	}
	if costs, err := arch.Costs(g, dims); err != nil {
		out.CostErr = fmt.Errorf("costing the genome of %s: %w", cand.ID, err)
	} else {
		out.Costs = &costs
	}
	return out, nil
}
