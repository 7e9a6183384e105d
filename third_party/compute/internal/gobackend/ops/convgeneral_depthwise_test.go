package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
)

// dwCase is a depthwise convolution, channels last: input [n, in..., c],
// kernel [k..., 1, c], paddings per spatial axis.
type dwCase struct {
	n, c     int
	in, k    []int
	paddings [][2]int
}

func (c dwCase) String() string {
	return fmt.Sprintf("n=%d c=%d in=%v kernel=%v paddings=%v", c.n, c.c, c.in, c.k, c.paddings)
}

func (c dwCase) inputShape() shapes.Shape {
	return shapes.Make(dtypes.Float32, append(append([]int{c.n}, c.in...), c.c)...)
}

func (c dwCase) kernelShape() shapes.Shape {
	return shapes.Make(dtypes.Float32, append(slices.Clone(c.k), 1, c.c)...)
}

// dwAxes is the channels-last configuration of k spatial axes the
// fast path takes.
func dwAxes(k int) compute.ConvolveAxesConfig {
	spatial := make([]int, k)
	kernelSpatial := make([]int, k)
	for i := range k {
		spatial[i] = i + 1
		kernelSpatial[i] = i
	}
	return compute.ConvolveAxesConfig{
		InputBatch: 0, InputChannels: k + 1, InputSpatial: spatial,
		KernelInputChannels: k, KernelOutputChannels: k + 1, KernelSpatial: kernelSpatial,
		OutputBatch: 0, OutputChannels: k + 1, OutputSpatial: slices.Clone(spatial),
	}
}

// dwConvNode builds a ConvGeneral node through ConvGeneral (as a graph
// does) on parameters of the given shapes.
func dwConvNode(t testing.TB, backend *gobackend.Backend, input, kernel shapes.Shape, axes compute.ConvolveAxesConfig,
	strides []int, paddings [][2]int, inputDilations, kernelDilations []int, groups int) *gobackend.Node {
	t.Helper()
	f := backend.Builder("dwconv").Main().(*gobackend.Function)
	x, err := f.Parameter("x", input, nil)
	if err != nil {
		t.Fatalf("creating parameter: %+v", err)
	}
	w, err := f.Parameter("w", kernel, nil)
	if err != nil {
		t.Fatalf("creating parameter: %+v", err)
	}
	y, err := ConvGeneral(f, x, w, axes, strides, paddings, inputDilations, kernelDilations, groups, 1)
	if err != nil {
		t.Fatalf("building ConvGeneral(%s, %s): %+v", input, kernel, err)
	}
	return y.(*gobackend.Node)
}

func (c dwCase) node(t testing.TB, backend *gobackend.Backend) *gobackend.Node {
	t.Helper()
	return dwConvNode(t, backend, c.inputShape(), c.kernelShape(), dwAxes(len(c.in)), nil, c.paddings, nil, nil, c.c)
}

// dwRandomValues returns n normal values, a few of them zeros and
// negative zeros.
func dwRandomValues(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		switch rng.IntN(50) {
		case 0:
			v[i] = 0
		case 1:
			v[i] = float32(math.Copysign(0, -1))
		default:
			v[i] = float32(rng.NormFloat64())
		}
	}
	return v
}

// dwReference computes the convolution of case c in float64, and
// for each output the sum of the absolute values of its terms (to scale
// the tolerance).
func dwReference(c dwCase, outShape shapes.Shape, x, w []float32) (ref, mag []float64) {
	k := len(c.in)
	outDims := outShape.Dimensions[1 : k+1]
	outSpatial, kSize := 1, 1
	for d := range k {
		outSpatial *= outDims[d]
		kSize *= c.k[d]
	}
	inSpatial := 1
	for _, d := range c.in {
		inSpatial *= d
	}
	ref = make([]float64, outShape.Size())
	mag = make([]float64, outShape.Size())
	o := make([]int, k)
	q := make([]int, k)
	for n := range c.n {
		for op := range outSpatial {
			rem := op
			for d := k - 1; d >= 0; d-- {
				o[d] = rem % outDims[d]
				rem /= outDims[d]
			}
			for ch := range c.c {
				var sum, abs float64
			kernel:
				for kp := range kSize {
					rem := kp
					for d := k - 1; d >= 0; d-- {
						q[d] = rem % c.k[d]
						rem /= c.k[d]
					}
					ip := 0
					for d := range k {
						i := o[d] + q[d] - c.paddings[d][0]
						if i < 0 || i >= c.in[d] {
							continue kernel
						}
						ip = ip*c.in[d] + i
					}
					term := float64(x[(n*inSpatial+ip)*c.c+ch]) * float64(w[kp*c.c+ch])
					sum += term
					abs += math.Abs(term)
				}
				ref[(n*outSpatial+op)*c.c+ch] = sum
				mag[(n*outSpatial+op)*c.c+ch] = abs
			}
		}
	}
	return ref, mag
}

