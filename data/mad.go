package data

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
)

// MAD task names (docs/design.md, section 4).
const (
	InContextRecall  = "in-context-recall"
	NoisyRecall      = "noisy-recall"
	FuzzyRecall      = "fuzzy-recall"
	SelectiveCopying = "selective-copying"
	Compression      = "compression"
	Memorization     = "memorization"
)

// MADTasks lists the MAD task names in a fixed order.
var MADTasks = []string{InContextRecall, NoisyRecall, FuzzyRecall, SelectiveCopying, Compression, Memorization}

// Default set sizes of a MAD task (the MAD paper's).
const (
	DefaultTrainExamples = 12800
	DefaultTestExamples  = 1280
)

// MADConfig holds the knobs of one MAD task. A zero field takes the task's
// baseline value (MADDefaults); knobs a task does not use are ignored.
//
// Token layout per task (V = Vocab):
//   - in-context recall, noisy recall, memorization: keys 0..V/2-1, values
//     V/2..V-1; noisy recall adds noise tokens V..V+NoiseVocab-1.
//   - fuzzy recall: keys 0..(V-1)/2-1, values (V-1)/2..V-2, padding V-1.
//   - selective copying: content 0..V-3, blank V-2, copy V-1.
//   - compression: content 0..V-2, compression token V-1.
type MADConfig struct {
	// Task is one of MADTasks.
	Task string `json:"task"`
	// Vocab is the task vocabulary, special tokens included (noise tokens
	// of noisy recall come on top). Baseline 16; memorization 256.
	Vocab int `json:"vocab"`
	// Length is the sequence length, the model's context. Baseline 128
	// for the recall tasks, 256 for selective copying, 32 for compression
	// and memorization.
	Length int `json:"length"`
	// Noise is the probability that noisy recall inserts a noise token
	// before a key-value pair, in (0, 1). Baseline 0.2.
	Noise float64 `json:"noise,omitempty"`
	// NoiseVocab is the number of noise tokens of noisy recall. Baseline 16.
	NoiseVocab int `json:"noise_vocab,omitempty"`
	// MaxKeyLen is the longest key or value tuple of fuzzy recall (tuples
	// have 1..MaxKeyLen tokens). Baseline 3.
	MaxKeyLen int `json:"max_key_len,omitempty"`
	// Keys is the number of distinct keys in one recall sequence.
	// Baseline: every key of the key vocabulary (in-context and noisy
	// recall), 8 (fuzzy recall).
	Keys int `json:"keys,omitempty"`
	// ProbeOnly makes training sequences of the recall tasks score only
	// the final probe, as test sequences do. By default a training
	// sequence scores the value of every key that appeared before in it.
	ProbeOnly bool `json:"probe_only,omitempty"`
	// Tokens is the number of content tokens of selective copying.
	// Baseline 16.
	Tokens int `json:"tokens,omitempty"`
	// TrainExamples and TestExamples are the sizes of the fixed training
	// and test sets. Baseline 12800 and 1280.
	TrainExamples int `json:"train_examples"`
	TestExamples  int `json:"test_examples"`
	// Seed seeds the generator; every example is a pure function of Seed
	// and its index. Memorization's key-value map also derives from it.
	Seed uint64 `json:"seed"`
}

// NormalizeMADTask maps a task name to its canonical form in MADTasks
// (lower case, underscores read as dashes) and reports whether it is known.
func NormalizeMADTask(name string) (string, bool) {
	n := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(name)), "_", "-")
	return n, slices.Contains(MADTasks, n)
}

// MADDefaults returns the baseline configuration of a task.
func MADDefaults(task string) (MADConfig, error) {
	name, ok := NormalizeMADTask(task)
	if !ok {
		return MADConfig{}, fmt.Errorf("unknown MAD task %q (known: %s)", task, strings.Join(MADTasks, ", "))
	}
	c := MADConfig{Task: name, Vocab: 16, Length: 128,
		TrainExamples: DefaultTrainExamples, TestExamples: DefaultTestExamples}
	switch name {
	case NoisyRecall:
		c.Noise, c.NoiseVocab = 0.2, 16
	case FuzzyRecall:
		c.MaxKeyLen, c.Keys = 3, 8
	case SelectiveCopying:
		c.Length, c.Tokens = 256, 16
	case Compression:
		c.Length = 32
	case Memorization:
		c.Vocab, c.Length = 256, 32
	}
	return c, nil
}

