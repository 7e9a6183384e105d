package model

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"

	"github.com/star-pipeline/star-pipeline/genome"
)

// Incremental decoding (docs/decoding.md): the same layers as Forward, run
// in one of two modes selected by a decoding state.
//
//   - prefill: the full causal forward of a prompt, which also records the
//     cache every LIV needs to continue it (the keys and values, the last
//     k-1 inputs of every short conv, the recurrence state, the long conv's
//     input history);
//   - step: one token per sequence at position pos, reading those caches
//     and returning them updated.
//
// The position is a graph input, so one compiled step graph serves every
// position of a cache capacity. Caches write position pos through a one-hot
// mask (cache*(1-onehot(pos)) + new*onehot(pos)): the CPU backend has no
// dynamic update slice, and the mask leaves every other entry bit-identical.

// decoding is the cache state of one prefill or step graph.
type decoding struct {
	step bool
	// pos is the position of the step's token (scalar int32); nil in a
	// prefill.
	pos *graph.Node
	// capacity is the number of positions the attention caches hold (the
	// long conv history holds capacity-1 inputs); maxLen bounds it and
	// sizes the rotary and filter tables.
	capacity, maxLen int
	// in holds the caches a step reads, out the caches a prefill or step
	// produces, both by name (cacheSpec.name).
	in, out map[string]*graph.Node
	// filters holds each long conv's implicit filter [maxLen, d] by the
	// name of its history cache (step only; computed once per decoder).
	filters map[string]*graph.Node
}

// unitKey names the caches of slot i's unit (one half of a differential
// slot when sub is "a" or "b").
func unitKey(i int, sub string) string {
	if sub == "" {
		return slotName(i)
	}
	return slotName(i) + "/" + sub
}

// cacheKind says how a cache's second axis depends on the capacity.
type cacheKind int

const (
	fixedCache   cacheKind = iota // independent of the position (conv windows, recurrence states)
	positional                    // one entry per position: capacity (attention K/V)
	historyCache                  // the inputs before the current one: capacity-1 (long conv)
)

// cacheSpec is one cache tensor of a decoder.
type cacheSpec struct {
	name string
	kind cacheKind
	dims []int // at the capacity it was listed for
}

// decodeUnit is one LIV unit in decoding order: slot, half and base class.
type decodeUnit struct {
	slot  int
	sub   string
	class int
}

// units lists the units of the model: one per plain slot, two per
// differential slot (halves a and b), in forward order.
func (m *Model) units() []decodeUnit {
	var out []decodeUnit
	for i, s := range m.genome {
		c := genome.MustClass(s.Class)
		if !c.IsDiff() {
			out = append(out, decodeUnit{i, "", s.Class})
			continue
		}
		out = append(out, decodeUnit{i, "a", c.Base().ID}, decodeUnit{i, "b", c.Base().ID})
	}
	return out
}

// cacheSpecs lists every cache the model keeps while decoding batch
// sequences at the given capacity, in a fixed order, following the
// inference cache of docs/architecture.md: K (unless B is reused) and V per
// attention unit plus SA-2's conv windows (q unless C is reused, k unless B
// is reused, v), the state of a recurrence, the k-1 last inputs of GConv-1
// and the capacity-1 last inputs of GConv-2; nothing for GMemless and MoE.
func (m *Model) cacheSpecs(batch, capacity int) []cacheSpec {
	d, hd, k := m.cfg.Width, m.cfg.HeadDim, m.cfg.ShortKernel
	var out []cacheSpec
	add := func(key, name string, kind cacheKind, dims ...int) {
		for _, n := range dims {
			if n == 0 {
				return
			}
		}
		out = append(out, cacheSpec{name: key + "/" + name, kind: kind, dims: append([]int{batch}, dims...)})
	}
	for _, u := range m.units() {
		c := genome.MustClass(u.class)
		w := m.wiring[u.slot]
		ownB, ownC := w.BSource == u.slot, w.CSource == u.slot
		key := unitKey(u.slot, u.sub)
		switch {
		case c.Family == genome.Attention:
			hkv := d / hd / c.KVRepeat
			if ownB {
				add(key, "k", positional, capacity, hkv, hd)
			}
			add(key, "v", positional, capacity, hkv, hd)
			if c.QKVConv {
				if ownC {
					add(key, "q_conv", fixedCache, k-1, d)
				}
				if ownB {
					add(key, "k_conv", fixedCache, k-1, d/c.KVRepeat)
				}
				add(key, "v_conv", fixedCache, k-1, d/c.KVRepeat)
			}
		case c.Family == genome.Recurrence:
			add(key, "state", fixedCache, d/hd, hd, c.StateExpansion)
		case c.Family == genome.Convolution && c.LongConv:
			add(key, "hist", historyCache, capacity-1, d)
		case c.Family == genome.Convolution:
			add(key, "conv", fixedCache, k-1, d)
		}
	}
	return out
}

// longConvUnits lists the GConv-2 units (their filters feed every step).
func (m *Model) longConvUnits() []decodeUnit {
	var out []decodeUnit
	for _, u := range m.units() {
		if c := genome.MustClass(u.class); c.Family == genome.Convolution && c.LongConv {
			out = append(out, u)
		}
	}
	return out
}