// dwFusedMultiplyAdd reports whether the compiler fuses a float32
// multiply-add written as c += a*b: (1+2^-12)^2 rounds to 1+2^-11 in
// float32, and only a fused operation leaves the 2^-24 behind.
//
//go:noinline
func dwFusedMultiplyAdd(a, b, c float32) float32 {
	c += a * b
	return c
}

func dwCompilerFuses() bool {
	a := float32(1 + 1.0/4096)
	return dwFusedMultiplyAdd(a, a, -float32(1+1.0/2048)) != 0
}

func dwRunExecutor(t testing.TB, backend *gobackend.Backend, exec gobackend.NodeExecutor, node *gobackend.Node,
	input, kernel shapes.Shape, x, w []float32) []float32 {
	t.Helper()
	inputs := []*gobackend.Buffer{slabTestBuffer(t, backend, input, x), slabTestBuffer(t, backend, kernel, w)}
	out, err := exec(backend, node, inputs, []bool{false, false})
	if err != nil {
		t.Fatalf("executing ConvGeneral: %+v", err)
	}
	if !out.RawShape.Equal(node.Shape) {
		t.Fatalf("output shape %s, want %s", out.RawShape, node.Shape)
	}
	return slices.Clone(out.Flat.([]float32))
}

// dwKernelSets are the kernel sets this build and CPU can run.
func dwKernelSets() []dwconvKernelSet {
	sets := []dwconvKernelSet{dwconvPortable}
	if dwconvAVX2Available() {
		sets = append(sets, dwconvAVX2)
	}
	return sets
}

// dwCheck runs case c through the generic executor, the fast
// executor (with the kernels in use) and the fast path with every kernel
// set at every parallelism of backends, and requires: the generic
// executor's bits (or, where the compiler fuses the generic executor's
// multiply-add, agreement within the tolerance), the same bits from every
// kernel set and parallelism, and agreement with a float64 reference.
func dwCheck(t *testing.T, rng *rand.Rand, backends []*gobackend.Backend, c dwCase) {
	t.Helper()
	input, kernel := c.inputShape(), c.kernelShape()
	node := c.node(t, backends[0])
	plan, ok := planDepthwise(node.Data.(*convNode), input, kernel, node.Shape)
	if !ok {
		t.Fatalf("%s: fast path not taken", c)
	}
	x := dwRandomValues(rng, input.Size())
	w := dwRandomValues(rng, kernel.Size())
	ref, mag := dwReference(c, node.Shape, x, w)
	generic := dwRunExecutor(t, backends[0], execConvGeneral, node, input, kernel, x, w)
	fast := dwRunExecutor(t, backends[0], execConvGeneralDepthwise, node, input, kernel, x, w)
	bitsOfGeneric := !dwCompilerFuses()
	for i := range ref {
		tol := 1e-6*mag[i] + 1e-30
		if d := math.Abs(float64(fast[i]) - ref[i]); d > tol || math.IsNaN(d) {
			t.Fatalf("%s: element %d = %g, float64 reference %g (tolerance %g)", c, i, fast[i], ref[i], tol)
		}
		if bitsOfGeneric && math.Float32bits(fast[i]) != math.Float32bits(generic[i]) {
			t.Fatalf("%s: element %d = %g (%#08x), generic executor gives %g (%#08x)",
				c, i, fast[i], math.Float32bits(fast[i]), generic[i], math.Float32bits(generic[i]))
		}
		if d := math.Abs(float64(generic[i]) - ref[i]); d > tol {
			t.Fatalf("%s: generic executor's element %d = %g, float64 reference %g", c, i, generic[i], ref[i])
		}
	}
	for _, b := range backends {
		for _, set := range dwKernelSets() {
			got := make([]float32, len(fast))
			plan.run(b, x, w, got, set)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(fast[i]) {
					t.Fatalf("%s: %s kernels at parallelism %d: element %d = %g (%#08x), fast executor gave %g (%#08x)",
						c, set.name, b.Workers.MaxParallelism(), i, got[i], math.Float32bits(got[i]), fast[i], math.Float32bits(fast[i]))
				}
			}
		}
	}
}

