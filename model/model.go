// Package model builds the causal language model a genome stands for, in
// GoMLX: embedding, one pre-norm residual block per LIV slot, final RMSNorm
// and a head tied to the embedding by default. docs/architecture.md fixes
// every weight, shape and name; the variables Forward creates are exactly
// arch.Layout (names, shapes and order), so CountParams equals arch.Params.
//
// Variables live under the scope passed to Forward:
//
//	embed, final_norm, head (untied only)
//	slot_<i>/norm
//	slot_<i>/<weight>            plain classes
//	slot_<i>/a/<weight>, slot_<i>/b/<weight>, slot_<i>/lambda   differential classes
//
// A featurizer weight of slot i is read from slot FeatOwner(i)'s scope
// (get-or-create), so featurizer sharing ties weights; feature-group
// sharing reuses the B or C tensor of an earlier slot in the same pass.
//
// Every op used has a gradient on the pure-Go CPU backend (no FFT, dynamic
// slice, cumsum, Pad or Rsqrt in the forward pass):
//   - causal masks are additive constants (-1e9 on attention scores, -1e30
//     on SSD log decays), so future positions get exactly zero weight;
//   - short depthwise convs (SA-2, GConv-1) are sums of shifted copies
//     (slice + concatenation with zeros) weighted by kernel rows, on the
//     Go backend one depthwise convolution op (kernelops.go);
//   - the SSD running sum of log decays is a matmul with a constant
//     lower-triangular matrix; segment sums are differences of it;
//   - GConv-2's long conv is a matmul with the causal Toeplitz matrices of
//     its filter, gathered from the filter with a constant index, on the
//     Go backend (float32, float64) one depthwise convolution op;
//   - on the Go backend the attention softmax is one fused op with its
//     gradient written out (kernelops.go);
//   - MoE runs every expert densely and weights the top-k (chosen by
//     pairwise comparisons under a stop-gradient, no sort).
//
// Mixed precision (WithComputeDType(dtypes.BFloat16)) changes no variable:
// weights are converted to the compute dtype where they are used, and
// results come back to the variables' dtype where the residual stream,
// normalisation, softmax, decay scan or routing need it (see
// WithComputeDType).
package model

import (
	"errors"
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	mlmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/genome"
)

// Numeric constants of the contract.
const (
	// NormEpsilon is the RMSNorm epsilon.
	NormEpsilon = 1e-6
	// MoEAuxCoefficient multiplies the MoE load-balancing loss.
	MoEAuxCoefficient = 0.01
	// LambdaInit is the initial value of a differential variant's lambda.
	LambdaInit = 0.5
	// RotaryTheta is the rotary embedding base.
	RotaryTheta = 10000.0
)

// Model is the causal LM of one genome at one set of dimensions. It holds no
// variables: Forward creates them in the scope it is given on first use and
// reuses them afterwards.
type Model struct {
	genome  genome.Genome
	cfg     arch.Config
	wiring  []genome.Wiring
	dtype   dtypes.DType
	compute dtypes.DType
}

// Option configures New.
type Option func(*Model)

// WithDType sets the dtype of variables and activations (default Float32).
// Float64 is used by the gradient checks.
func WithDType(dt dtypes.DType) Option { return func(m *Model) { m.dtype = dt } }

// WithComputeDType sets the dtype the tensor work runs in (default: the
// variables' dtype). With dtypes.BFloat16 and float32 variables the model
// trains in mixed precision: the variables (master weights) stay float32,
// each weight is converted where it is used, and the projections,
// attention and recurrence contractions, convolutions, SwiGLU and MoE
// experts run in bfloat16, while the residual stream, RMSNorm, softmax,
// the recurrence's decay scan, the implicit filters, the MoE router and
// its auxiliary loss, and the logits Forward returns stay in the variables'
// dtype. Gradients reach the variables in their own dtype.
func WithComputeDType(dt dtypes.DType) Option { return func(m *Model) { m.compute = dt } }

