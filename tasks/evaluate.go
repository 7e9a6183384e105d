package tasks

import (
	"context"
	"encoding/json"
	"errors"
)

// TrainPayload asks for the training of one candidate on the run's quality
// tasks.
type TrainPayload struct {
	Node      Node   `json:"node"`
	Candidate string `json:"candidate"`
	Genome    string `json:"genome"`
	Config    string `json:"config"` // the run config, YAML
	Seed      uint64 `json:"seed"`
	// Checkpoint is the directory this candidate's checkpoints go to.
	Checkpoint string `json:"checkpoint"`
	// Steps, in a multi-fidelity run, is the rung's train steps: training
	// stops there (the schedule stays over the config's training.steps)
	// and continues from the checkpoint at the next rung. 0: the full
	// budget.
	Steps int `json:"steps,omitempty"`
	// From, when set, is another candidate's checkpoint directory of the
	// same architecture and recipe (an evaluation-cache hit): with no
	// checkpoint of its own yet, training continues from a copy of it
	// when it has not passed Steps.
	From string `json:"from,omitempty"`
}

// TrainResult is a trained candidate: where its weights are and what
// training measured.
type TrainResult struct {
	Checkpoint   string          `json:"checkpoint"`
	TrainSeconds float64         `json:"train_seconds"`
	Metrics      json.RawMessage `json:"metrics,omitempty"`
	// Worker names the worker that trained (Handlers.Worker), so that a
	// coordinator that finds the result in the queue rather than in a
	// report (a restarted one) records it too: see ResultWorker.
	Worker string `json:"worker,omitempty"`
	// FailedEarly, in a multi-fidelity run, says why training was stopped
	// at once (a NaN or infinite loss, or a loss still above the unigram
	// loss of its data after warm-up); Metrics keep the loss curve. The
	// candidate is recorded as failed early, without an evaluation.
	FailedEarly string `json:"failed_early,omitempty"`
}

// ResultWorker returns the worker a task's result names (a TrainResult's
// Worker), or "queue" when it names none: a result a coordinator took
// from the queue, not from a report, of a stage that does not say.
func ResultWorker(result []byte) string {
	var r struct {
		Worker string `json:"worker"`
	}
	if json.Unmarshal(result, &r) != nil || r.Worker == "" {
		return "queue"
	}
	return r.Worker
}

// EvaluatePayload asks for the objectives of a trained candidate.
type EvaluatePayload struct {
	Node       Node        `json:"node"`
	Candidate  string      `json:"candidate"`
	Genome     string      `json:"genome"`
	Config     string      `json:"config"`
	Seed       uint64      `json:"seed"`
	Checkpoint string      `json:"checkpoint"`
	Train      TrainResult `json:"train"`
}

// EvaluateResult holds every objective of the run, and metrics.
type EvaluateResult struct {
	Objectives map[string]float64 `json:"objectives"`
	Metrics    json.RawMessage    `json:"metrics,omitempty"`
}

// Evaluator trains and scores candidates.
type Evaluator interface {
	Train(ctx context.Context, p TrainPayload) (TrainResult, error)
	Evaluate(ctx context.Context, p EvaluatePayload) (EvaluateResult, error)
}

// ErrCheckpointMissing marks an evaluate that found no checkpoint: the
// coordinator schedules the training again.
var ErrCheckpointMissing = errors.New("checkpoint missing")

// CheckpointMissingText is the error text prefix a report carries for
// ErrCheckpointMissing (reports cross processes as text).
const CheckpointMissingText = "checkpoint missing"