// put records a cache the graph produces, in the compute dtype.
func (f *fwd) put(name string, x *graph.Node) { f.dec.out[name] = f.narrow(x) }

// cacheIn returns the cache a step reads.
func (f *fwd) cacheIn(name string) *graph.Node {
	x, ok := f.dec.in[name]
	if !ok {
		panic(fmt.Errorf("decoding: no cache %q", name))
	}
	return x
}

// positionMask returns [n] of dtype dt: 1 at index pos, 0 elsewhere (all 0
// when pos >= n).
func (f *fwd) positionMask(n int, dt dtypes.DType) *graph.Node {
	iota := graph.Iota(f.g, shapes.Make(dtypes.Int32, n), 0)
	return graph.ConvertDType(graph.Equal(iota, graph.BroadcastToDims(f.dec.pos, n)), dt)
}

// writeAt returns cache [B, n, ...] with entry pos along axis 1 replaced by
// x [B, 1, ...]: a masked update, exact for every other entry.
func (f *fwd) writeAt(cache, x *graph.Node) *graph.Node {
	n := cache.Shape().Dimensions[1]
	dims := make([]int, cache.Rank())
	for i := range dims {
		dims[i] = 1
	}
	dims[1] = n
	oh := graph.Reshape(f.positionMask(n, cache.DType()), dims...)
	keep := graph.OneMinus(oh)
	return graph.Add(graph.Mul(cache, keep), graph.Mul(x, oh))
}

// padAxis1 returns x [B, n, ...] zero-padded along axis 1 to length n2.
func padAxis1(x *graph.Node, n2 int) *graph.Node {
	dims := append([]int(nil), x.Shape().Dimensions...)
	n := dims[1]
	if n == n2 {
		return x
	}
	if n > n2 {
		panic(fmt.Errorf("decoding: %d positions do not fit a cache of %d", n, n2))
	}
	dims[1] = n2 - n
	return graph.Concatenate([]*graph.Node{x, graph.Zeros(x.Graph(), shapes.Make(x.DType(), dims...))}, 1)
}

// lastRows returns the last r entries of x [B, n, ...] along axis 1,
// zero-padded in front when n < r (the state of a causal conv that has
// seen n inputs).
func lastRows(x *graph.Node, r int) *graph.Node {
	dims := append([]int(nil), x.Shape().Dimensions...)
	n := dims[1]
	if n >= r {
		return graph.SliceAxis(x, 1, graph.AxisRange(n-r, n))
	}
	dims[1] = r - n
	return graph.Concatenate([]*graph.Node{graph.Zeros(x.Graph(), shapes.Make(x.DType(), dims...)), x}, 1)
}

// seqCache passes x [B, l, ...] (keys or values) through the cache called
// name: a prefill records it padded to the capacity and returns x; a step
// writes it at pos and returns the whole cache [B, capacity, ...].
func (f *fwd) seqCache(name string, x *graph.Node) *graph.Node {
	switch {
	case f.dec == nil:
		return x
	case !f.dec.step:
		f.put(name, padAxis1(x, f.dec.capacity))
		return x
	}
	y := f.writeAt(f.cacheIn(name), f.narrow(x))
	f.put(name, y)
	return y
}

// attentionBias returns the additive mask of the attention scores
// [B, G, Lq, R, Lk]: causal in training and prefill; in a step, masked
// where the cache position exceeds pos (entries not written yet).
func (f *fwd) attentionBias(l int) *graph.Node {
	if f.dec == nil || !f.dec.step {
		return graph.Reshape(causalBias(f, l, maskedLogit), 1, 1, l, 1, l)
	}
	n := f.dec.capacity
	iota := graph.Iota(f.g, shapes.Make(dtypes.Int32, n), 0)
	future := graph.ConvertDType(graph.GreaterThan(iota, graph.BroadcastToDims(f.dec.pos, n)), f.dt)
	return graph.Reshape(graph.MulScalar(future, maskedLogit), 1, 1, 1, 1, n)
}

// rotaryAt returns the rotary tables for positions 0..l-1, or in a step
// for position pos alone, shaped [1, l or 1, 1, hd].
func (f *fwd) rotaryAt(l, hd int) (cos, sin *graph.Node) {
	if f.dec == nil || !f.dec.step {
		return rotaryTables(f, l, hd)
	}
	n := f.dec.maxLen
	cos, sin = rotaryTables(f, n, hd)
	at := graph.Reshape(f.dec.pos, 1, 1)
	row := func(t *graph.Node) *graph.Node {
		return graph.Reshape(graph.Gather(graph.Reshape(t, n, hd), at), 1, 1, 1, hd)
	}
	return row(cos), row(sin)
}