// WithDefaults returns c with every zero knob set to its task's baseline.
func (c MADConfig) WithDefaults() (MADConfig, error) {
	d, err := MADDefaults(c.Task)
	if err != nil {
		return c, err
	}
	c.Task = d.Task
	def := func(v *int, x int) {
		if *v == 0 {
			*v = x
		}
	}
	def(&c.Vocab, d.Vocab)
	def(&c.Length, d.Length)
	def(&c.NoiseVocab, d.NoiseVocab)
	def(&c.MaxKeyLen, d.MaxKeyLen)
	def(&c.Tokens, d.Tokens)
	def(&c.TrainExamples, d.TrainExamples)
	def(&c.TestExamples, d.TestExamples)
	if c.Noise == 0 {
		c.Noise = d.Noise
	}
	if c.Keys == 0 {
		switch c.Task {
		case InContextRecall, NoisyRecall:
			c.Keys = c.Vocab / 2
		default:
			c.Keys = d.Keys
		}
	}
	return c, nil
}

// Validate checks a configuration with defaults applied.
func (c MADConfig) Validate() error {
	if _, ok := NormalizeMADTask(c.Task); !ok {
		return fmt.Errorf("unknown MAD task %q (known: %s)", c.Task, strings.Join(MADTasks, ", "))
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("MAD task %s: "+format, append([]any{c.Task}, args...)...)
	}
	switch {
	case c.TrainExamples < 1 || c.TestExamples < 1:
		return bad("train and test examples must be >= 1, got %d and %d", c.TrainExamples, c.TestExamples)
	case c.Vocab < 4:
		return bad("vocab must be >= 4, got %d", c.Vocab)
	case c.Length < 4:
		return bad("length must be >= 4, got %d", c.Length)
	}
	switch c.Task {
	case InContextRecall, NoisyRecall, Memorization:
		if c.Length%2 != 0 {
			return bad("length must be even (key-value pairs), got %d", c.Length)
		}
		if c.Task != Memorization && (c.Keys < 1 || c.Keys > c.Vocab/2) {
			return bad("keys must be in 1..%d (the key vocabulary), got %d", c.Vocab/2, c.Keys)
		}
		if c.Task == NoisyRecall {
			if !(c.Noise > 0 && c.Noise < 1) {
				return bad("noise must be in (0, 1), got %v", c.Noise)
			}
			if c.NoiseVocab < 1 {
				return bad("noise vocab must be >= 1, got %d", c.NoiseVocab)
			}
		}
	case FuzzyRecall:
		if c.MaxKeyLen < 1 {
			return bad("max key length must be >= 1, got %d", c.MaxKeyLen)
		}
		if c.Length < 4*c.MaxKeyLen {
			return bad("length must be >= 4 * max key length = %d, got %d", 4*c.MaxKeyLen, c.Length)
		}
		if c.Vocab < 5 {
			return bad("vocab must be >= 5 (keys, values and padding), got %d", c.Vocab)
		}
		if c.Keys < 1 || c.Keys > fuzzyKeySpace((c.Vocab-1)/2, c.MaxKeyLen) {
			return bad("keys must be in 1..%d (distinct key tuples), got %d", fuzzyKeySpace((c.Vocab-1)/2, c.MaxKeyLen), c.Keys)
		}
	case SelectiveCopying:
		if c.Tokens < 1 || c.Length < 2*c.Tokens+1 {
			return bad("tokens must be >= 1 and length >= 2*tokens+1, got tokens %d, length %d", c.Tokens, c.Length)
		}
	}
	return nil
}

// fuzzyKeySpace is the number of tuples of 1..maxLen tokens over k tokens,
// capped to keep the arithmetic small.
func fuzzyKeySpace(k, maxLen int) int {
	total, p := 0, 1
	for range maxLen {
		p *= k
		total += p
		if total > 1<<20 {
			return 1 << 20
		}
	}
	return total
}

// MAD is a generated MAD task: a fixed training set and a fixed test set.
// It implements Task with Metric Accuracy.
type MAD struct {
	cfg   MADConfig
	vocab int
	train []int32 // [TrainExamples, 2, Length]: inputs then targets per example
	test  []int32

	mu       sync.Mutex
	permSeed uint64
	permEp   int
	perm     []int
}

