package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/star-pipeline/star-pipeline/arch"
)

// hashVersion changes whenever the meaning of a hashed field changes, so old
// cache entries stop matching. v2: width-aware initialisation and the
// chunked long convolution changed what the same recipe trains.
const hashVersion = "star-training/v2"

// trainingKey is everything that changes what training a genome measures.
type trainingKey struct {
	Version     string      `json:"version"`
	Depth       int         `json:"depth"`
	Dims        arch.Config `json:"dims"`
	Steps       int         `json:"steps"`
	BatchSize   int         `json:"batch_size"`
	LR          float64     `json:"lr"`
	Beta1       float64     `json:"beta1"`
	Beta2       float64     `json:"beta2"`
	WeightDecay float64     `json:"weight_decay"`
	Warmup      float64     `json:"warmup_fraction"`
	GradClip    float64     `json:"grad_clip"`
	EvalBatches int         `json:"eval_batches"`
	MAD         []MADTask   `json:"mad"`
	SweepLR     []float64   `json:"sweep_lr"`
	SweepWD     []float64   `json:"sweep_wd"`
	Corpus      string      `json:"corpus"`
	ValFraction float64     `json:"validation_fraction"`
	Precision   string      `json:"precision"`
	// Latency is set only for the decode form, so throughput runs keep
	// their hashes.
	Latency string `json:"latency,omitempty"`
}

// Hash returns a hex SHA-256 over the training-relevant parts of c: depth
// and model dims, the training recipe and the quality tasks (with defaults
// applied, so an omitted field and its default hash alike). It leaves out
// what does not change a genome's measured objectives: the algorithm,
// population, generations, objectives, allowed classes, seeds, run seed,
// artifact location, backend, timeout and checkpoint interval. Two runs with
// equal hashes can share evaluation-cache entries.
//
// The corpus is hashed by path, not content: a corpus edited in place keeps
// its hash.
func (c Config) Hash() string {
	c.Quality.MAD = append([]MADTask(nil), c.Quality.MAD...)
	c.applyDefaults()
	t := c.Training
	k := trainingKey{
		Version:     hashVersion,
		Depth:       c.Search.Depth,
		Dims:        c.Search.Dims,
		Steps:       t.Steps,
		BatchSize:   t.BatchSize,
		LR:          t.LearningRate,
		Beta1:       t.Beta1,
		Beta2:       t.Beta2,
		WeightDecay: t.WeightDecay,
		Warmup:      t.WarmupFraction,
		GradClip:    t.GradClip,
		EvalBatches: t.EvalBatches,
		MAD:         c.Quality.MAD,
		SweepLR:     c.LearningRates(),
		SweepWD:     c.WeightDecays(),
		Corpus:      c.Quality.Corpus,
		ValFraction: c.Quality.ValidationFraction,
		Precision:   t.Precision,
	}
	if c.Quality.Latency == LatencyDecode {
		k.Latency = LatencyDecode
	}
	b, err := json.Marshal(k)
	if err != nil {
		// Only NaN or infinite floats fail to encode; Validate rejects
		// them, and hashing their text keeps Hash total.
		b = fmt.Appendf(nil, "%#v", k)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
