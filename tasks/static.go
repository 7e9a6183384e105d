package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/internal/atomicfile"
)

// StaticEvaluator is the benchmark mode of the pipeline: it trains nothing
// and scores a candidate on its static costs alone (params, cache_bytes).
// It exists to measure the workflow's own overhead and to exercise the
// queue in crash tests; a run whose objectives need training is refused.
type StaticEvaluator struct{}

var _ Evaluator = StaticEvaluator{}

// staticCheckpoint is what the static "training" writes, so evaluate's
// checkpoint handling is exercised as in real runs.
type staticCheckpoint struct {
	Mode   string `json:"mode"`
	Genome string `json:"genome"`
}

// Train writes a small marker checkpoint (temp file, then rename).
func (StaticEvaluator) Train(ctx context.Context, p TrainPayload) (TrainResult, error) {
	if err := ctx.Err(); err != nil {
		return TrainResult{}, err
	}
	if err := os.MkdirAll(p.Checkpoint, 0o755); err != nil {
		return TrainResult{}, fmt.Errorf("creating checkpoint dir: %w", err)
	}
	path := filepath.Join(p.Checkpoint, "static.json")
	data, _ := json.Marshal(staticCheckpoint{Mode: "static-benchmark", Genome: p.Genome})
	if err := atomicfile.WriteFile(path, data); err != nil {
		return TrainResult{}, err
	}
	return TrainResult{Checkpoint: path}, nil
}

// Evaluate returns params and cache_bytes at the run's dims.
func (StaticEvaluator) Evaluate(ctx context.Context, p EvaluatePayload) (EvaluateResult, error) {
	if err := ctx.Err(); err != nil {
		return EvaluateResult{}, err
	}
	if _, err := os.Stat(p.Checkpoint); errors.Is(err, os.ErrNotExist) {
		return EvaluateResult{}, permanent(fmt.Errorf("%s: %s", CheckpointMissingText, p.Checkpoint))
	}
	c, err := config.Parse([]byte(p.Config))
	if err != nil {
		return EvaluateResult{}, permanent(err)
	}
	for _, o := range c.Objectives {
		if o != config.Params && o != config.CacheBytes {
			return EvaluateResult{}, permanent(fmt.Errorf("the static benchmark evaluator measures params and cache_bytes only, not %s", o))
		}
	}
	g, err := genome.Parse(p.Genome)
	if err != nil {
		return EvaluateResult{}, permanent(err)
	}
	costs, err := arch.Costs(g, c.Search.Dims.WithDefaults())
	if err != nil {
		return EvaluateResult{}, permanent(err)
	}
	return EvaluateResult{Objectives: map[string]float64{
		config.Params:     float64(costs.Params),
		config.CacheBytes: float64(costs.CacheBytes),
	}}, nil
}
