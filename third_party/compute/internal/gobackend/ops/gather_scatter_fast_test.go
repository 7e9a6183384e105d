package ops

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapeinference"
	"github.com/gomlx/compute/shapes"
)

// slabTestParallelisms are the worker settings the fast paths are checked
// at: none, one, two, four and unlimited.
var slabTestParallelisms = []int{0, 1, 2, 4, -1}

func newSlabTestBackend(t testing.TB, parallelism int) *gobackend.Backend {
	t.Helper()
	b, err := gobackend.New("")
	if err != nil {
		t.Fatalf("creating backend: %+v", err)
	}
	backend := b.(*gobackend.Backend)
	backend.Workers.SetMaxParallelism(parallelism)
	t.Cleanup(backend.Finalize)
	return backend
}

func slabTestBuffer(t testing.TB, backend *gobackend.Backend, shape shapes.Shape, flat any) *gobackend.Buffer {
	t.Helper()
	buf, err := backend.BufferFromFlatData(0, flat, shape)
	if err != nil {
		t.Fatalf("creating buffer %s: %+v", shape, err)
	}
	return buf.(*gobackend.Buffer)
}

// randomFlat returns n random values of dtype.
func randomFlat(rng *rand.Rand, dtype dtypes.DType, n int) any {
	switch dtype {
	case dtypes.Float32:
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	case dtypes.Float64:
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		return v
	case dtypes.Int32:
		v := make([]int32, n)
		for i := range v {
			v[i] = rng.Int32N(1000) - 500
		}
		return v
	case dtypes.Int64:
		v := make([]int64, n)
		for i := range v {
			v[i] = rng.Int64N(1000) - 500
		}
		return v
	case dtypes.Int16:
		v := make([]int16, n)
		for i := range v {
			v[i] = int16(rng.IntN(1 << 16))
		}
		return v
	case dtypes.Uint8:
		v := make([]uint8, n)
		for i := range v {
			v[i] = uint8(rng.IntN(256))
		}
		return v
	}
	panic(fmt.Sprintf("randomFlat: dtype %s not handled", dtype))
}

// randomIndices returns n indices of dtype (int32 or int64), each in
// [lo, hi].
func randomIndices(rng *rand.Rand, dtype dtypes.DType, n, lo, hi int) any {
	if dtype == dtypes.Int64 {
		v := make([]int64, n)
		for i := range v {
			v[i] = int64(lo + rng.IntN(hi-lo+1))
		}
		return v
	}
	v := make([]int32, n)
	for i := range v {
		v[i] = int32(lo + rng.IntN(hi-lo+1))
	}
	return v
}

func bufferBytes(t *testing.T, buf *gobackend.Buffer) []byte {
	t.Helper()
	b, err := buf.MutableBytes()
	if err != nil {
		t.Fatalf("reading buffer bytes: %+v", err)
	}
	return slices.Clone(b)
}

// gatherCase is a Gather's operand, indices and parameters.
type gatherCase struct {
	operand, indices shapes.Shape
	params           gatherNode
}

func (c gatherCase) String() string {
	p := c.params
	return fmt.Sprintf("Gather(%s, %s, indexVectorAxis=%d, offsetOutputAxes=%v, collapsed=%v, startIndexMap=%v, sliceSizes=%v)",
		c.operand, c.indices, p.indexVectorAxis, p.offsetOutputAxes, p.collapsedSlicesAxes, p.startIndexMap, p.sliceSizes)
}

// blockGatherCase is the form of graph.Gather in model/longconv.go: whole
// trailing slabs picked by the leading axis, indices [batch..., 1].
func blockGatherCase(dtype dtypes.DType, operandDims, batchDims []int) gatherCase {
	indexDims := append(slices.Clone(batchDims), 1)
	sizes := slices.Clone(operandDims)
	sizes[0] = 1
	var offsets []int
	for i := 1; i < len(operandDims); i++ {
		offsets = append(offsets, len(batchDims)+i-1)
	}
	return gatherCase{
		operand: shapes.Make(dtype, operandDims...),
		indices: shapes.Make(dtypes.Int32, indexDims...),
		params: gatherNode{
			indexVectorAxis:     len(batchDims),
			offsetOutputAxes:    offsets,
			collapsedSlicesAxes: []int{0},
			startIndexMap:       []int{0},
			sliceSizes:          sizes,
		},
	}
}