// New validates g against cfg (after cfg.WithDefaults) and returns its model.
func New(g genome.Genome, cfg arch.Config, opts ...Option) (*Model, error) {
	cfg = cfg.WithDefaults()
	m := &Model{genome: g.Clone(), cfg: cfg, dtype: dtypes.Float32}
	for _, o := range opts {
		o(m)
	}
	if !m.dtype.IsFloat() {
		return nil, fmt.Errorf("model dtype must be a float type, got %s", m.dtype)
	}
	if m.compute == dtypes.InvalidDType {
		m.compute = m.dtype
	}
	if !m.compute.IsFloat() {
		return nil, fmt.Errorf("model compute dtype must be a float type, got %s", m.compute)
	}
	if _, err := arch.Layout(m.genome, cfg); err != nil {
		return nil, fmt.Errorf("validating model: %w", err)
	}
	w, err := wiringOf(m.genome)
	if err != nil {
		return nil, fmt.Errorf("wiring genome %s: %w", m.genome, err)
	}
	m.wiring = w
	return m, nil
}

// Genome returns a copy of the model's genome.
func (m *Model) Genome() genome.Genome { return m.genome.Clone() }

// Config returns the model's dimensions (defaults applied).
func (m *Model) Config() arch.Config { return m.cfg }

// Wiring returns the sharing wiring of every slot.
func (m *Model) Wiring() []genome.Wiring { return append([]genome.Wiring(nil), m.wiring...) }

// DType returns the dtype of the model's variables.
func (m *Model) DType() dtypes.DType { return m.dtype }

// ComputeDType returns the dtype the model's tensor work runs in.
func (m *Model) ComputeDType() dtypes.DType { return m.compute }

// wiringOf returns g.Wiring() after checking that every tie it asks for is
// buildable: featurizers tied only within a class, features reused only from
// an earlier slot that computes them, with the same signature.
func wiringOf(g genome.Genome) ([]genome.Wiring, error) {
	w := g.Wiring()
	var errs []error
	for i, s := range g {
		ci := genome.MustClass(s.Class)
		if o := w[i].FeatOwner; o != i {
			if o < 0 || o > i || g[o].Class != s.Class || w[o].FeatOwner != o {
				errs = append(errs, fmt.Errorf("slot %d (%s) cannot tie featurizers to slot %d", i, ci.Name, o))
			}
		}
		check := func(src int, feature string, self func(genome.Wiring) int) {
			if src == i {
				return
			}
			if src < 0 || src > i || self(w[src]) != src {
				errs = append(errs, fmt.Errorf("slot %d (%s) cannot reuse feature %s of slot %d", i, ci.Name, feature, src))
				return
			}
			cj := genome.MustClass(g[src].Class)
			si, oki := ci.Features[feature]
			sj, okj := cj.Features[feature]
			if !oki || !okj || si != sj {
				errs = append(errs, fmt.Errorf("slot %d (%s) cannot reuse feature %s of slot %d (%s): shapes differ",
					i, ci.Name, feature, src, cj.Name))
			}
		}
		check(w[i].BSource, genome.FeatureB, func(x genome.Wiring) int { return x.BSource })
		check(w[i].CSource, genome.FeatureC, func(x genome.Wiring) int { return x.CSource })
	}
	return w, errors.Join(errs...)
}

// features are the B and C tensors a slot computed (or reused), per half
// for differential classes.
type features struct {
	b, c [2]*graph.Node
}

// Forward builds the model on tokens [batch, L] (int32) and returns logits
// [batch, L, Vocab] in the variables' dtype (whatever the compute dtype) and aux, the scalar auxiliary loss
// (MoE load balancing times MoEAuxCoefficient; 0 without MoE). Variables are
// created under scope on first use and reused afterwards. It panics on
// misuse (GoMLX graph-building convention).
func (m *Model) Forward(scope *mlmodel.Scope, tokens *graph.Node) (logits, aux *graph.Node) {
	logits, aux, _ = m.forward(scope, tokens)
	return logits, aux
}

// forward is Forward that also returns its build state (FLOP counters).
func (m *Model) forward(scope *mlmodel.Scope, tokens *graph.Node) (logits, aux *graph.Node, f *fwd) {
	return m.forwardWith(scope, tokens, nil)
}

