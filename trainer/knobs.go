package trainer

// Knobs are a training recipe's settings as run configs (training:) and
// the train command's flags give them. Unlike in a Config, 0 weight decay or
// warmup means none, and 0 for the others means the default: Config
// maps them, so both callers build their Config alike.
type Knobs struct {
	Steps, BatchSize int
	LearningRate     float64
	WeightDecay      float64 // 0: none
	WarmupFraction   float64 // 0: none
	Beta1, Beta2     float64
	GradClip         float64
	Precision        Precision
	CheckpointEvery  int
}

// Config is the trainer's Config of knobs k, seeded with seed. The
// caller sets where and how it runs (CheckpointDir, Backend, StopAt,
// StopWhen, ThroughputSeconds).
func (k Knobs) Config(seed uint64) Config {
	return Config{
		Steps: k.Steps, BatchSize: k.BatchSize, LearningRate: k.LearningRate,
		WarmupFraction: ZeroMeansNone(k.WarmupFraction), Beta1: k.Beta1, Beta2: k.Beta2,
		WeightDecay: ZeroMeansNone(k.WeightDecay), GradClip: k.GradClip, Seed: seed,
		CheckpointEvery: k.CheckpointEvery, Precision: k.Precision,
	}
}