// randomGatherCase draws a gather over k leading operand axes whose slab
// may or may not be contiguous in the operand and in the output, so both
// the fast path and the fallback are exercised.
func randomGatherCase(rng *rand.Rand, dtype dtypes.DType, indexDType dtypes.DType) (gatherCase, bool) {
	rank := 1 + rng.IntN(4)
	dims := make([]int, rank)
	for i := range dims {
		dims[i] = 1 + rng.IntN(5)
	}
	k := 1 + rng.IntN(rank)
	startIndexMap := rng.Perm(rank)[:k]
	if rng.IntN(2) == 0 {
		startIndexMap = make([]int, k)
		for i := range startIndexMap {
			startIndexMap[i] = i
		}
	}
	sizes := make([]int, rank)
	for axis := range rank {
		switch {
		case slices.Contains(startIndexMap, axis) && rng.IntN(3) > 0:
			sizes[axis] = 1
		case rng.IntN(4) == 0:
			sizes[axis] = 1 + rng.IntN(dims[axis])
		default:
			sizes[axis] = dims[axis]
		}
	}
	var collapsed []int
	for axis := range rank {
		if sizes[axis] == 1 && rng.IntN(3) > 0 {
			collapsed = append(collapsed, axis)
		}
	}
	numBatch := 1 + rng.IntN(3)
	indexVectorAxis := rng.IntN(numBatch + 1)
	indexDims := make([]int, 0, numBatch+1)
	for i := range numBatch + 1 {
		if i == indexVectorAxis {
			indexDims = append(indexDims, k)
		} else {
			indexDims = append(indexDims, 1+rng.IntN(4))
		}
	}
	numOffset := rank - len(collapsed)
	outRank := numBatch + numOffset
	var offsets []int
	if rng.IntN(3) > 0 {
		for i := range numOffset {
			offsets = append(offsets, outRank-numOffset+i)
		}
	} else {
		offsets = rng.Perm(outRank)[:numOffset]
		slices.Sort(offsets)
	}
	c := gatherCase{
		operand: shapes.Make(dtype, dims...),
		indices: shapes.Make(indexDType, indexDims...),
		params: gatherNode{
			indexVectorAxis:     indexVectorAxis,
			offsetOutputAxes:    offsets,
			collapsedSlicesAxes: collapsed,
			startIndexMap:       startIndexMap,
			sliceSizes:          sizes,
		},
	}
	_, err := shapeinference.Gather(c.operand, c.indices, indexVectorAxis, offsets, collapsed, startIndexMap, sizes, false)
	return c, err == nil
}

// checkGather runs c with random operand values and indices in
// [lo, hi] (out-of-range included) through the generic executor and the
// fast one and requires identical bytes. It reports whether the fast path
// took the case.
func checkGather(t *testing.T, rng *rand.Rand, backend *gobackend.Backend, c gatherCase, lo, hi int) bool {
	t.Helper()
	outShape, err := shapeinference.Gather(c.operand, c.indices, c.params.indexVectorAxis, c.params.offsetOutputAxes,
		c.params.collapsedSlicesAxes, c.params.startIndexMap, c.params.sliceSizes, false)
	if err != nil {
		t.Fatalf("%s: %+v", c, err)
	}
	operand := slabTestBuffer(t, backend, c.operand, randomFlat(rng, c.operand.DType, c.operand.Size()))
	indices := slabTestBuffer(t, backend, c.indices, randomIndices(rng, c.indices.DType, c.indices.Size(), lo, hi))
	params := c.params
	node := &gobackend.Node{OpType: compute.OpTypeGather, Shape: outShape, Data: &params}
	want, err := execGather(backend, node, []*gobackend.Buffer{operand, indices}, []bool{false, false})
	if err != nil {
		t.Fatalf("%s: generic executor: %+v", c, err)
	}
	got, err := execGatherFast(backend, node, []*gobackend.Buffer{operand, indices}, []bool{false, false})
	if err != nil {
		t.Fatalf("%s: fast executor: %+v", c, err)
	}
	if !bytes.Equal(bufferBytes(t, got), bufferBytes(t, want)) {
		t.Fatalf("%s with indices %v: fast executor differs from the generic one", c, indices.Flat)
	}
	_, fast := gatherSlabBytes(c.operand, c.indices, outShape, &params)
	return fast
}

func TestGatherFastMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	t.Run("longconv", func(t *testing.T) {
		for _, p := range slabTestParallelisms {
			backend := newSlabTestBackend(t, p)
			for _, c := range []gatherCase{
				blockGatherCase(dtypes.Float32, []int{65, 8, 64}, []int{4, 4, 16}), // 1 MiB out: parallel
				blockGatherCase(dtypes.Float32, []int{33, 64}, []int{4, 8, 8}),
				blockGatherCase(dtypes.Float64, []int{9, 3, 5}, []int{2, 3}),
			} {
				// Indices include -2 and dim+2: clamped.
				if !checkGather(t, rng, backend, c, -2, c.operand.Dimensions[0]+2) {
					t.Fatalf("%s: fast path not taken", c)
				}
			}
		}
	})
	t.Run("random", func(t *testing.T) {
		backend := newSlabTestBackend(t, -1)
		dtypesToTry := []dtypes.DType{dtypes.Float32, dtypes.Float64, dtypes.Int16, dtypes.Uint8}
		var fast, generic int
		for trial := 0; (fast < 100 || generic < 20) && trial < 5000; trial++ {
			indexDType := dtypes.Int32
			if trial%3 == 0 {
				indexDType = dtypes.Int64
			}
			c, ok := randomGatherCase(rng, dtypesToTry[trial%len(dtypesToTry)], indexDType)
			if !ok {
				continue
			}
			if checkGather(t, rng, backend, c, -3, 8) {
				fast++
			} else {
				generic++
			}
		}
		if fast < 100 || generic < 20 {
			t.Fatalf("random cases: %d took the fast path, %d the generic one: the draw does not exercise both", fast, generic)
		}
	})
}

// scatterCase is a ScatterSum's operand, indices, updates and parameters.
type scatterCase struct {
	operand, indices, updates shapes.Shape
	params                    scatterNode
}

func (c scatterCase) String() string {
	p := c.params
	return fmt.Sprintf("ScatterSum(%s, %s, %s, indexVectorAxis=%d, updateWindowAxes=%v, inserted=%v, scatterAxes=%v)",
		c.operand, c.indices, c.updates, p.indexVectorAxis, p.updateWindowAxes, p.insertedWindowAxes, p.scatterAxesToOperandAxes)
}

// blockScatterCase is the gradient of blockGatherCase: slabs added back
// into the rows the leading axis picks.
func blockScatterCase(dtype dtypes.DType, operandDims, batchDims []int) scatterCase {
	indexDims := append(slices.Clone(batchDims), 1)
	updateDims := append(slices.Clone(batchDims), operandDims[1:]...)
	var window []int
	for i := 1; i < len(operandDims); i++ {
		window = append(window, len(batchDims)+i-1)
	}
	return scatterCase{
		operand: shapes.Make(dtype, operandDims...),
		indices: shapes.Make(dtypes.Int32, indexDims...),
		updates: shapes.Make(dtype, updateDims...),
		params: scatterNode{
			indexVectorAxis:          len(batchDims),
			updateWindowAxes:         window,
			insertedWindowAxes:       []int{0},
			scatterAxesToOperandAxes: []int{0},
		},
	}
}

