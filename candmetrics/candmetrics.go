// Package candmetrics defines the metrics a candidate's training and
// evaluation report, as the worker writes them and as a candidate's stored
// metrics hold them: one typed form for the writer (tasks) and every
// reader (the run summary, the study report, the dashboard).
//
// The JSON names are those stored databases already hold; the structs'
// fields are in the order the keys were written, so the bytes written are
// unchanged. The package has no dependencies, so that readers which do not
// train need not link the trainer.
package candmetrics

import (
	"encoding/json"
	"math"
)

// TrainJob is what training reports for one model. The model is built at
// its task's vocabulary and sequence length, not the run's dims, so its
// parameter count (trained_params, at trained_vocab) differs from the
// params objective (at search.vocab): docs/design.md, section 2.
type TrainJob struct {
	Job          string  `json:"job"`
	Steps        int     `json:"steps"`
	FinalLoss    float64 `json:"final_loss"`
	TrainTokensS float64 `json:"train_tokens_per_s"` // training throughput, compilation excluded
	TrainedParam int64   `json:"trained_params"`     // this model's parameters, at TrainedVocab
	TrainedVocab int     `json:"trained_vocab"`      // this model's vocabulary: its task's
	Seconds      float64 `json:"seconds"`
}

// Train is the metrics of a completed training: every model's, the loss
// curve of the first model, and the mean training throughput over models.
type Train struct {
	Backend         string     `json:"backend"`
	Jobs            []TrainJob `json:"jobs"`
	Losses          []float64  `json:"losses"`
	TrainTokensPerS float64    `json:"train_tokens_per_s"`
}

// EarlyStop is the metrics of a training a multi-fidelity run stopped at
// once (a NaN or infinite loss, or a loss above the unigram loss of its
// data): the stopped model, its loss curve and the unigram loss it was
// held to (0 when the unigram check is off), and the models it trained
// to the end before that one.
type EarlyStop struct {
	Backend     string     `json:"backend"`
	Job         string     `json:"job"`
	Losses      []float64  `json:"losses"`
	Steps       int        `json:"steps"`
	UnigramLoss float64    `json:"unigram_loss"`
	Jobs        []TrainJob `json:"jobs,omitempty"`
}

// EvalJob is what evaluation reports for one model.
type EvalJob struct {
	Job           string  `json:"job"`
	Accuracy      float64 `json:"accuracy"`
	ValPerplexity float64 `json:"val_perplexity"`
	EvalLoss      float64 `json:"eval_loss"`
	// ForwardTokensS is the measured forward (inference) throughput the
	// latency objective is 1 over; absent when latency is not measured.
	ForwardTokensS float64 `json:"forward_tokens_per_s,omitempty"`
	// DecodeMsPerToken is the cached decoding step at batch 1 at the end
	// of the context (DecodeContext) the decode form of latency is; absent
	// otherwise.
	DecodeMsPerToken float64 `json:"decode_ms_per_token,omitempty"`
	DecodeContext    int     `json:"decode_context,omitempty"`
}

// Eval is the metrics of an evaluation: every model's, and each MAD task's
// best accuracy over the learning-rate x weight-decay sweep.
type Eval struct {
	Backend     string             `json:"backend"`
	Jobs        []EvalJob          `json:"jobs"`
	MADAccuracy map[string]float64 `json:"mad_accuracy"`
}

// Candidate is a candidate's stored metrics: the training's under "train"
// and the evaluation's under "eval", with the training loss curve and
// throughput lifted to the top, where dashboards look for them. A
// candidate stopped early has only the training's (an EarlyStop, read
// here as a Train without jobs or throughput).
type Candidate struct {
	Train           Train     `json:"train"`
	Eval            Eval      `json:"eval"`
	Losses          []float64 `json:"losses"`
	TrainTokensPerS *float64  `json:"train_tokens_per_s"`
	// StoppedSteps are the steps of the model an early stop ended (the
	// training part is then an EarlyStop); 0 otherwise.
	StoppedSteps int `json:"-"`
}

// Lifted are the keys of the training's metrics Candidate lifts to the
// top.
var Lifted = []string{"losses", "train_tokens_per_s"}

// Parse reads a candidate's stored metrics; false when there are none or
// they are not a JSON object. Metrics are free-form in storage: each part
// (train, eval, losses, train_tokens_per_s) is read on its own, and one
// that is missing or of another shape reads as its zero value without
// losing the others.
func Parse(raw json.RawMessage) (Candidate, bool) {
	var parts map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &parts) != nil || parts == nil {
		return Candidate{}, false
	}
	var c Candidate
	read := func(key string, v any) {
		if b, ok := parts[key]; ok {
			_ = json.Unmarshal(b, v) // a part of another shape counts as absent (fields read before the mismatch stay)
		}
	}
	read("train", &c.Train)
	read("eval", &c.Eval)
	var stop EarlyStop
	if read("train", &stop); stop.Job != "" {
		c.StoppedSteps = stop.Steps
	}
	var losses []float64
	if b, ok := parts["losses"]; ok && json.Unmarshal(b, &losses) == nil {
		c.Losses = losses
	}
	var tps float64
	if b, ok := parts["train_tokens_per_s"]; ok && json.Unmarshal(b, &tps) == nil {
		c.TrainTokensPerS = &tps
	}
	return c, true
}

// TrainSteps is the number of steps every model of the training ran,
// the one an early stop ended included.
func (c Candidate) TrainSteps() int64 {
	n := int64(c.StoppedSteps)
	for _, j := range c.Train.Jobs {
		n += int64(j.Steps)
	}
	return n
}

// Throughput is the training throughput the candidate reports (tokens per
// second, compilation excluded), and false when it reports none or it is
// not finite.
func (c Candidate) Throughput() (float64, bool) {
	if c.TrainTokensPerS == nil || math.IsNaN(*c.TrainTokensPerS) || math.IsInf(*c.TrainTokensPerS, 0) {
		return 0, false
	}
	return *c.TrainTokensPerS, true
}
