package data

import (
	"slices"
	"testing"
)

func newMAD(t *testing.T, cfg MADConfig) *MAD {
	t.Helper()
	if cfg.TrainExamples == 0 {
		cfg.TrainExamples = 64
	}
	if cfg.TestExamples == 0 {
		cfg.TestExamples = 32
	}
	m, err := NewMAD(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// each calls f on every training and test example.
func each(m *MAD, f func(train bool, in, tg []int32)) {
	for i := range m.NumTrain() {
		in, tg := m.TrainExample(i)
		f(true, in, tg)
	}
	for i := range m.NumTest() {
		in, tg := m.TestExample(i)
		f(false, in, tg)
	}
}

func TestMADDefaultsAreTheBaselines(t *testing.T) {
	t.Parallel()
	want := map[string][2]int{ // vocab, length
		InContextRecall: {16, 128}, NoisyRecall: {16, 128}, FuzzyRecall: {16, 128},
		SelectiveCopying: {16, 256}, Compression: {16, 32}, Memorization: {256, 32},
	}
	for _, name := range MADTasks {
		c, err := MADDefaults(name)
		if err != nil {
			t.Fatal(err)
		}
		if w := want[name]; c.Vocab != w[0] || c.Length != w[1] || c.TrainExamples != 12800 || c.TestExamples != 1280 {
			t.Errorf("%s defaults = %+v", name, c)
		}
	}
	c, _ := MADDefaults("noisy_recall")
	if c.Noise != 0.2 || c.NoiseVocab != 16 {
		t.Errorf("noisy recall defaults = %+v", c)
	}
	if _, err := MADDefaults("sorting"); err == nil {
		t.Error("unknown task accepted")
	}
}

func TestMADRejectsBadKnobs(t *testing.T) {
	t.Parallel()
	for _, c := range []MADConfig{
		{Task: InContextRecall, Length: 33},
		{Task: InContextRecall, Keys: 9},
		{Task: InContextRecall, Vocab: 2},
		{Task: NoisyRecall, Noise: 1.5},
		{Task: FuzzyRecall, Length: 8},
		{Task: SelectiveCopying, Length: 20, Tokens: 10},
		{Task: Memorization, TrainExamples: -1},
	} {
		if _, err := NewMAD(c); err == nil {
			t.Errorf("NewMAD(%+v) accepted", c)
		}
	}
}

// TestInContextRecallStructure checks every sequence: pairs at even positions (no
// noise), keys and values from their halves, one value per key, the probe
// at the end with a key seen before, and targets only at repeated keys.
func TestInContextRecallStructure(t *testing.T) {
	t.Parallel()
	m := newMAD(t, MADConfig{Task: InContextRecall, Length: 64})
	if m.Vocab() != 16 || m.SeqLen() != 64 || m.Metric() != Accuracy || m.Reconstruct() {
		t.Fatalf("vocab %d len %d metric %v", m.Vocab(), m.SeqLen(), m.Metric())
	}
	each(m, func(train bool, in, tg []int32) {
		L := len(in)
		val := map[int32]int32{}
		for p := 0; p < L; p += 2 {
			k, v := in[p], in[p+1]
			if k < 0 || k >= 8 || v < 8 || v >= 16 {
				t.Fatalf("pair (%d,%d) at %d outside the key/value halves", k, v, p)
			}
			old, seen := val[k]
			if seen && old != v {
				t.Fatalf("key %d maps to %d and %d", k, old, v)
			}
			switch {
			case p == L-2:
				if !seen || tg[p] != v {
					t.Fatalf("probe key %d seen=%v target %d value %d", k, seen, tg[p], v)
				}
			case train && seen:
				if tg[p] != v {
					t.Fatalf("repeated key at %d: target %d, want %d", p, tg[p], v)
				}
			default:
				if tg[p] != Ignore {
					t.Fatalf("target %d at unscored key position %d (train=%v seen=%v)", tg[p], p, train, seen)
				}
			}
			if tg[p+1] != Ignore {
				t.Fatalf("target at value position %d", p+1)
			}
			val[k] = v
		}
	})
	probeOnly := newMAD(t, MADConfig{Task: InContextRecall, Length: 64, ProbeOnly: true})
	each(probeOnly, func(_ bool, in, tg []int32) {
		if n := (Batch{Targets: tg}).Scored(); n != 1 {
			t.Fatalf("ProbeOnly: %d scored positions", n)
		}
	})
}

func TestNoisyRecallStructure(t *testing.T) {
	t.Parallel()
	m := newMAD(t, MADConfig{Task: NoisyRecall, Length: 64})
	if m.Vocab() != 32 {
		t.Fatalf("vocab %d, want 16 + 16 noise tokens", m.Vocab())
	}
	noise, total := 0, 0
	each(m, func(train bool, in, tg []int32) {
		L := len(in)
		val := map[int32]int32{}
		for p := 0; p < L; {
			total++
			if in[p] >= 16 {
				noise++
				if tg[p] != Ignore {
					t.Fatalf("target at noise position %d", p)
				}
				p++
				continue
			}
			k, v := in[p], in[p+1]
			if k >= 8 || v < 8 || v >= 16 {
				t.Fatalf("pair (%d,%d) at %d outside the key/value halves", k, v, p)
			}
			if old, seen := val[k]; seen && old != v {
				t.Fatalf("key %d maps to %d and %d", k, old, v)
			}
			if p == L-2 {
				if _, seen := val[k]; !seen || tg[p] != v {
					t.Fatalf("bad probe")
				}
			}
			val[k] = v
			p += 2
		}
	})
	if frac := float64(noise) / float64(total); frac < 0.1 || frac > 0.4 {
		t.Fatalf("noise fraction %.2f of items, want about 0.2", frac)
	}
}

func TestFuzzyRecallStructure(t *testing.T) {
	t.Parallel()
	m := newMAD(t, MADConfig{Task: FuzzyRecall})
	const pad, nk = 15, 7
	each(m, func(train bool, in, tg []int32) {
		p := 0
		for p < len(in) && in[p] == pad {
			p++
		}
		// Split into alternating runs of key tokens and value tokens.
		type run struct {
			start int
			toks  []int32
		}
		var runs []run
		for q := p; q < len(in); q++ {
			if in[q] == pad {
				t.Fatalf("padding at %d after content", q)
			}
			isKey := in[q] < nk
			if len(runs) == 0 || (runs[len(runs)-1].toks[0] < nk) != isKey {
				runs = append(runs, run{start: q})
			}
			runs[len(runs)-1].toks = append(runs[len(runs)-1].toks, in[q])
		}
		if len(runs)%2 != 0 || runs[0].toks[0] >= nk {
			t.Fatalf("runs do not alternate key, value: %v", in)
		}
		vals := map[string][]int32{}
		for i := 0; i < len(runs); i += 2 {
			k, v := runs[i], runs[i+1]
			if len(k.toks) > 3 || len(v.toks) > 3 {
				t.Fatalf("tuple longer than 3")
			}
			old, seen := vals[string(rune32s(k.toks))]
			if seen && !slices.Equal(old, v.toks) {
				t.Fatalf("key %v maps to %v and %v", k.toks, old, v.toks)
			}
			probe := i == len(runs)-2
			if probe && !seen {
				t.Fatalf("probe key %v not seen before", k.toks)
			}
			scored := probe || (train && seen)
			for j, tok := range v.toks {
				want := int32(Ignore)
				if scored {
					want = tok
				}
				if got := tg[v.start+j-1]; got != want {
					t.Fatalf("target before value token %d of pair %d = %d, want %d", j, i/2, got, want)
				}
			}
			vals[string(rune32s(k.toks))] = v.toks
		}
	})
}

func rune32s(v []int32) []rune {
	r := make([]rune, len(v))
	for i, x := range v {
		r[i] = rune(x)
	}
	return r
}

func TestSelectiveCopyingStructure(t *testing.T) {
	t.Parallel()
	m := newMAD(t, MADConfig{Task: SelectiveCopying})
	const blank, cp, n, L = 14, 15, 16, 256
	each(m, func(_ bool, in, tg []int32) {
		region := L - n - 1
		var content []int32
		for p := range region {
			if in[p] != blank {
				content = append(content, in[p])
			}
			if tg[p] != Ignore {
				t.Fatalf("target in the region at %d", p)
			}
		}
		if len(content) != n || in[region] != cp {
			t.Fatalf("%d content tokens, copy token %d", len(content), in[region])
		}
		if !slices.Equal(in[region+1:], content) || !slices.Equal(tg[region:L-1], content) || tg[L-1] != Ignore {
			t.Fatalf("copy part %v targets %v, content %v", in[region+1:], tg[region:], content)
		}
	})
}

func TestCompressionStructure(t *testing.T) {
	t.Parallel()
	m := newMAD(t, MADConfig{Task: Compression})
	if !m.Reconstruct() {
		t.Fatal("compression must be reconstructed from the last position")
	}
	each(m, func(_ bool, in, tg []int32) {
		L := len(in)
		if in[L-1] != 15 || tg[L-1] != Ignore || !slices.Equal(in[:L-1], tg[:L-1]) || slices.Contains(in[:L-1], 15) {
			t.Fatalf("inputs %v targets %v", in, tg)
		}
	})
}

func TestMemorizationUsesOneMapEverywhere(t *testing.T) {
	t.Parallel()
	m := newMAD(t, MADConfig{Task: Memorization})
	kv := map[int32]int32{}
	each(m, func(_ bool, in, tg []int32) {
		for p := 0; p < len(in); p += 2 {
			k, v := in[p], in[p+1]
			if k >= 128 || v < 128 || v >= 256 || tg[p] != v || tg[p+1] != Ignore {
				t.Fatalf("pair (%d,%d) target %d", k, v, tg[p])
			}
			if old, ok := kv[k]; ok && old != v {
				t.Fatalf("key %d maps to %d and %d", k, old, v)
			}
			kv[k] = v
		}
	})
	other := newMAD(t, MADConfig{Task: Memorization, Seed: 1})
	in, _ := other.TrainExample(0)
	differ := 0
	for p := 0; p < len(in); p += 2 {
		if v, ok := kv[in[p]]; ok && v != in[p+1] {
			differ++
		}
	}
	if differ == 0 {
		t.Fatal("seeds 0 and 1 share their key-value map")
	}
}

func TestMADIsDeterministic(t *testing.T) {
	t.Parallel()
	for _, name := range MADTasks {
		a := newMAD(t, MADConfig{Task: name, Seed: 3})
		b := newMAD(t, MADConfig{Task: name, Seed: 3})
		c := newMAD(t, MADConfig{Task: name, Seed: 4})
		if !slices.Equal(a.train, b.train) || !slices.Equal(a.test, b.test) {
			t.Fatalf("%s: same seed, different sets", name)
		}
		if slices.Equal(a.train, c.train) {
			t.Fatalf("%s: seeds 3 and 4 gave the same training set", name)
		}
		if slices.Equal(a.train[:a.SeqLen()], a.test[:a.SeqLen()]) {
			t.Fatalf("%s: first training and test example are equal", name)
		}
	}
}

func TestMADTrainBatchesVisitEveryExamplePerEpoch(t *testing.T) {
	t.Parallel()
	m := newMAD(t, MADConfig{Task: InContextRecall, Length: 16, TrainExamples: 40, TestExamples: 10})
	L := m.SeqLen()
	seen := map[string]int{}
	for step := range 5 { // 5 steps of 8 rows = one epoch of 40
		b := m.TrainBatch(9, step, 8)
		again := m.TrainBatch(9, step, 8)
		if !slices.Equal(b.Inputs, again.Inputs) || !slices.Equal(b.Targets, again.Targets) {
			t.Fatal("TrainBatch is not a pure function of (seed, step)")
		}
		for r := range 8 {
			seen[string(rune32s(b.Inputs[r*L:(r+1)*L]))]++
		}
	}
	for i := range m.NumTrain() {
		in, _ := m.TrainExample(i)
		if seen[string(rune32s(in))] != 1 {
			t.Fatalf("example %d seen %d times in one epoch", i, seen[string(rune32s(in))])
		}
	}
	if slices.Equal(m.TrainBatch(9, 5, 8).Inputs, m.TrainBatch(9, 0, 8).Inputs) {
		t.Fatal("epoch 2 repeats the order of epoch 1")
	}
	ev := m.EvalBatches(4)
	if len(ev) != 3 || ev[2].Scored() != 2 {
		t.Fatalf("10 test examples in batches of 4: %d batches, last scores %d", len(ev), ev[2].Scored())
	}
}
