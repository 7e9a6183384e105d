package model

import (
	"errors"
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	mlmodel "github.com/gomlx/gomlx/ml/model"
)

// DecoderOptions configures NewDecoder. Zero fields take their defaults.
type DecoderOptions struct {
	// Scope is the sub-scope of the store that holds the model's
	// variables ("" for the root; the trainer's stores use "model").
	Scope string
	// Batch is the number of sequences decoded together; default 1.
	Batch int
	// MaxLen is the longest sequence (prompt plus generated tokens) the
	// decoder holds; default the model's context. The caches at MaxLen
	// hold exactly arch.CacheBytes of a model whose context is MaxLen.
	MaxLen int
	// MinCapacity is the smallest capacity of the caches that grow with
	// the position (attention K/V, GConv-2's history); default 16. The
	// capacity doubles, up to MaxLen, whenever a position needs it, and
	// one step graph is compiled per capacity.
	MinCapacity int
}

// Decoder runs a model incrementally: Prefill a prompt with one full
// forward, then Step one token at a time with the caches. It holds the
// caches of one batch of sequences. Not safe for concurrent use.
type Decoder struct {
	m       *Model
	store   *mlmodel.Store
	opts    DecoderOptions
	prefill *mlmodel.Exec
	step    *mlmodel.Exec
	grow    *mlmodel.Exec

	filters  []*tensors.Tensor // GConv-2 filters [MaxLen, d], one per long conv unit
	cache    []*tensors.Tensor // in cacheSpecs order; nil before Prefill
	capacity int               // of cache
	pos      int               // position of the next token
	builds   int               // step graphs built (one per capacity)
}

// NewDecoder returns a decoder of m on the variables of store (trained
// weights: the long convs' filters are computed from them once, here).
func NewDecoder(backend compute.Backend, store *mlmodel.Store, m *Model, opts DecoderOptions) (*Decoder, error) {
	if opts.Batch == 0 {
		opts.Batch = 1
	}
	if opts.MaxLen == 0 {
		opts.MaxLen = m.cfg.Context
	}
	if opts.MinCapacity == 0 {
		opts.MinCapacity = 16
	}
	if opts.Batch < 0 || opts.MaxLen < 2 || opts.MinCapacity < 2 {
		return nil, fmt.Errorf("decoder options: batch %d, max length %d, min capacity %d: need batch >= 1, max length and min capacity >= 2",
			opts.Batch, opts.MaxLen, opts.MinCapacity)
	}
	d := &Decoder{m: m, store: store, opts: opts}
	var err error
	if d.prefill, err = mlmodel.NewExec(backend, store, d.prefillGraph); err != nil {
		return nil, fmt.Errorf("building prefill graph: %w", err)
	}
	if d.step, err = mlmodel.NewExec(backend, store, d.stepGraph); err != nil {
		return nil, fmt.Errorf("building decoding step graph: %w", err)
	}
	d.step.SetMaxCache(-1)
	if d.grow, err = mlmodel.NewExec(backend, store, d.growGraph); err != nil {
		return nil, fmt.Errorf("building cache growth graph: %w", err)
	}
	d.grow.SetMaxCache(-1)
	if len(m.longConvUnits()) > 0 {
		fe, err := mlmodel.NewExec(backend, store, d.filterGraph)
		if err != nil {
			return nil, fmt.Errorf("building filter graph: %w", err)
		}
		defer fe.Finalize()
		if d.filters, err = fe.Call(); err != nil {
			return nil, fmt.Errorf("computing long conv filters: %w", err)
		}
	}
	return d, nil
}

// Close releases the decoder's graphs and tensors.
func (d *Decoder) Close() {
	d.Reset()
	for _, t := range d.filters {
		t.FinalizeAll()
	}
	d.filters = nil
	for _, e := range []*mlmodel.Exec{d.prefill, d.step, d.grow} {
		if e != nil {
			e.Finalize()
		}
	}
}

// Reset drops the caches; the next call must be Prefill.
func (d *Decoder) Reset() {
	for _, t := range d.cache {
		t.FinalizeAll()
	}
	d.cache, d.capacity, d.pos = nil, 0, 0
}

// Pos returns the position of the next token (the tokens seen so far).
func (d *Decoder) Pos() int { return d.pos }

// MaxLen returns the longest sequence the decoder holds.
func (d *Decoder) MaxLen() int { return d.opts.MaxLen }

// Capacity returns the positions the attention caches hold now.
func (d *Decoder) Capacity() int { return d.capacity }

// StepGraphs returns how many step graphs were built: one per capacity
// used, never one per token.
func (d *Decoder) StepGraphs() int { return d.builds }