// conv is the causal depthwise conv of x [B, l, C] with kernel [k, C]
// whose k-1 last inputs are the cache called name: a prefill records them,
// a step convolves the cached window with the new input and shifts it.
func (f *fwd) conv(name string, x, kernel *graph.Node) *graph.Node {
	k := kernel.Shape().Dimensions[0]
	if f.dec == nil || !f.dec.step {
		y := f.causalConv(x, kernel)
		if f.dec != nil && k > 1 {
			f.put(name, lastRows(x, k-1))
		}
		return y
	}
	c := kernel.Shape().Dimensions[1]
	window := x // [B, k, C]: inputs at pos-k+1 .. pos
	if k > 1 {
		window = graph.Concatenate([]*graph.Node{f.cacheIn(name), f.narrow(x)}, 1)
		f.put(name, graph.SliceAxis(window, 1, graph.AxisRange(1, k)))
	}
	f.tokenFLOPs += 2 * int64(k) * int64(x.Shape().Size())
	var y *graph.Node
	for j := range k {
		tap := graph.Reshape(graph.Slice(kernel, graph.AxisRange(j, j+1), graph.AxisRange()), 1, 1, c)
		term := graph.Mul(graph.SliceAxis(window, 1, graph.AxisRange(k-1-j, k-j)), tap)
		if y == nil {
			y = term
		} else {
			y = graph.Add(y, term)
		}
	}
	return y
}

// recordState records, in a prefill, the recurrence state after the last
// position: S[b, h, p, n] = sum_j exp(cum_last - cum_j) xdt[b, j, h, p]
// B[b, j, n], from the inclusive running sum cum [b, h, l] of log decays.
func (f *fwd) recordState(name string, cum, xdt, bm *graph.Node) {
	if f.dec == nil || f.dec.step {
		return
	}
	l := cum.Shape().Dimensions[2]
	last := graph.SliceAxis(cum, 2, graph.AxisRange(l-1, l))
	w := graph.Exp(graph.Sub(last, cum))                           // [b, h, l], decay from j to the end
	wt := graph.InsertAxes(graph.TransposeAllAxes(w, 0, 2, 1), -1) // [b, l, h, 1]
	xw := f.narrow(graph.Mul(f.wide(xdt), wt))
	f.put(name, f.einsum("bjhp,bjn->bhpn", xw, bm))
}

// recurrenceStep advances the state [B, H, hd, n] by one token:
// S = exp(a) S + dt u B^T, y = S C, for xu [B, 1, H, hd], bm and cm
// [B, 1, n], dt and the log decay a [B, 1, H]; it returns y [B, 1, d].
func (f *fwd) recurrenceStep(name string, xu, bm, cm, dt, a *graph.Node) *graph.Node {
	dims := xu.Shape().Dimensions
	b, h, hd := dims[0], dims[2], dims[3]
	n := bm.Shape().Dimensions[2]
	s := f.wide(f.cacheIn(name))
	decay := graph.Reshape(graph.Exp(a), b, h, 1, 1)
	xdt := graph.Reshape(graph.Mul(f.wide(xu), graph.Reshape(dt, b, 1, h, 1)), b, h, hd, 1)
	s = graph.Add(graph.Mul(s, decay), graph.Mul(xdt, graph.Reshape(f.wide(bm), b, 1, 1, n)))
	f.put(name, s)
	y := f.einsum("bhpn,bn->bhp", f.narrow(s), graph.Reshape(cm, b, n))
	return graph.Reshape(y, b, 1, h*hd)
}

// recordHistory records, in a prefill, the long conv's inputs z [B, l, d]
// padded to the history capacity.
func (f *fwd) recordHistory(name string, z *graph.Node) {
	if f.dec == nil || f.dec.step {
		return
	}
	f.put(name, padAxis1(z, f.dec.capacity-1))
}

// longConvStep computes y_pos = h_0 z_pos + sum_{s<pos} h_{pos-s} z_s for
// z [B, 1, d] from the history cache [B, capacity-1, d] of earlier inputs
// and the precomputed filter [maxLen, d], and writes z_pos into the history.
func (f *fwd) longConvStep(name string, z *graph.Node) *graph.Node {
	hist := f.cacheIn(name)
	filt := f.dec.filters[name]
	if filt == nil {
		panic(fmt.Errorf("decoding: no filter for %q", name))
	}
	dims := hist.Shape().Dimensions
	b, n, d := dims[0], dims[1], dims[2]
	z = f.narrow(z)
	iota := graph.Iota(f.g, shapes.Make(dtypes.Int32, n), 0)
	pos := graph.BroadcastToDims(f.dec.pos, n)
	lag := graph.Max(graph.Sub(pos, iota), graph.ZerosLike(iota))                                            // pos-s, clamped at 0 for s > pos
	rows := graph.Gather(filt, graph.Reshape(lag, n, 1))                                                     // [n, d]: h_{pos-s}
	rows = graph.Mul(rows, graph.Reshape(graph.ConvertDType(graph.LessThan(iota, pos), rows.DType()), n, 1)) // only s < pos
	h0 := graph.Slice(filt, graph.AxisRange(0, 1), graph.AxisRange())                                        // [1, d]
	f.tokenFLOPs += 2 * int64(b) * int64(n) * int64(d)
	y := graph.Add(graph.Mul(graph.Reshape(z, b, d), h0), graph.Einsum("sd,bsd->bd", rows, hist))
	f.put(name, f.writeAt(hist, z))
	return graph.Reshape(y, b, 1, d)
}
