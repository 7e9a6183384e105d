package trainer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	mlmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/model"
)

// Loaded is a model with the weights of a checkpoint, for inference.
type Loaded struct {
	Checkpoint *Checkpoint
	Model      *model.Model
	Store      *mlmodel.Store
}

// LoadModel reads the checkpoint in dir into a new store. Inference runs
// in float32 whatever precision trained it (the weights are float32). The
// error wraps ErrNoCheckpoint when dir holds none.
func LoadModel(dir string) (*Loaded, error) {
	hdr, payload, err := readCheckpoint(dir, true)
	if err != nil {
		return nil, err
	}
	g, err := genome.Parse(hdr.Genome)
	if err != nil {
		return nil, fmt.Errorf("checkpoint in %s: genome: %w", dir, err)
	}
	m, err := model.New(g, hdr.Dims)
	if err != nil {
		return nil, fmt.Errorf("checkpoint in %s: %w", dir, err)
	}
	s := &session{store: mlmodel.NewStore()}
	if err := s.restore(hdr, payload); err != nil {
		return nil, err
	}
	return &Loaded{Checkpoint: hdr, Model: m, Store: s.store}, nil
}

// Text reports whether the model was trained on a text corpus (byte
// tokens), the only kind generate can sample from.
func (l *Loaded) Text() bool { return strings.HasPrefix(l.Checkpoint.Task, "text:") }

// NewDecoder returns a decoder of the loaded weights (opts.Scope is set
// to the trainer's model scope).
func (l *Loaded) NewDecoder(backend compute.Backend, opts model.DecoderOptions) (*model.Decoder, error) {
	opts.Scope = strings.TrimPrefix(modelScope, "/")
	return model.NewDecoder(backend, l.Store, l.Model, opts)
}

// Close releases the weights.
func (l *Loaded) Close() { l.Store.Finalize() }

// DecodeTiming is the measured cost of incremental decoding at one
// context position, batch 1.
type DecodeTiming struct {
	// Position is the context length the timed tokens reach (the last
	// timed step decodes position Position-1 or just before).
	Position int `json:"position"`
	// PrefillTokensPerS is the prefill throughput of the prompt before the
	// timed steps (compilation excluded).
	PrefillTokensPerS float64 `json:"prefill_tokens_per_s"`
	// MsPerToken is the median wall time of one decoding step (robust to
	// other work on a shared machine); MeanMsPerToken is the mean.
	MsPerToken     float64 `json:"ms_per_token"`
	MeanMsPerToken float64 `json:"mean_ms_per_token"`
	// CacheBytes is what the caches held after the timed steps.
	CacheBytes int64 `json:"cache_bytes"`
}

// TimeDecode measures dec (batch 1) at context position: it prefills a
// random prompt so that warm+steps decoding steps end just below position,
// runs warm untimed steps (compiling the step graph) and times steps more.
// The prefill is run twice and the second is timed. position must be at
// most dec.MaxLen() and leave room for the steps.
func TimeDecode(ctx context.Context, dec *model.Decoder, vocab, position, warm, steps int, seed uint64) (DecodeTiming, error) {
	out := DecodeTiming{Position: position}
	// The last step decodes position-2 (or position-1 at MaxLen): below a
	// capacity boundary, so no timed step grows the caches.
	last := position - 2
	if position == dec.MaxLen() {
		last = position - 1
	}
	n := last + 1 - warm - steps
	if n < 1 || position > dec.MaxLen() {
		return out, fmt.Errorf("timing decode at position %d with %d+%d steps: need a prompt of at least 1 token within max length %d",
			position, warm, steps, dec.MaxLen())
	}
	rng := rand.New(rand.NewPCG(seed, uint64(position)))
	prompt := make([]int32, n)
	for i := range prompt {
		prompt[i] = int32(rng.IntN(vocab))
	}
	var elapsed time.Duration
	for range 2 {
		start := time.Now()
		lg, err := dec.Prefill([][]int32{prompt})
		if err != nil {
			return out, err
		}
		elapsed = time.Since(start)
		lg.FinalizeAll()
	}
	out.PrefillTokensPerS = float64(n) / elapsed.Seconds()
	times := make([]float64, 0, steps)
	for i := range warm + steps {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		start := time.Now()
		lg, err := dec.Step([]int32{int32(rng.IntN(vocab))})
		if err != nil {
			return out, err
		}
		lg.FinalizeAll()
		if i >= warm {
			times = append(times, float64(time.Since(start).Microseconds())/1000)
		}
	}
	var sum float64
	for _, t := range times {
		sum += t
	}
	out.MeanMsPerToken = sum / float64(len(times))
	slices.Sort(times)
	out.MsPerToken = times[len(times)/2]
	out.CacheBytes = dec.CacheBytes()
	return out, nil
}