// CacheBytes returns the bytes the caches hold now (all sequences of the
// batch). At capacity MaxLen it equals arch.CacheBytes at context MaxLen
// and the decoder's dtype, times the batch.
func (d *Decoder) CacheBytes() int64 {
	var n int64
	for _, t := range d.cache {
		n += int64(t.Shape().ByteSize())
	}
	return n
}

// capacityFor returns the capacity that holds position p: the smallest
// MinCapacity*2^i above p, at most MaxLen.
func (d *Decoder) capacityFor(p int) int {
	c := d.opts.MinCapacity
	for c <= p && c < d.opts.MaxLen {
		c *= 2
	}
	return min(c, d.opts.MaxLen)
}

func (d *Decoder) scope(s *mlmodel.Scope) *mlmodel.Scope {
	if d.opts.Scope == "" {
		return s
	}
	return s.In("%s", d.opts.Scope)
}

// Prefill resets the decoder and runs the prompts tokens [Batch][n]
// through the full causal forward, keeping the caches. It returns the
// logits [Batch, n, Vocab] of every prompt position.
func (d *Decoder) Prefill(tokens [][]int32) (*tensors.Tensor, error) {
	if len(tokens) != d.opts.Batch {
		return nil, fmt.Errorf("prefill: %d prompts for a decoder of batch %d", len(tokens), d.opts.Batch)
	}
	n := len(tokens[0])
	for _, t := range tokens {
		if len(t) != n {
			return nil, errors.New("prefill: prompts of different lengths")
		}
	}
	if n == 0 || n >= d.opts.MaxLen {
		return nil, fmt.Errorf("prefill: a prompt of %d tokens; the decoder holds 1 to %d (max length %d)", n, d.opts.MaxLen-1, d.opts.MaxLen)
	}
	if err := d.checkTokens(tokens); err != nil {
		return nil, err
	}
	d.Reset()
	d.capacity = d.capacityFor(n)
	outs, err := d.prefill.Call(tokens)
	if err != nil {
		d.capacity = 0
		return nil, fmt.Errorf("prefill: %w", err)
	}
	d.cache, d.pos = outs[1:], n
	return outs[0], nil
}

// Step feeds one token per sequence (tokens [Batch]) at position Pos()
// and returns the logits [Batch, Vocab] that predict the next one.
func (d *Decoder) Step(tokens []int32) (*tensors.Tensor, error) {
	if d.cache == nil && d.pos == 0 {
		return nil, errors.New("decoding step before a prefill")
	}
	if len(tokens) != d.opts.Batch {
		return nil, fmt.Errorf("decoding step: %d tokens for a decoder of batch %d", len(tokens), d.opts.Batch)
	}
	if d.pos >= d.opts.MaxLen {
		return nil, fmt.Errorf("decoding step: the sequence is at the decoder's max length %d", d.opts.MaxLen)
	}
	in := make([][]int32, len(tokens))
	for i, t := range tokens {
		in[i] = []int32{t}
	}
	if err := d.checkTokens(in); err != nil {
		return nil, err
	}
	for d.needsGrowth() {
		if err := d.growCaches(); err != nil {
			return nil, err
		}
	}
	args := make([]any, 0, 2+len(d.cache)+len(d.filters))
	args = append(args, in, int32(d.pos))
	for _, t := range d.cache {
		args = append(args, t)
	}
	for _, t := range d.filters {
		args = append(args, t)
	}
	outs, err := d.step.Call(args...)
	if err != nil {
		return nil, fmt.Errorf("decoding step at position %d: %w", d.pos, err)
	}
	for _, t := range d.cache {
		t.FinalizeAll()
	}
	d.cache = outs[1:]
	d.pos++
	return outs[0], nil
}

// needsGrowth reports whether the next step needs more capacity: the
// attention caches hold positions 0..capacity-1; a long conv's history
// holds the capacity-1 inputs before the current one, so below MaxLen it
// must also have room to keep the current input for the steps after it.
func (d *Decoder) needsGrowth() bool {
	if d.pos >= d.capacity {
		return true
	}
	if d.pos < d.capacity-1 || d.capacity >= d.opts.MaxLen {
		return false
	}
	for _, s := range d.m.cacheSpecs(d.opts.Batch, d.capacity) {
		if s.kind == historyCache {
			return true
		}
	}
	return false
}

func (d *Decoder) checkTokens(tokens [][]int32) error {
	v := int32(d.m.cfg.Vocab)
	for _, row := range tokens {
		for _, t := range row {
			if t < 0 || t >= v {
				return fmt.Errorf("token %d outside the vocabulary [0, %d)", t, v)
			}
		}
	}
	return nil
}