// dwCases are the forms GConv uses, at small sizes, and the edges.
func dwCases() []dwCase {
	one := func(n, c, in, k, lo, hi int) dwCase {
		return dwCase{n: n, c: c, in: []int{in}, k: []int{k}, paddings: [][2]int{{lo, hi}}}
	}
	return []dwCase{
		// The long causal convolution, its input gradient, and its kernel
		// gradient as a 2-D convolution over (batch, length).
		one(3, 16, 37, 37, 36, 0),
		one(3, 16, 37, 37, 0, 36),
		{n: 1, c: 16, in: []int{3, 37}, k: []int{3, 37}, paddings: [][2]int{{0, 0}, {36, 0}}},
		// Short causal convolutions.
		one(2, 24, 40, 3, 2, 0),
		one(2, 24, 40, 4, 3, 0),
		// Channels not a multiple of 8, one channel.
		one(2, 5, 19, 19, 18, 0),
		one(2, 13, 19, 19, 0, 18),
		one(2, 1, 11, 4, 3, 0),
		{n: 1, c: 13, in: []int{2, 19}, k: []int{2, 19}, paddings: [][2]int{{0, 0}, {18, 0}}},
		// No padding, symmetric and asymmetric paddings, kernel of one.
		one(2, 9, 20, 5, 0, 0),
		one(2, 9, 20, 5, 2, 2),
		one(2, 9, 20, 5, 1, 6),
		one(2, 9, 20, 1, 0, 0),
		one(2, 9, 20, 1, 3, 1),
		// Kernels longer than the input (no output sees the whole kernel).
		one(2, 11, 3, 10, 9, 0),
		one(2, 11, 5, 12, 6, 7),
		one(1, 8, 1, 9, 4, 4),
		// Long rows: several row chunks and output segments.
		one(1, 8, 600, 7, 3, 3),
		one(1, 3, 530, 530, 529, 0),
		// Two and three spatial axes.
		{n: 2, c: 10, in: []int{6, 7}, k: []int{3, 4}, paddings: [][2]int{{1, 2}, {3, 0}}},
		{n: 2, c: 8, in: []int{4, 5}, k: []int{6, 2}, paddings: [][2]int{{4, 3}, {0, 1}}},
		{n: 1, c: 7, in: []int{3, 4, 9}, k: []int{2, 3, 5}, paddings: [][2]int{{1, 0}, {0, 2}, {4, 1}}},
		{n: 2, c: 17, in: []int{2, 3, 4}, k: []int{2, 2, 4}, paddings: [][2]int{{0, 0}, {1, 1}, {3, 0}}},
	}
}

// dwRandomCase draws 1 to 3 spatial axes with small dimensions
// (the generic executor and the reference walk the whole kernel for every
// output) and paddings that keep every output dimension at least 1.
func dwRandomCase(rng *rand.Rand) dwCase {
	k := 1 + rng.IntN(3)
	maxDim := []int{30, 9, 5}[k-1]
	c := dwCase{n: 1 + rng.IntN(3), c: 1 + rng.IntN(20), in: make([]int, k), k: make([]int, k), paddings: make([][2]int, k)}
	for d := range k {
		c.in[d] = 1 + rng.IntN(maxDim)
		c.k[d] = 1 + rng.IntN(maxDim)
		for {
			lo, hi := rng.IntN(c.k[d]+2), rng.IntN(c.k[d]+2)
			if c.in[d]+lo+hi-c.k[d]+1 >= 1 {
				c.paddings[d] = [2]int{lo, hi}
				break
			}
		}
	}
	return c
}