// NewMAD generates a MAD task's training and test sets.
func NewMAD(cfg MADConfig) (*MAD, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &MAD{cfg: cfg, vocab: cfg.Vocab, permEp: -1}
	if cfg.Task == NoisyRecall {
		m.vocab += cfg.NoiseVocab
	}
	var kv []int32
	if cfg.Task == Memorization {
		r := newRand(cfg.Seed, streamMADMap)
		kv = make([]int32, cfg.Vocab/2)
		for i := range kv {
			kv[i] = int32(cfg.Vocab/2 + r.IntN(cfg.Vocab-cfg.Vocab/2))
		}
	}
	gen := func(n int, stream uint64, train bool) []int32 {
		L := cfg.Length
		out := make([]int32, n*2*L)
		for i := range n {
			in, tg := out[i*2*L:i*2*L+L], out[i*2*L+L:(i+1)*2*L]
			for p := range tg {
				tg[p] = Ignore
			}
			r := newRand(cfg.Seed, stream, uint64(i))
			switch cfg.Task {
			case InContextRecall, NoisyRecall:
				genRecall(cfg, r, in, tg, train)
			case FuzzyRecall:
				genFuzzy(cfg, r, in, tg, train)
			case SelectiveCopying:
				genCopy(cfg, r, in, tg)
			case Compression:
				genCompression(cfg, r, in, tg)
			case Memorization:
				genMemorization(cfg, r, kv, in, tg)
			}
		}
		return out
	}
	m.train = gen(cfg.TrainExamples, streamMADTrain, true)
	m.test = gen(cfg.TestExamples, streamMADTest, false)
	return m, nil
}

// genRecall writes one in-context (or noisy) recall sequence: key-value
// pairs drawn from a per-sequence random map over Keys keys, optional noise
// tokens before pairs, and a final probe pair whose key appeared before.
// The target at a key position is the value that follows it.
func genRecall(c MADConfig, r *rand.Rand, in, tg []int32, train bool) {
	L, half := len(in), c.Vocab/2
	keys := r.Perm(half)[:c.Keys]
	val := make(map[int32]int32, len(keys))
	for _, k := range keys {
		val[int32(k)] = int32(half + r.IntN(c.Vocab-half))
	}
	seen := map[int32]bool{}
	var used []int32
	pos := 0
	for pos < L-2 {
		if c.Task == NoisyRecall && (r.Float64() < c.Noise || pos == L-3) {
			in[pos] = int32(c.Vocab + r.IntN(c.NoiseVocab))
			pos++
			continue
		}
		k := int32(keys[r.IntN(len(keys))])
		in[pos], in[pos+1] = k, val[k]
		if train && !c.ProbeOnly && seen[k] {
			tg[pos] = val[k]
		}
		seen[k] = true
		used = append(used, k)
		pos += 2
	}
	if len(used) == 0 {
		k := int32(keys[r.IntN(len(keys))])
		used = append(used, k)
	}
	k := used[r.IntN(len(used))]
	in[L-2], in[L-1] = k, val[k]
	tg[L-2] = val[k]
}

// genFuzzy writes one fuzzy recall sequence: left padding, then pairs of a
// key tuple and a value tuple (1..MaxKeyLen tokens each) from a per-sequence
// map over Keys distinct key tuples, then a probe pair whose key appeared
// before. Every value token of a scored pair is a target at the position
// before it.
func genFuzzy(c MADConfig, r *rand.Rand, in, tg []int32, train bool) {
	L, nk := len(in), (c.Vocab-1)/2
	pad := int32(c.Vocab - 1)
	tuple := func(lo, n int) []int32 {
		t := make([]int32, 1+r.IntN(c.MaxKeyLen))
		for i := range t {
			t[i] = int32(lo + r.IntN(n))
		}
		return t
	}
	var keys, vals [][]int32
	for len(keys) < c.Keys {
		k := tuple(0, nk)
		if !slices.ContainsFunc(keys, func(x []int32) bool { return slices.Equal(x, k) }) {
			keys = append(keys, k)
			vals = append(vals, tuple(nk, c.Vocab-1-nk))
		}
	}
	var seq []int32
	var scored []bool // per token of seq: is it a scored value token
	var used []int
	seen := map[int]bool{}
	appendPair := func(i int, score bool) {
		seq = append(seq, keys[i]...)
		for range keys[i] {
			scored = append(scored, false)
		}
		seq = append(seq, vals[i]...)
		for range vals[i] {
			scored = append(scored, score)
		}
	}
	for {
		i := r.IntN(len(keys))
		if len(seq)+len(keys[i])+len(vals[i])+2*c.MaxKeyLen > L {
			break
		}
		appendPair(i, train && !c.ProbeOnly && seen[i])
		seen[i] = true
		used = append(used, i)
	}
	if len(used) == 0 {
		used = append(used, r.IntN(len(keys)))
	}
	appendPair(used[r.IntN(len(used))], true)
	off := L - len(seq)
	for p := range off {
		in[p] = pad
	}
	copy(in[off:], seq)
	for j, s := range scored {
		if s {
			tg[off+j-1] = seq[j]
		}
	}
}