// forwardWith is forward with a decoding state: nil for training, else a
// prefill (the full forward that also records every cache) or one decoding
// step (tokens [batch, 1] at dec.pos, reading and writing the caches).
func (m *Model) forwardWith(scope *mlmodel.Scope, tokens *graph.Node, dec *decoding) (logits, aux *graph.Node, f *fwd) {
	g := tokens.Graph()
	if tokens.Rank() != 2 || !tokens.DType().IsInt() {
		panic(fmt.Errorf("model.Forward: tokens must be an integer tensor [batch, L], got %s", tokens.Shape()))
	}
	f = &fwd{m: m, g: g, store: scope.Store(), root: scope.Scope(), cfg: m.cfg, dt: m.dtype, ct: m.compute,
		batch: tokens.Shape().Dimensions[0], length: tokens.Shape().Dimensions[1], dec: dec}
	d, v := m.cfg.Width, m.cfg.Vocab

	embed := f.param(f.path("embed"), initNormal(f.initStd()), v, d)
	idx := graph.InsertAxes(graph.ConvertDType(tokens, dtypes.Int32), -1)
	x := graph.Gather(embed, idx) // [B, L, d]

	aux = graph.ScalarZero(g, f.dt)
	feats := make([]features, len(m.genome))
	for i, s := range m.genome {
		norm := f.param(f.path(slotName(i), "norm"), initOnes, d)
		y, a := f.slot(i, s, f.narrow(rmsNorm(x, norm)), feats)
		x = graph.Add(x, f.wide(y))
		if a != nil {
			aux = graph.Add(aux, a)
		}
	}
	x = rmsNorm(x, f.param(f.path("final_norm"), initOnes, d))
	flat := f.narrow(graph.Reshape(x, f.batch*f.length, d))
	if m.cfg.UntieEmbedding {
		head := f.param(f.path("head"), initNormal(f.initStd()), d, v)
		logits = f.dense(flat, f.narrow(head))
	} else {
		logits = f.einsum("nd,vd->nv", flat, f.narrow(embed))
	}
	return graph.Reshape(f.wide(logits), f.batch, f.length, v), aux, f
}

// fwd carries the state of one Forward call.
type fwd struct {
	m             *Model
	g             *graph.Graph
	store         *mlmodel.Store
	root          string
	cfg           arch.Config
	dt            dtypes.DType // of the variables, the residual stream and the numerically sensitive parts
	ct            dtypes.DType // of the tensor work (compute dtype)
	batch, length int
	// tokenFLOPs and stepFLOPs count the contractions built so far: those
	// that grow with batch*length and those that do not.
	tokenFLOPs, stepFLOPs int64
	// dec is nil for training, else the caches of a prefill or of one
	// decoding step (decode.go).
	dec *decoding
}

func slotName(i int) string { return fmt.Sprintf("slot_%d", i) }

func (f *fwd) path(elems ...string) string {
	return mlmodel.JoinPath(append([]string{f.root}, elems...)...)
}

// param gets or creates the variable at fullPath and returns its value in
// the graph.
func (f *fwd) param(fullPath string, init initFn, dims ...int) *graph.Node {
	shape := shapes.Make(f.dt, dims...)
	v := f.store.GetVariable(fullPath)
	if v == nil {
		store := f.store
		v = store.VariableWithShape(fullPath, shape, func(g *graph.Graph, s shapes.Shape) *graph.Node {
			return init(store, g, s)
		})
	} else if !v.Shape().Equal(shape) {
		panic(fmt.Errorf("variable %q exists with shape %s, want %s", fullPath, v.Shape(), shape))
	}
	return v.NodeValue(f.g)
}

// narrow converts x to the compute dtype (a no-op without mixed
// precision).
func (f *fwd) narrow(x *graph.Node) *graph.Node { return graph.ConvertDType(x, f.ct) }

// wide converts x to the variables' dtype (a no-op without mixed
// precision).
func (f *fwd) wide(x *graph.Node) *graph.Node { return graph.ConvertDType(x, f.dt) }

// InitStd is the standard deviation of the embedding and of projection
// weights at the given width: sqrt(2/(5*width)) ("small init"; 0.079 at
// width 64, 0.023 at 768). A width-blind 0.02 leaves small models in the
// long loss plateaus of near-zero attention logits: SA-1 needed thousands
// of steps to start on in-context recall at width 64, and solves it in
// about 150 with this init.
func InitStd(width int) float64 { return math.Sqrt(2 / (5 * float64(width))) }

func (f *fwd) initStd() float64 { return InitStd(f.cfg.Width) }