func TestConvDepthwiseMatchesGeneric(t *testing.T) {
	var backends []*gobackend.Backend
	for _, p := range []int{0, 1, 2, 4, -1} {
		backends = append(backends, newSlabTestBackend(t, p))
	}
	rng := rand.New(rand.NewPCG(7, 11))
	for _, c := range dwCases() {
		dwCheck(t, rng, backends, c)
	}
	for range 100 {
		dwCheck(t, rng, backends, dwRandomCase(rng))
	}
}

// TestConvDepthwiseSkipsPadding puts infinities and NaNs in kernel
// positions that only ever meet the padding: they must not reach any
// output (multiplying them by a zero would make NaNs).
func TestConvDepthwiseSkipsPadding(t *testing.T) {
	backend := newSlabTestBackend(t, -1)
	rng := rand.New(rand.NewPCG(3, 5))
	// Causal: output t sees kernel positions p >= 8-t, and t <= 5.
	c := dwCase{n: 2, c: 11, in: []int{6}, k: []int{9}, paddings: [][2]int{{8, 0}}}
	input, kernel := c.inputShape(), c.kernelShape()
	node := c.node(t, backend)
	x := dwRandomValues(rng, input.Size())
	w := dwRandomValues(rng, kernel.Size())
	for ch := range c.c {
		w[0*c.c+ch] = float32(math.Inf(1))
		w[1*c.c+ch] = float32(math.NaN())
		w[2*c.c+ch] = float32(math.Inf(-1))
	}
	generic := dwRunExecutor(t, backend, execConvGeneral, node, input, kernel, x, w)
	for _, set := range dwKernelSets() {
		plan, _ := planDepthwise(node.Data.(*convNode), input, kernel, node.Shape)
		got := make([]float32, node.Shape.Size())
		plan.run(backend, x, w, got, set)
		for i, v := range got {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%s kernels: element %d = %g: a padded position was multiplied", set.name, i, v)
			}
			if !dwCompilerFuses() && math.Float32bits(v) != math.Float32bits(generic[i]) {
				t.Fatalf("%s kernels: element %d = %g, generic executor gives %g", set.name, i, v, generic[i])
			}
		}
	}
}

// TestConvDepthwiseDeterministic runs the full-size long convolution's
// kernel gradient (the longest sums; 40 channels, so that the outputs of a
// channel block are split over tasks too) on the default backend and at
// parallelism 1, 2 and unlimited, and requires the same bits.
func TestConvDepthwiseDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 17))
	c := dwCase{n: 1, c: 40, in: []int{8, 256}, k: []int{8, 256}, paddings: [][2]int{{0, 0}, {255, 0}}}
	input, kernel := c.inputShape(), c.kernelShape()
	x := dwRandomValues(rng, input.Size())
	w := dwRandomValues(rng, kernel.Size())
	backends := []*gobackend.Backend{dwDefaultBackend(t)}
	for _, p := range []int{1, 2, -1} {
		backends = append(backends, newSlabTestBackend(t, p))
	}
	var want []float32
	for _, backend := range backends {
		node := c.node(t, backend)
		if plan, ok := planDepthwise(node.Data.(*convNode), input, kernel, node.Shape); !ok || plan.numSegments < 2 {
			t.Fatalf("%s: not split within a channel block", c)
		}
		got := dwRunExecutor(t, backend, execConvGeneralDepthwise, node, input, kernel, x, w)
		if want == nil {
			want = got
			continue
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("parallelism %d: element %d = %g, default backend gives %g", backend.Workers.MaxParallelism(), i, got[i], want[i])
			}
		}
	}
}

func dwDefaultBackend(t testing.TB) *gobackend.Backend {
	t.Helper()
	b, err := gobackend.New("")
	if err != nil {
		t.Fatalf("creating backend: %+v", err)
	}
	t.Cleanup(b.Finalize)
	return b.(*gobackend.Backend)
}