// RandomModel returns g at dims with freshly initialised weights (seeded),
// for timing: the decoding cost does not depend on the weights' values.
func RandomModel(backend compute.Backend, g genome.Genome, dims arch.Config, seed int64) (*Loaded, error) {
	dims = dims.WithDefaults()
	if err := dims.Validate(); err != nil {
		return nil, fmt.Errorf("%w: model dimensions: %w", ErrInvalid, err)
	}
	m, err := model.New(g, dims)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	store, err := model.NewStore(seed)
	if err != nil {
		return nil, err
	}
	e, err := mlmodel.NewExec(backend, store, func(scope *mlmodel.Scope, tokens *graph.Node) *graph.Node {
		logits, _ := m.Forward(scope.In("%s", strings.TrimPrefix(modelScope, "/")), tokens)
		return logits
	})
	if err != nil {
		return nil, fmt.Errorf("building forward graph: %w", err)
	}
	defer e.Finalize()
	outs, err := e.Call([][]int32{make([]int32, min(8, dims.Context))})
	if err != nil {
		return nil, fmt.Errorf("initialising weights: %w", err)
	}
	finalize(outs)
	return &Loaded{Checkpoint: &Checkpoint{Genome: g.String(), Dims: dims}, Model: m, Store: store}, nil
}

// DecodeBench is bench decode's measurement of one architecture.
type DecodeBench struct {
	Genome string `json:"genome"`
	Params int64  `json:"params"`
	Width  int    `json:"width"`
	// MaxLen is the longest context timed; the caches are sized for it.
	MaxLen  int            `json:"max_len"`
	Timings []DecodeTiming `json:"timings"`
	// CacheBytes is what the decoder's caches held at MaxLen (float32);
	// PredictedCacheBytes is arch.CacheBytes at context MaxLen, fp32.
	CacheBytes          int64 `json:"cache_bytes"`
	PredictedCacheBytes int64 `json:"predicted_cache_bytes"`
}

// BenchDecode times incremental decoding of g at batch 1 at each position
// (ascending; the largest is the decoder's max length), with random
// weights at dims (dims.Context is replaced by the largest position).
func BenchDecode(ctx context.Context, backend compute.Backend, g genome.Genome, dims arch.Config, positions []int, warm, steps int, seed uint64) (DecodeBench, error) {
	dims = dims.WithDefaults()
	maxLen := slices.Max(positions)
	dims.Context = maxLen
	dims.DType = arch.FP32
	out := DecodeBench{Genome: g.String(), Width: dims.Width, MaxLen: maxLen}
	pred, err := arch.CacheBytes(g, dims)
	if err != nil {
		return out, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	out.PredictedCacheBytes = pred
	if out.Params, err = arch.Params(g, dims); err != nil {
		return out, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	l, err := RandomModel(backend, g, dims, int64(seed))
	if err != nil {
		return out, err
	}
	defer l.Close()
	dec, err := l.NewDecoder(backend, model.DecoderOptions{MaxLen: maxLen})
	if err != nil {
		return out, err
	}
	defer dec.Close()
	for _, p := range positions {
		t, err := TimeDecode(ctx, dec, dims.Vocab, p, warm, steps, seed)
		if err != nil {
			return out, err
		}
		out.Timings = append(out.Timings, t)
		if p == maxLen {
			out.CacheBytes = t.CacheBytes
		}
	}
	return out, nil
}

// DecodeLatency loads the checkpoint in dir and measures the seconds per
// generated token of cached decoding at batch 1 at the end of the
// checkpoint's context (one cache capacity, so no timed step compiles).
func DecodeLatency(ctx context.Context, dir string, backend compute.Backend) (DecodeTiming, error) {
	l, err := LoadModel(dir)
	if err != nil {
		return DecodeTiming{}, err
	}
	defer l.Close()
	backend, release, err := backendOf(backend)
	if err != nil {
		return DecodeTiming{}, err
	}
	defer release()
	n := l.Checkpoint.Dims.Context
	if n < 4 {
		return DecodeTiming{}, fmt.Errorf("%w: decode latency needs a context of at least 4 tokens, the checkpoint in %s has %d", ErrInvalid, dir, n)
	}
	dec, err := l.NewDecoder(backend, model.DecoderOptions{MaxLen: n, MinCapacity: n})
	if err != nil {
		return DecodeTiming{}, err
	}
	defer dec.Close()
	steps := min(16, n-3)
	return TimeDecode(ctx, dec, l.Checkpoint.Dims.Vocab, n, 1, steps, l.Checkpoint.Recipe.Seed)
}
