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
	"github.com/gomlx/compute/shapeinference"
	"github.com/gomlx/compute/shapes"
)

var binaryTestOps = []struct {
	op      compute.OpType
	kind    binaryKind
	generic gobackend.NodeExecutor
}{
	{compute.OpTypeAdd, binAdd, execAdd},
	{compute.OpTypeSub, binSub, execSub},
	{compute.OpTypeMul, binMul, execMul},
	{compute.OpTypeDiv, binDiv, execDiv},
}

// binaryTestBackend returns a backend with the given parallelism (0: none,
// -1: unlimited).
func binaryTestBackend(t *testing.T, parallelism int) *gobackend.Backend {
	t.Helper()
	b, err := gobackend.New(fmt.Sprintf("parallelism=%d", parallelism))
	if err != nil {
		t.Fatalf("creating backend: %+v", err)
	}
	t.Cleanup(b.Finalize)
	return b.(*gobackend.Backend)
}

// binaryTestValue draws a float32 that is usually an ordinary number, at
// times a zero, an infinity, a subnormal or a large value, so that
// rounding, overflow and 0/0 or inf-inf are exercised too.
func binaryTestValue(rng *rand.Rand) float32 {
	switch rng.IntN(40) {
	case 0:
		return 0
	case 1:
		return float32(math.Copysign(0, -1))
	case 2:
		return float32(math.Inf(1 - 2*rng.IntN(2)))
	case 3:
		return math.Float32frombits(uint32(1 + rng.IntN(1<<20))) // subnormal
	case 4:
		return float32(rng.NormFloat64() * 1e38)
	}
	return float32(rng.NormFloat64() * math.Exp(rng.NormFloat64()*3))
}

func binaryTestBuffer(t *testing.T, b *gobackend.Backend, shape shapes.Shape, values []float32) *gobackend.Buffer {
	t.Helper()
	buf, err := b.GetBuffer(shape)
	if err != nil {
		t.Fatalf("getting buffer %s: %+v", shape, err)
	}
	copy(buf.Flat.([]float32), values)
	return buf
}

// checkBinaryCase runs every op on operands of shapes lhs and rhs, with
// each operand owned or not, through the fast executor and the generic
// one, and requires the same bits.
func checkBinaryCase(t *testing.T, rng *rand.Rand, b *gobackend.Backend, lhs, rhs shapes.Shape) {
	t.Helper()
	lv := make([]float32, lhs.Size())
	rv := make([]float32, rhs.Size())
	for i := range lv {
		lv[i] = binaryTestValue(rng)
	}
	for i := range rv {
		rv[i] = binaryTestValue(rng)
	}
	for _, o := range binaryTestOps {
		outShape, err := shapeinference.BinaryOp(o.op, lhs, rhs)
		if err != nil {
			t.Fatalf("%s %s %s: %+v", o.op, lhs, rhs, err)
		}
		if _, ok := binaryPlanFor(lhs, rhs, outShape); !ok && outShape.Size() > 0 {
			t.Fatalf("%s %s %s: no fast path", o.op, lhs, rhs)
		}
		node := &gobackend.Node{OpType: o.op, Shape: outShape}
		run := func(exec gobackend.NodeExecutor, owned []bool) []float32 {
			inputs := []*gobackend.Buffer{binaryTestBuffer(t, b, lhs, lv), binaryTestBuffer(t, b, rhs, rv)}
			out, err := exec(b, node, inputs, slices.Clone(owned))
			if err != nil {
				t.Fatalf("%s %s %s: %+v", o.op, lhs, rhs, err)
			}
			if !out.RawShape.Equal(outShape) {
				t.Fatalf("%s %s %s: output shape %s, want %s", o.op, lhs, rhs, out.RawShape, outShape)
			}
			return slices.Clone(out.Flat.([]float32))
		}
		want := run(o.generic, []bool{false, false})
		fast := fastBinaryExecutor(o.kind, o.generic)
		for _, owned := range [][]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			got := run(fast, owned)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s %s %s (owned %v): element %d = %g (%#08x), generic executor gives %g (%#08x)",
						o.op, lhs, rhs, owned, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
				}
			}
		}
	}
}