// randomScatterCase draws a scatter over k operand axes with windows that
// may or may not be contiguous, placed anywhere among the updates' axes.
func randomScatterCase(rng *rand.Rand, dtype, indexDType dtypes.DType) (scatterCase, bool) {
	rank := 1 + rng.IntN(4)
	dims := make([]int, rank)
	for i := range dims {
		dims[i] = 1 + rng.IntN(5)
	}
	k := 1 + rng.IntN(rank)
	scatterAxes := rng.Perm(rank)[:k]
	if rng.IntN(2) == 0 {
		scatterAxes = make([]int, k)
		for i := range scatterAxes {
			scatterAxes[i] = i
		}
	}
	var inserted []int
	for _, axis := range scatterAxes {
		if rng.IntN(4) > 0 {
			inserted = append(inserted, axis)
		}
	}
	slices.Sort(inserted)
	var windowDims []int
	for axis := range rank {
		if slices.Contains(inserted, axis) {
			continue
		}
		w := dims[axis]
		if rng.IntN(4) == 0 {
			w = 1 + rng.IntN(dims[axis])
		}
		windowDims = append(windowDims, w)
	}
	numBatch := 1 + rng.IntN(3)
	indexVectorAxis := rng.IntN(numBatch + 1)
	indexDims := make([]int, 0, numBatch+1)
	var batchDims []int
	for i := range numBatch + 1 {
		if i == indexVectorAxis {
			indexDims = append(indexDims, k)
		} else {
			d := 1 + rng.IntN(4)
			indexDims = append(indexDims, d)
			batchDims = append(batchDims, d)
		}
	}
	updRank := numBatch + len(windowDims)
	var window []int
	if rng.IntN(3) > 0 {
		for i := range windowDims {
			window = append(window, updRank-len(windowDims)+i)
		}
	} else {
		window = rng.Perm(updRank)[:len(windowDims)]
		slices.Sort(window)
	}
	updDims := make([]int, updRank)
	wi, bi := 0, 0
	for axis := range updRank {
		if slices.Contains(window, axis) {
			updDims[axis] = windowDims[wi]
			wi++
		} else {
			updDims[axis] = batchDims[bi]
			bi++
		}
	}
	c := scatterCase{
		operand: shapes.Make(dtype, dims...),
		indices: shapes.Make(indexDType, indexDims...),
		updates: shapes.Make(dtype, updDims...),
		params: scatterNode{
			indexVectorAxis:          indexVectorAxis,
			updateWindowAxes:         window,
			insertedWindowAxes:       inserted,
			scatterAxesToOperandAxes: scatterAxes,
		},
	}
	_, err := shapeinference.Scatter(c.operand, c.indices, c.updates, indexVectorAxis, window, inserted, scatterAxes)
	return c, err == nil
}

// runScatter runs exec on fresh copies of the inputs and returns the
// output's bytes, or nil and the panic's value if it panicked (the generic
// executor does not check indices; an index far out of range makes it
// panic, and the fast executor must then do the same).
func runScatter(t *testing.T, backend *gobackend.Backend, exec gobackend.NodeExecutor, node *gobackend.Node,
	operand, indices, updates *gobackend.Buffer, owned bool) (out []byte, panicked any) {
	t.Helper()
	op, err := backend.CloneBuffer(operand)
	if err != nil {
		t.Fatalf("cloning operand: %+v", err)
	}
	defer func() { panicked = recover() }()
	res, err := exec(backend, node, []*gobackend.Buffer{op, indices, updates}, []bool{owned, false, false})
	if err != nil {
		t.Fatalf("executor: %+v", err)
	}
	if owned != (res == op) {
		t.Fatalf("owned operand %v, but output reuses it: %v", owned, res == op)
	}
	return bufferBytes(t, res), nil
}

