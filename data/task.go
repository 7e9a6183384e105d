package data

import (
	"fmt"
	"strings"
)

// Metric is what a task's evaluation reports.
type Metric int

const (
	// Perplexity: mean cross-entropy over the validation targets and its
	// exponential (text).
	Perplexity Metric = iota + 1
	// Accuracy: the fraction of scored positions whose most likely token is
	// the target (MAD tasks).
	Accuracy
)

func (m Metric) String() string {
	switch m {
	case Perplexity:
		return "perplexity"
	case Accuracy:
		return "accuracy"
	}
	return fmt.Sprintf("metric(%d)", int(m))
}

// Task is what the trainer trains on and evaluates.
type Task interface {
	// Name identifies the task: "text:<path>" or "mad:<task>".
	Name() string
	// Vocab is the vocabulary size the model needs.
	Vocab() int
	// SeqLen is the number of tokens per sequence: the model's context.
	SeqLen() int
	// Metric is what evaluation reports.
	Metric() Metric
	// Reconstruct reports that targets are rebuilt from the model's output
	// at the last position alone (the compression task), not read from
	// the output at their own position.
	Reconstruct() bool
	// TrainBatch returns the training batch of a step: a pure function of
	// (seed, step, size).
	TrainBatch(seed uint64, step, size int) Batch
	// EvalBatches returns the fixed evaluation set in batches of size rows
	// (the last one padded with unscored rows).
	EvalBatches(size int) []Batch
}

// TaskOptions configures NewTask. Zero fields take their defaults.
type TaskOptions struct {
	// Context is the sequence length of a text task; default 256. A MAD
	// task uses MAD.Length instead (its own default when zero).
	Context int
	// EvalTokens bounds the validation tokens a text task evaluates on;
	// default DefaultEvalTokens.
	EvalTokens int
	// Corpus configures the text split.
	Corpus CorpusOptions
	// MAD holds the knobs of a MAD task; its Task field is set from the
	// spec.
	MAD MADConfig
}

// DefaultEvalTokens is the default bound on the validation tokens of a text
// task.
const DefaultEvalTokens = 1 << 16

// NewTask builds a task from its spec: "text:<path>" (a file or a directory
// read with LoadCorpus) or "mad:<task>", task one of MADTasks (underscores
// are accepted for dashes).
func NewTask(spec string, opts TaskOptions) (Task, error) {
	kind, arg, ok := strings.Cut(spec, ":")
	if !ok || arg == "" {
		return nil, fmt.Errorf("task %q: want text:<path> or mad:<task> (tasks: %s)", spec, strings.Join(MADTasks, ", "))
	}
	switch kind {
	case "text":
		c, err := LoadCorpus(arg, opts.Corpus)
		if err != nil {
			return nil, err
		}
		return NewTextTask(arg, c, opts.Context, opts.EvalTokens)
	case "mad":
		cfg := opts.MAD
		cfg.Task = arg
		return NewMAD(cfg)
	}
	return nil, fmt.Errorf("task %q: unknown kind %q, want text:<path> or mad:<task>", spec, kind)
}

// TextTask is causal language modelling on a corpus: windows of Context+1
// bytes, inputs the first Context, targets the last Context.
type TextTask struct {
	name       string
	corpus     *Corpus
	context    int
	evalTokens int
}

// NewTextTask returns the language-modelling task on c at the given context
// (default 256); evaluation covers at most evalTokens validation targets
// (default DefaultEvalTokens) in consecutive non-overlapping windows from
// the start of the validation text. name labels the task ("text:" is
// prepended).
func NewTextTask(name string, c *Corpus, context, evalTokens int) (*TextTask, error) {
	if context == 0 {
		context = 256
	}
	if evalTokens == 0 {
		evalTokens = DefaultEvalTokens
	}
	switch {
	case context < 1:
		return nil, fmt.Errorf("context must be >= 1, got %d", context)
	case evalTokens < 1:
		return nil, fmt.Errorf("evaluation tokens must be >= 1, got %d", evalTokens)
	case len(c.Train) < context+1:
		return nil, fmt.Errorf("training text has %d bytes, need at least context+1 = %d: use a larger corpus or a shorter context",
			len(c.Train), context+1)
	case len(c.Val) < context+1:
		return nil, fmt.Errorf("validation text has %d bytes, need at least context+1 = %d: use a larger corpus, a larger validation fraction or a shorter context",
			len(c.Val), context+1)
	}
	return &TextTask{name: "text:" + name, corpus: c, context: context, evalTokens: evalTokens}, nil
}

// Name implements Task.
func (t *TextTask) Name() string { return t.name }

// Vocab implements Task: ByteVocab.
func (t *TextTask) Vocab() int { return ByteVocab }

// SeqLen implements Task: the context.
func (t *TextTask) SeqLen() int { return t.context }

// Metric implements Task: Perplexity.
func (t *TextTask) Metric() Metric { return Perplexity }

// Reconstruct implements Task: false.
func (t *TextTask) Reconstruct() bool { return false }

// Corpus returns the task's corpus.
func (t *TextTask) Corpus() *Corpus { return t.corpus }

// Windows returns size training windows of Context+1 bytes as tokens,
// [size, Context+1] row-major. Window starts are drawn uniformly from the
// training text by a generator seeded with (seed, step).
func (t *TextTask) Windows(seed uint64, step, size int) []int32 {
	w := t.context + 1
	out := make([]int32, size*w)
	r := newRand(seed, streamText, uint64(step))
	span := len(t.corpus.Train) - w + 1
	for i := range size {
		start := r.IntN(span)
		for p, b := range t.corpus.Train[start : start+w] {
			out[i*w+p] = int32(b)
		}
	}
	return out
}

// TrainBatch implements Task: Windows split into inputs and next-token
// targets.
func (t *TextTask) TrainBatch(seed uint64, step, size int) Batch {
	w := t.Windows(seed, step, size)
	b := newBatch(size, t.context)
	for i := range size {
		copy(b.Inputs[i*t.context:], w[i*(t.context+1):i*(t.context+1)+t.context])
		copy(b.Targets[i*t.context:], w[i*(t.context+1)+1:(i+1)*(t.context+1)])
	}
	return b
}

// EvalBatches implements Task: consecutive windows of the validation text
// with stride Context, so every validation byte after the first is a
// target at most once.
func (t *TextTask) EvalBatches(size int) []Batch {
	val := t.corpus.Val
	n := min((len(val)-1)/t.context, max(1, t.evalTokens/t.context))
	L := t.context
	return batchesOf(n, size, L, func(b Batch, r, i int) {
		for p := range L {
			b.Inputs[r*L+p] = int32(val[i*L+p])
			b.Targets[r*L+p] = int32(val[i*L+p+1])
		}
	})
}

// ValTargets returns the validation bytes EvalBatches scores, in order.
func (t *TextTask) ValTargets() []byte {
	n := min((len(t.corpus.Val)-1)/t.context, max(1, t.evalTokens/t.context))
	return t.corpus.Val[1 : n*t.context+1]
}

// Random streams: independent generators for independent purposes.
const (
	streamText uint64 = iota + 1
	streamMADTrain
	streamMADTest
	streamMADShuffle
	streamMADMap
)

// MarshalText writes the metric's name.
func (m Metric) MarshalText() ([]byte, error) { return []byte(m.String()), nil }