// randomBroadcastPair draws an output shape of rank 0 to 5 and two operand
// shapes that broadcast to it: each axis of each operand is the output's
// or 1; at times one operand is a scalar of rank 0. large asks for an
// output big enough to be split over the workers.
func randomBroadcastPair(rng *rand.Rand, large bool) (lhs, rhs shapes.Shape) {
	rank := rng.IntN(6)
	if large {
		rank = 2 + rng.IntN(4)
	}
	dims := make([]int, rank)
	for a := range dims {
		switch rng.IntN(5) {
		case 0:
			dims[a] = 1
		case 1:
			dims[a] = 8 + rng.IntN(30)
		default:
			dims[a] = 2 + rng.IntN(5)
		}
	}
	if large {
		size := 1
		for _, d := range dims {
			size *= d
		}
		for size < binaryParallelMin {
			a := rng.IntN(rank)
			size = size / dims[a] * (dims[a] * 3)
			dims[a] *= 3
		}
	}
	operand := func() shapes.Shape {
		if rng.IntN(8) == 0 {
			return shapes.Make(dtypes.Float32)
		}
		d := slices.Clone(dims)
		p := rng.Float64() // chance of each axis being broadcast
		for a := range d {
			if rng.Float64() < p {
				d[a] = 1
			}
		}
		return shapes.Make(dtypes.Float32, d...)
	}
	// The output is the broadcast of the two, which can be smaller than
	// dims where both are 1.
	return operand(), operand()
}

func TestBinaryFastMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	b := binaryTestBackend(t, 2)
	for range 400 {
		lhs, rhs := randomBroadcastPair(rng, false)
		checkBinaryCase(t, rng, b, lhs, rhs)
	}
}

func TestBinaryFastLargeMatchesGenericAtAnyParallelism(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var pairs [][2]shapes.Shape
	for range 12 {
		lhs, rhs := randomBroadcastPair(rng, true)
		pairs = append(pairs, [2]shapes.Shape{lhs, rhs})
	}
	f32 := func(dims ...int) shapes.Shape { return shapes.Make(dtypes.Float32, dims...) }
	// The trainer's forms.
	pairs = append(pairs,
		[2]shapes.Shape{f32(8, 256, 4, 32), f32(1, 256, 1, 32)},
		[2]shapes.Shape{f32(8, 4, 256, 1), f32(8, 4, 1, 256)},
		[2]shapes.Shape{f32(8, 4, 256, 1, 256), f32(8, 4, 256, 1, 1)},
		[2]shapes.Shape{f32(8, 4, 64, 64), f32(8, 1, 64, 64)},
		[2]shapes.Shape{f32(), f32(8, 64, 129)},
		[2]shapes.Shape{f32(8, 64, 129), f32(8, 64, 129)},
	)
	for _, parallelism := range []int{0, 1, 2, 3, -1} {
		t.Run(fmt.Sprint("parallelism=", parallelism), func(t *testing.T) {
			b := binaryTestBackend(t, parallelism)
			for _, p := range pairs {
				checkBinaryCase(t, rng, b, p[0], p[1])
			}
		})
	}
}