// checkScatter runs c with random values and indices in [lo, hi] through
// the generic and fast executors (operand owned and not) and requires
// identical bytes. It reports whether the fast path took the case.
func checkScatter(t *testing.T, rng *rand.Rand, backend *gobackend.Backend, c scatterCase, lo, hi int) bool {
	t.Helper()
	operand := slabTestBuffer(t, backend, c.operand, randomFlat(rng, c.operand.DType, c.operand.Size()))
	indices := slabTestBuffer(t, backend, c.indices, randomIndices(rng, c.indices.DType, c.indices.Size(), lo, hi))
	updates := slabTestBuffer(t, backend, c.updates, randomFlat(rng, c.updates.DType, c.updates.Size()))
	params := c.params
	node := &gobackend.Node{OpType: compute.OpTypeScatterSum, Shape: c.operand, Data: &params}
	want, wantPanic := runScatter(t, backend, execScatter, node, operand, indices, updates, false)
	for _, owned := range []bool{false, true} {
		got, gotPanic := runScatter(t, backend, execScatterSumFast, node, operand, indices, updates, owned)
		if (wantPanic != nil) != (gotPanic != nil) {
			t.Fatalf("%s with indices %v: generic executor panicked: %v, fast one: %v", c, indices.Flat, wantPanic, gotPanic)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s with indices %v (operand owned %v): fast executor differs from the generic one", c, indices.Flat, owned)
		}
	}
	slabLen, extents, ok := scatterSlabLen(c.operand, c.indices, c.updates, &params)
	if !ok || slabLen == 0 {
		return false
	}
	_, inRange, err := scatterSlabMoves(c.operand, indices, c.updates, &params, extents)
	if err != nil {
		t.Fatalf("%s: %+v", c, err)
	}
	switch c.operand.DType {
	case dtypes.Float32, dtypes.Float64, dtypes.Int32, dtypes.Int64:
		return inRange
	}
	return false
}

func TestScatterSumFastMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	t.Run("longconv", func(t *testing.T) {
		for _, p := range slabTestParallelisms {
			backend := newSlabTestBackend(t, p)
			for _, c := range []scatterCase{
				blockScatterCase(dtypes.Float32, []int{65, 8, 128}, []int{4, 4, 16}), // 2 MiB of updates: parallel
				blockScatterCase(dtypes.Float32, []int{33, 64}, []int{4, 8, 8}),
				blockScatterCase(dtypes.Float64, []int{17, 2, 256}, []int{4, 8}),
				blockScatterCase(dtypes.Int32, []int{9, 3, 5}, []int{2, 3}),
			} {
				// Few distinct rows: many repeated indices.
				if !checkScatter(t, rng, backend, c, 0, min(c.operand.Dimensions[0]-1, 5)) {
					t.Fatalf("%s: fast path not taken", c)
				}
			}
		}
	})
	t.Run("out-of-range", func(t *testing.T) {
		backend := newSlabTestBackend(t, -1)
		// Indices in [-1, 9] on 9 rows: the fast path when all six drawn
		// are in range, else the generic executor (in bounds of the flat
		// operand or panicking), identical either way.
		for range 20 {
			c := blockScatterCase(dtypes.Float32, []int{9, 3, 5}, []int{2, 3})
			checkScatter(t, rng, backend, c, -1, 9)
		}
		// An index one past the end: the generic executor panics, so must
		// the fast one (it leaves the case to the generic executor).
		c := blockScatterCase(dtypes.Float32, []int{9, 3, 5}, []int{1})
		if checkScatter(t, rng, backend, c, 9, 9) {
			t.Fatalf("%s: index 9 of 9 rows taken by the fast path", c)
		}
	})
	t.Run("random", func(t *testing.T) {
		backend := newSlabTestBackend(t, -1)
		dtypesToTry := []dtypes.DType{dtypes.Float32, dtypes.Float64, dtypes.Int32, dtypes.Int64, dtypes.Int16}
		var fast, generic int
		for trial := 0; (fast < 100 || generic < 20) && trial < 5000; trial++ {
			indexDType := dtypes.Int32
			if trial%3 == 0 {
				indexDType = dtypes.Int64
			}
			c, ok := randomScatterCase(rng, dtypesToTry[trial%len(dtypesToTry)], indexDType)
			if !ok {
				continue
			}
			// Indices mostly in range; windows narrower than the operand
			// leave room for several starts.
			if checkScatter(t, rng, backend, c, 0, 2) {
				fast++
			} else {
				generic++
			}
		}
		if fast < 100 || generic < 20 {
			t.Fatalf("random cases: %d took the fast path, %d the generic one: the draw does not exercise both", fast, generic)
		}
	})
}