// genCopy writes one selective copying sequence: Tokens content tokens at
// random positions of a blank region, the copy token, then the content
// tokens in order; the target at the copy token and at each copied token
// but the last is the next content token.
func genCopy(c MADConfig, r *rand.Rand, in, tg []int32) {
	L, n := len(in), c.Tokens
	region := L - n - 1
	blank, cp := int32(c.Vocab-2), int32(c.Vocab-1)
	for p := range region {
		in[p] = blank
	}
	where := r.Perm(region)[:n]
	slices.Sort(where)
	content := make([]int32, n)
	for j := range content {
		content[j] = int32(r.IntN(c.Vocab - 2))
		in[where[j]] = content[j]
	}
	in[region] = cp
	copy(in[region+1:], content)
	for j := range n {
		tg[region+j] = content[j]
	}
}

// genCompression writes one compression sequence: Length-1 random content
// tokens and the compression token; the targets are the content tokens at
// their own positions, to be rebuilt from the last position's output.
func genCompression(c MADConfig, r *rand.Rand, in, tg []int32) {
	L := len(in)
	for p := range L - 1 {
		in[p] = int32(r.IntN(c.Vocab - 1))
		tg[p] = in[p]
	}
	in[L-1] = int32(c.Vocab - 1)
}

// genMemorization writes one memorization sequence: random keys, each
// followed by its value under the task's fixed map; every value is a
// target at its key's position.
func genMemorization(c MADConfig, r *rand.Rand, kv, in, tg []int32) {
	for p := 0; p+1 < len(in); p += 2 {
		k := int32(r.IntN(len(kv)))
		in[p], in[p+1] = k, kv[k]
		tg[p] = kv[k]
	}
}

// Config returns the task's configuration, defaults applied.
func (m *MAD) Config() MADConfig { return m.cfg }

// Name implements Task: "mad:<task>".
func (m *MAD) Name() string { return "mad:" + m.cfg.Task }

// Vocab implements Task: the model vocabulary (noise tokens included).
func (m *MAD) Vocab() int { return m.vocab }

// SeqLen implements Task: Length.
func (m *MAD) SeqLen() int { return m.cfg.Length }

// Metric implements Task: Accuracy.
func (m *MAD) Metric() Metric { return Accuracy }

// Reconstruct implements Task: true for compression.
func (m *MAD) Reconstruct() bool { return m.cfg.Task == Compression }

// NumTrain returns the number of training examples.
func (m *MAD) NumTrain() int { return m.cfg.TrainExamples }

// NumTest returns the number of test examples.
func (m *MAD) NumTest() int { return m.cfg.TestExamples }

// TrainExample returns the inputs and targets of training example i.
func (m *MAD) TrainExample(i int) (inputs, targets []int32) {
	L := m.cfg.Length
	return m.train[i*2*L : i*2*L+L], m.train[i*2*L+L : (i+1)*2*L]
}

// TestExample returns the inputs and targets of test example i.
func (m *MAD) TestExample(i int) (inputs, targets []int32) {
	L := m.cfg.Length
	return m.test[i*2*L : i*2*L+L], m.test[i*2*L+L : (i+1)*2*L]
}

// TrainBatch implements Task. Rows are read in epochs: epoch e visits the
// training set in an order drawn from (seed, e), and step s takes rows
// s*size .. s*size+size-1 of the concatenated epochs.
func (m *MAD) TrainBatch(seed uint64, step, size int) Batch {
	L, n := m.cfg.Length, m.cfg.TrainExamples
	b := newBatch(size, L)
	for r := range size {
		g := step*size + r
		i := m.permuted(seed, g/n)[g%n]
		in, tg := m.TrainExample(i)
		copy(b.Inputs[r*L:], in)
		copy(b.Targets[r*L:], tg)
	}
	return b
}

func (m *MAD) permuted(seed uint64, epoch int) []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.perm == nil || m.permSeed != seed || m.permEp != epoch {
		m.perm = newRand(seed, streamMADShuffle, uint64(epoch)).Perm(m.cfg.TrainExamples)
		m.permSeed, m.permEp = seed, epoch
	}
	return m.perm
}

// EvalBatches implements Task: the test set in order.
func (m *MAD) EvalBatches(size int) []Batch {
	L := m.cfg.Length
	return batchesOf(m.cfg.TestExamples, size, L, func(b Batch, r, i int) {
		in, tg := m.TestExample(i)
		copy(b.Inputs[r*L:], in)
		copy(b.Targets[r*L:], tg)
	})
}