// outStd is the init std of output projections: InitStd/sqrt(2*depth).
func (f *fwd) outStd() float64 { return f.initStd() / math.Sqrt(2*float64(len(f.m.genome))) }

// slot builds LIV i on the normalised input xn and returns its output and
// its auxiliary loss (nil when it has none).
func (f *fwd) slot(i int, s genome.Slot, xn *graph.Node, feats []features) (y, aux *graph.Node) {
	c := genome.MustClass(s.Class)
	w := f.m.wiring[i]
	mk := func(half int, sub string) *unit {
		u := &unit{f: f, op: f.path(slotName(i), sub), feat: f.path(slotName(w.FeatOwner), sub), key: unitKey(i, sub)}
		if w.BSource != i {
			u.bIn = feats[w.BSource].b[half]
		}
		if w.CSource != i {
			u.cIn = feats[w.CSource].c[half]
		}
		return u
	}
	if !c.IsDiff() {
		u := mk(0, "")
		y, aux = u.build(c, xn)
		feats[i].b[0], feats[i].c[0] = u.bOut, u.cOut
		return y, aux
	}
	base := c.Base()
	ua, ub := mk(0, "a"), mk(1, "b")
	ya, _ := ua.build(base, xn)
	yb, _ := ub.build(base, xn)
	feats[i].b = [2]*graph.Node{ua.bOut, ub.bOut}
	feats[i].c = [2]*graph.Node{ua.cOut, ub.cOut}
	lambda := f.param(f.path(slotName(i), "lambda"), initConst(LambdaInit), 1)
	// The difference of the halves cancels most of both: it is taken in
	// the variables' dtype.
	return graph.Sub(f.wide(ya), graph.Mul(f.wide(yb), graph.Reshape(lambda, 1, 1, 1))), nil
}

// unit builds one (non-differential) LIV: op weights under op, featurizer
// weights under feat, reused B/C tensors in bIn/cIn; it records the B/C it
// used in bOut/cOut.
type unit struct {
	f          *fwd
	op, feat   string
	key        string // names the unit's caches: slot_<i> or slot_<i>/<half>
	bIn, cIn   *graph.Node
	bOut, cOut *graph.Node
}

// opW and featW return an op or featurizer weight in the compute dtype;
// opWide and featWide in the variables' dtype, for the parts that stay
// there.
func (u *unit) opW(name string, init initFn, dims ...int) *graph.Node {
	return u.f.narrow(u.opWide(name, init, dims...))
}

func (u *unit) featW(name string, init initFn, dims ...int) *graph.Node {
	return u.f.narrow(u.featWide(name, init, dims...))
}

func (u *unit) opWide(name string, init initFn, dims ...int) *graph.Node {
	return u.f.param(mlmodel.JoinPath(u.op, name), init, dims...)
}

func (u *unit) featWide(name string, init initFn, dims ...int) *graph.Node {
	return u.f.param(mlmodel.JoinPath(u.feat, name), init, dims...)
}

func (u *unit) build(c *genome.Class, x *graph.Node) (y, aux *graph.Node) {
	switch c.Family {
	case genome.Attention:
		return u.attention(c, x), nil
	case genome.Recurrence:
		return u.recurrence(c, x), nil
	case genome.Convolution:
		if c.LongConv {
			return u.longConv(x), nil
		}
		return u.shortConv(x), nil
	case genome.Memoryless:
		return u.swiglu(x), nil
	case genome.Mixture:
		return u.moe(x)
	}
	panic(fmt.Errorf("class %s: unsupported family %s", c.Name, c.Family))
}

// CountParams returns the number of scalar parameters in the trainable
// variables under scope (the RNG state and other non-trainable variables are
// not counted).
func CountParams(scope *mlmodel.Scope) int64 {
	var n int64
	for v := range scope.IterVariables() {
		if v.Trainable {
			n += int64(v.Shape().Size())
		}
	}
	return n
}

// NewStore returns an empty GoMLX store whose RNG, and so every initial
// weight Forward creates in it, is seeded with seed.
func NewStore(seed int64) (*mlmodel.Store, error) {
	s := mlmodel.NewStore()
	s.SetParam(mlmodel.ParamInitialSeed, seed)
	if err := s.SetRNGStateFromSeed(seed); err != nil {
		return nil, fmt.Errorf("seeding store: %w", err)
	}
	return s, nil
}