// The row additions ScatterSum's fast path uses (AVX2 where dispatched)
// against the scalar loop, bit for bit, at every length modulo the vector
// width and at offsets that misalign the rows.
func TestScatterAddRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for n := range 70 {
		for off := range 3 {
			s32 := randomFlat(rng, dtypes.Float32, n+off).([]float32)[off:]
			d32 := randomFlat(rng, dtypes.Float32, n+off).([]float32)[off:]
			if n > 2 {
				s32[1] = float32(math.Inf(1))
			}
			want32 := slices.Clone(d32)
			addRow(want32, s32)
			scatterAddFloat32(d32, s32)
			for i := range d32 {
				if math.Float32bits(d32[i]) != math.Float32bits(want32[i]) {
					t.Fatalf("float32 length %d offset %d: element %d is %v, want %v", n, off, i, d32[i], want32[i])
				}
			}
			s64 := randomFlat(rng, dtypes.Float64, n+off).([]float64)[off:]
			d64 := randomFlat(rng, dtypes.Float64, n+off).([]float64)[off:]
			want64 := slices.Clone(d64)
			addRow(want64, s64)
			scatterAddFloat64(d64, s64)
			for i := range d64 {
				if math.Float64bits(d64[i]) != math.Float64bits(want64[i]) {
					t.Fatalf("float64 length %d offset %d: element %d is %v, want %v", n, off, i, d64[i], want64[i])
				}
			}
		}
	}
}

// BenchmarkGatherScatterSlabs times the generic and fast executors on the
// shapes of model/longconv.go's chunked convolution.
func BenchmarkGatherScatterSlabs(b *testing.B) {
	backend := newSlabTestBackend(b, -1)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, c := range []struct{ operand, batch []int }{
		{[]int{257, 8, 256}, []int{8, 8, 32}},
		{[]int{257, 256}, []int{8, 32, 32}},
		{[]int{256, 256}, []int{8, 256}},
	} {
		g := blockGatherCase(dtypes.Float32, c.operand, c.batch)
		s := blockScatterCase(dtypes.Float32, c.operand, c.batch)
		outShape, err := shapeinference.Gather(g.operand, g.indices, g.params.indexVectorAxis, g.params.offsetOutputAxes,
			g.params.collapsedSlicesAxes, g.params.startIndexMap, g.params.sliceSizes, false)
		if err != nil {
			b.Fatal(err)
		}
		operand := slabTestBuffer(b, backend, g.operand, randomFlat(rng, dtypes.Float32, g.operand.Size()))
		indices := slabTestBuffer(b, backend, g.indices, randomIndices(rng, dtypes.Int32, g.indices.Size(), 0, c.operand[0]-1))
		updates := slabTestBuffer(b, backend, s.updates, randomFlat(rng, dtypes.Float32, s.updates.Size()))
		gNode := &gobackend.Node{OpType: compute.OpTypeGather, Shape: outShape, Data: &g.params}
		sNode := &gobackend.Node{OpType: compute.OpTypeScatterSum, Shape: s.operand, Data: &s.params}
		for _, e := range []struct {
			name string
			exec gobackend.NodeExecutor
			node *gobackend.Node
			in   []*gobackend.Buffer
		}{
			{"Gather/generic", execGather, gNode, []*gobackend.Buffer{operand, indices}},
			{"Gather/fast", execGatherFast, gNode, []*gobackend.Buffer{operand, indices}},
			{"ScatterSum/generic", execScatter, sNode, []*gobackend.Buffer{operand, indices, updates}},
			{"ScatterSum/fast", execScatterSumFast, sNode, []*gobackend.Buffer{operand, indices, updates}},
		} {
			b.Run(fmt.Sprintf("%s/%v", e.name, c.operand), func(b *testing.B) {
				for b.Loop() {
					out, err := e.exec(backend, e.node, slices.Clone(e.in), make([]bool, len(e.in)))
					if err != nil {
						b.Fatal(err)
					}
					backend.PutBuffer(out)
				}
			})
		}
	}
}
