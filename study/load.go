package study

import (
	"context"
	"fmt"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/storage"
)

// Source is the part of the lineage database a report reads.
type Source interface {
	GetRun(ctx context.Context, id string) (storage.Run, error)
	ListFinalEntries(ctx context.Context, runID string) ([]storage.FinalEntry, error)
	ListCandidates(ctx context.Context, runID string, generation int) ([]storage.Candidate, error)
	ListGenerations(ctx context.Context, runID string) ([]storage.Generation, error)
	RungSource
}

// Load reads run id's records and computes its report. An unknown run is
// storage.ErrNotFound; a run without a final stage is ErrNoFinalStage.
func Load(ctx context.Context, src Source, id string) (Report, error) {
	run, err := src.GetRun(ctx, id)
	if err != nil {
		return Report{}, err
	}
	cfg, err := config.Parse([]byte(run.Config))
	if err != nil {
		return Report{}, fmt.Errorf("run %s: stored config: %w", id, err)
	}
	if cfg.Final == nil {
		return Report{}, fmt.Errorf("run %s: %w", id, ErrNoFinalStage)
	}
	in := Input{Run: run, Config: cfg}
	if in.Entries, err = src.ListFinalEntries(ctx, id); err != nil {
		return Report{}, err
	}
	if in.Candidates, err = src.ListCandidates(ctx, id, -1); err != nil {
		return Report{}, err
	}
	if in.Generations, err = src.ListGenerations(ctx, id); err != nil {
		return Report{}, err
	}
	rep, err := Compute(in)
	if err != nil || cfg.Fidelity == nil {
		return rep, err
	}
	if rep.Rungs, err = RungCorrelations(ctx, src, id, -1, cfg.RungSteps(), cfg.Objectives[0]); err != nil {
		return Report{}, err
	}
	rep.RungThreshold = *cfg.Fidelity.MinCorrelation
	return rep, nil
}