// growCaches doubles the capacity (up to MaxLen), zero-padding the
// positional caches.
func (d *Decoder) growCaches() error {
	next := d.capacityFor(d.capacity)
	if next <= d.capacity {
		return fmt.Errorf("decoder caches cannot grow past %d positions", d.capacity)
	}
	old := d.capacity
	d.capacity = next
	grows := false
	for _, s := range d.m.cacheSpecs(d.opts.Batch, next) {
		grows = grows || s.kind != fixedCache
	}
	if !grows {
		return nil
	}
	args := make([]any, len(d.cache))
	for i, t := range d.cache {
		args[i] = t
	}
	outs, err := d.grow.Call(args...)
	if err != nil {
		d.capacity = old
		return fmt.Errorf("growing the decoder caches to %d positions: %w", next, err)
	}
	for _, t := range d.cache {
		t.FinalizeAll()
	}
	d.cache = outs
	return nil
}

// cacheOutputs returns the caches dec recorded, in spec order.
func (d *Decoder) cacheOutputs(dec *decoding) []*graph.Node {
	specs := d.m.cacheSpecs(d.opts.Batch, dec.capacity)
	out := make([]*graph.Node, len(specs))
	for i, s := range specs {
		x, ok := dec.out[s.name]
		if !ok {
			panic(fmt.Errorf("decoding: the graph produced no cache %q", s.name))
		}
		if !equalDims(x.Shape().Dimensions, s.dims) {
			panic(fmt.Errorf("decoding: cache %q has shape %s, want %v", s.name, x.Shape(), s.dims))
		}
		out[i] = x
	}
	if len(dec.out) != len(specs) {
		panic(fmt.Errorf("decoding: the graph produced %d caches, the layout lists %d", len(dec.out), len(specs)))
	}
	return out
}

func equalDims(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (d *Decoder) prefillGraph(scope *mlmodel.Scope, inputs []*graph.Node) []*graph.Node {
	dec := &decoding{capacity: d.capacity, maxLen: d.opts.MaxLen, out: map[string]*graph.Node{}}
	logits, _, _ := d.m.forwardWith(d.scope(scope), inputs[0], dec)
	return append([]*graph.Node{logits}, d.cacheOutputs(dec)...)
}

func (d *Decoder) stepGraph(scope *mlmodel.Scope, inputs []*graph.Node) []*graph.Node {
	d.builds++
	specs := d.m.cacheSpecs(d.opts.Batch, d.capacity)
	dec := &decoding{step: true, pos: inputs[1], capacity: d.capacity, maxLen: d.opts.MaxLen,
		in: map[string]*graph.Node{}, out: map[string]*graph.Node{}, filters: map[string]*graph.Node{}}
	rest := inputs[2:]
	for i, s := range specs {
		dec.in[s.name] = rest[i]
	}
	for i, u := range d.m.longConvUnits() {
		dec.filters[unitKey(u.slot, u.sub)+"/hist"] = rest[len(specs)+i]
	}
	logits, _, _ := d.m.forwardWith(d.scope(scope), inputs[0], dec)
	v := d.m.cfg.Vocab
	return append([]*graph.Node{graph.Reshape(logits, d.opts.Batch, v)}, d.cacheOutputs(dec)...)
}

// growGraph zero-pads the positional caches from their capacity to
// d.capacity (set before the call).
func (d *Decoder) growGraph(_ *mlmodel.Scope, inputs []*graph.Node) []*graph.Node {
	specs := d.m.cacheSpecs(d.opts.Batch, d.capacity)
	out := make([]*graph.Node, len(inputs))
	for i, x := range inputs {
		switch specs[i].kind {
		case positional:
			x = padAxis1(x, d.capacity)
		case historyCache:
			x = padAxis1(x, d.capacity-1)
		}
		out[i] = x
	}
	return out
}

// filterGraph computes the implicit filter [MaxLen, d] of every long conv
// unit, in the compute dtype.
func (d *Decoder) filterGraph(scope *mlmodel.Scope, g *graph.Graph) []*graph.Node {
	m := d.m
	s := d.scope(scope)
	f := &fwd{m: m, g: g, store: s.Store(), root: s.Scope(), cfg: m.cfg, dt: m.dtype, ct: m.compute,
		batch: 1, length: d.opts.MaxLen}
	var out []*graph.Node
	for _, lu := range m.longConvUnits() {
		owner := m.wiring[lu.slot].FeatOwner
		u := &unit{f: f, op: f.path(slotName(lu.slot), lu.sub), feat: f.path(slotName(owner), lu.sub)}
		out = append(out, f.narrow(u.implicitFilter()))
	}
	return out
}