// TestConvDepthwiseOtherFormsFallBack checks that convolutions the fast
// path does not run are left to the generic executor, bit for bit.
func TestConvDepthwiseOtherFormsFallBack(t *testing.T) {
	backend := newSlabTestBackend(t, -1)
	rng := rand.New(rand.NewPCG(19, 23))
	f32 := func(dims ...int) shapes.Shape { return shapes.Make(dtypes.Float32, dims...) }
	channelsFirst := compute.ConvolveAxesConfig{
		InputBatch: 0, InputChannels: 1, InputSpatial: []int{2},
		KernelInputChannels: 1, KernelOutputChannels: 0, KernelSpatial: []int{2},
		OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2},
	}
	for _, tc := range []struct {
		name                            string
		input, kernel                   shapes.Shape
		axes                            compute.ConvolveAxesConfig
		strides                         []int
		paddings                        [][2]int
		inputDilations, kernelDilations []int
		groups                          int
	}{
		{"channels first", f32(2, 6, 20), f32(6, 1, 5), channelsFirst, nil, [][2]int{{4, 0}}, nil, nil, 6},
		{"one group", f32(2, 20, 6), f32(5, 6, 6), dwAxes(1), nil, [][2]int{{4, 0}}, nil, nil, 1},
		{"two channels per group", f32(2, 20, 6), f32(5, 2, 6), dwAxes(1), nil, [][2]int{{4, 0}}, nil, nil, 3},
		{"channel multiplier", f32(2, 20, 3), f32(5, 1, 6), dwAxes(1), nil, [][2]int{{4, 0}}, nil, nil, 3},
		{"stride 2", f32(2, 20, 6), f32(5, 1, 6), dwAxes(1), []int{2}, [][2]int{{4, 0}}, nil, nil, 6},
		{"kernel dilation", f32(2, 20, 6), f32(5, 1, 6), dwAxes(1), nil, [][2]int{{8, 0}}, nil, []int{2}, 6},
		{"input dilation", f32(2, 20, 6), f32(5, 1, 6), dwAxes(1), nil, [][2]int{{4, 0}}, []int{2}, nil, 6},
		{"spatial axes swapped", f32(2, 7, 9, 6), f32(3, 2, 1, 6), compute.ConvolveAxesConfig{
			InputBatch: 0, InputChannels: 3, InputSpatial: []int{2, 1},
			KernelInputChannels: 2, KernelOutputChannels: 3, KernelSpatial: []int{0, 1},
			OutputBatch: 0, OutputChannels: 3, OutputSpatial: []int{1, 2},
		}, nil, [][2]int{{1, 0}, {0, 1}}, nil, nil, 6},
	} {
		node := dwConvNode(t, backend, tc.input, tc.kernel, tc.axes, tc.strides, tc.paddings, tc.inputDilations, tc.kernelDilations, tc.groups)
		if _, ok := planDepthwise(node.Data.(*convNode), tc.input, tc.kernel, node.Shape); ok {
			t.Fatalf("%s: taken by the fast path", tc.name)
		}
		x := dwRandomValues(rng, tc.input.Size())
		w := dwRandomValues(rng, tc.kernel.Size())
		want := dwRunExecutor(t, backend, execConvGeneral, node, tc.input, tc.kernel, x, w)
		got := dwRunExecutor(t, backend, execConvGeneralDepthwise, node, tc.input, tc.kernel, x, w)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s: element %d = %g, generic executor gives %g", tc.name, i, got[i], want[i])
			}
		}
	}
	// float64 keeps the generic executor too.
	c := dwCase{n: 2, c: 6, in: []int{20}, k: []int{5}, paddings: [][2]int{{4, 0}}}
	input, kernel := shapes.Make(dtypes.Float64, 2, 20, 6), shapes.Make(dtypes.Float64, 5, 1, 6)
	node := dwConvNode(t, backend, input, kernel, dwAxes(1), nil, c.paddings, nil, nil, 6)
	if _, ok := planDepthwise(node.Data.(*convNode), input, kernel, node.Shape); ok {
		t.Fatal("float64: taken by the fast path")
	}
}