func TestPlanBinary(t *testing.T) {
	f32 := func(dims ...int) shapes.Shape { return shapes.Make(dtypes.Float32, dims...) }
	for _, c := range []struct {
		lhs, rhs               shapes.Shape
		dims                   []int
		lhsStrides, rhsStrides []int
		mode                   rowMode
	}{
		{f32(8, 256, 4, 32), f32(1, 256, 1, 32), []int{8, 256, 4, 32}, []int{32768, 128, 32}, []int{0, 32, 0}, rowBoth},
		{f32(8, 4, 256, 1), f32(8, 4, 1, 256), []int{32, 256, 256}, []int{256, 1}, []int{256, 0}, rowRHS},
		{f32(8, 4, 256, 1, 256), f32(8, 4, 256, 1, 1), []int{8192, 256}, []int{256}, []int{1}, rowLHS},
		{f32(8, 4, 256, 256), f32(8, 1, 256, 256), []int{8, 4, 65536}, []int{262144, 65536}, []int{65536, 0}, rowBoth},
		{f32(1, 5, 1, 7), f32(1, 5, 1, 7), []int{35}, []int{}, []int{}, rowBoth},
		{f32(3, 1, 4), f32(1, 1, 4), []int{3, 4}, []int{4}, []int{0}, rowBoth},
	} {
		out, err := shapeinference.BinaryOp(compute.OpTypeAdd, c.lhs, c.rhs)
		if err != nil {
			t.Fatal(err)
		}
		plan, ok := planBinary(c.lhs, c.rhs, out)
		if !ok || !slices.Equal(plan.dims, c.dims) || !slices.Equal(plan.lhsStrides, c.lhsStrides) ||
			!slices.Equal(plan.rhsStrides, c.rhsStrides) || plan.mode != c.mode {
			t.Errorf("planBinary(%s, %s) = %+v, %v; want dims %v, strides %v and %v, mode %d",
				c.lhs, c.rhs, plan, ok, c.dims, c.lhsStrides, c.rhsStrides, c.mode)
		}
	}
}

// BenchmarkBinary times the trainer's forms through the fast executor and
// the generic one: go test -run XXX -bench Binary ./internal/gobackend/ops/
func BenchmarkBinary(b *testing.B) {
	f32 := func(dims ...int) shapes.Shape { return shapes.Make(dtypes.Float32, dims...) }
	cases := []struct {
		name     string
		o        int // index in binaryTestOps
		lhs, rhs shapes.Shape
	}{
		{"Mul_same_8x256x1024", 2, f32(8, 256, 1024), f32(8, 256, 1024)},
		{"Mul_rotary_8x256x4x32", 2, f32(8, 256, 4, 32), f32(1, 256, 1, 32)},
		{"Mul_8x4x256x256_heads", 2, f32(8, 4, 256, 256), f32(8, 1, 256, 256)},
		{"Sub_outer_8x4x256x256", 1, f32(8, 4, 256, 1), f32(8, 4, 1, 256)},
		{"Div_rows_8x4x256x1x256", 3, f32(8, 4, 256, 1, 256), f32(8, 4, 256, 1, 1)},
		{"Mul_scalar_256x256", 2, f32(256, 256), f32()},
	}
	for _, parallelism := range []int{0, -1} {
		be, err := gobackend.New(fmt.Sprintf("parallelism=%d", parallelism))
		if err != nil {
			b.Fatal(err)
		}
		backend := be.(*gobackend.Backend)
		for _, c := range cases {
			o := binaryTestOps[c.o]
			outShape, err := shapeinference.BinaryOp(o.op, c.lhs, c.rhs)
			if err != nil {
				b.Fatal(err)
			}
			node := &gobackend.Node{OpType: o.op, Shape: outShape}
			lhs, _ := backend.GetBuffer(c.lhs)
			rhs, _ := backend.GetBuffer(c.rhs)
			for i := range lhs.Flat.([]float32) {
				lhs.Flat.([]float32)[i] = float32(i%7) + 1
			}
			for i := range rhs.Flat.([]float32) {
				rhs.Flat.([]float32)[i] = float32(i%5) + 1
			}
			for _, e := range []struct {
				name string
				exec gobackend.NodeExecutor
			}{{"generic", o.generic}, {"fast", fastBinaryExecutor(o.kind, o.generic)}} {
				b.Run(fmt.Sprintf("%s/p=%d/%s", c.name, parallelism, e.name), func(b *testing.B) {
					b.SetBytes(int64(4 * outShape.Size()))
					for b.Loop() {
						out, err := e.exec(backend, node, []*gobackend.Buffer{lhs, rhs}, []bool{false, false})
						if err != nil {
							b.Fatal(err)
						}
						backend.PutBuffer(out)
					}
				})
			}
		}
		backend.Finalize()
	}
}