// TestConvDepthwiseThroughBackend compiles and runs a depthwise ConvGeneral
// graph: the registered executor gives the fast path's values.
func TestConvDepthwiseThroughBackend(t *testing.T) {
	backend := dwDefaultBackend(t)
	rng := rand.New(rand.NewPCG(29, 31))
	c := dwCase{n: 2, c: 12, in: []int{33}, k: []int{33}, paddings: [][2]int{{32, 0}}}
	input, kernel := c.inputShape(), c.kernelShape()
	builder := backend.Builder("dwconv_graph")
	f := builder.Main()
	xp, err := f.Parameter("x", input, nil)
	if err != nil {
		t.Fatalf("creating parameter: %+v", err)
	}
	wp, err := f.Parameter("w", kernel, nil)
	if err != nil {
		t.Fatalf("creating parameter: %+v", err)
	}
	y, err := f.ConvGeneral(xp, wp, dwAxes(1), nil, c.paddings, nil, nil, c.c, 1)
	if err != nil {
		t.Fatalf("building ConvGeneral: %+v", err)
	}
	if err := f.Return([]compute.Value{y}, nil); err != nil {
		t.Fatalf("returning: %+v", err)
	}
	exec, err := builder.Compile()
	if err != nil {
		t.Fatalf("compiling: %+v", err)
	}
	x := dwRandomValues(rng, input.Size())
	w := dwRandomValues(rng, kernel.Size())
	xb := slabTestBuffer(t, backend, input, x)
	wb := slabTestBuffer(t, backend, kernel, w)
	outs, err := exec.Execute([]compute.Buffer{xb, wb}, nil, 0)
	if err != nil {
		t.Fatalf("executing: %+v", err)
	}
	data, err := outs[0].Data()
	if err != nil {
		t.Fatalf("reading result: %+v", err)
	}
	got := data.([]float32)
	ref, mag := dwReference(c, y.(*gobackend.Node).Shape, x, w)
	if len(got) != len(ref) {
		t.Fatalf("%d outputs, want %d", len(got), len(ref))
	}
	for i := range ref {
		if d := math.Abs(float64(got[i]) - ref[i]); d > 1e-6*mag[i]+1e-30 {
			t.Fatalf("element %d = %g, float64 reference %g", i, got[i], ref[i])
		}
	}
}

// BenchmarkConvDepthwise times GConv's three convolutions (B=8, L=256,
// C=256) and a short one, on the fast path and on the generic executor
// (go test -run XXX -bench ConvDepthwise -benchtime 3x).
func BenchmarkConvDepthwise(b *testing.B) {
	backend := dwDefaultBackend(b)
	const batch, length, channels = 8, 256, 256
	for _, bc := range []struct {
		name  string
		c     dwCase
		flops float64 // multiply-adds outside the padding, times 2
	}{
		{"forward", dwCase{n: batch, c: channels, in: []int{length}, k: []int{length}, paddings: [][2]int{{length - 1, 0}}},
			2 * batch * channels * length * (length + 1) / 2},
		{"input_grad", dwCase{n: batch, c: channels, in: []int{length}, k: []int{length}, paddings: [][2]int{{0, length - 1}}},
			2 * batch * channels * length * (length + 1) / 2},
		{"kernel_grad", dwCase{n: 1, c: channels, in: []int{batch, length}, k: []int{batch, length}, paddings: [][2]int{{0, 0}, {length - 1, 0}}},
			2 * batch * channels * length * (length + 1) / 2},
		{"short4", dwCase{n: batch, c: channels, in: []int{length}, k: []int{4}, paddings: [][2]int{{3, 0}}},
			2 * batch * channels * (length*4 - 6)},
	} {
		for _, impl := range []struct {
			name string
			exec gobackend.NodeExecutor
		}{{"fast", execConvGeneralDepthwise}, {"generic", execConvGeneral}} {
			b.Run(bc.name+"/"+impl.name, func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 2))
				input, kernel := bc.c.inputShape(), bc.c.kernelShape()
				node := bc.c.node(b, backend)
				xb := slabTestBuffer(b, backend, input, dwRandomValues(rng, input.Size()))
				wb := slabTestBuffer(b, backend, kernel, dwRandomValues(rng, kernel.Size()))
				b.ResetTimer()
				for range b.N {
					out, err := impl.exec(backend, node, []*gobackend.Buffer{xb, wb}, []bool{false, false})
					if err != nil {
						b.Fatal(err)
					}
					backend.PutBuffer(out)
				}
				b.ReportMetric(bc.flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
