package ops

import (
	"fmt"
	"testing"
)

// The transposes around model/longconv.go's chunked convolution, whose
// strides are powers of two.
var transposeBenchCases = []struct{ dims, perm []int }{
	{[]int{8, 8, 32, 8, 256}, []int{4, 0, 3, 1, 2}},
	{[]int{256, 8, 8, 8, 32}, []int{1, 3, 4, 2, 0}},
	{[]int{8, 32, 32, 256}, []int{3, 0, 2, 1}},
	{[]int{8, 256, 8, 256}, []int{3, 1, 0, 2}},
	{[]int{1024, 256}, []int{1, 0}},
}

func BenchmarkTransposeTyped(b *testing.B) {
	for _, c := range transposeBenchCases {
		n := 1
		for _, d := range c.dims {
			n *= d
		}
		in := make([]float32, n)
		for i := range in {
			in[i] = float32(i)
		}
		out := make([]float32, n)
		plan := reduceTranspose(c.dims, c.perm)
		b.Run(fmt.Sprintf("%v_%v", c.dims, c.perm), func(b *testing.B) {
			b.SetBytes(int64(4 * n))
			for b.Loop() {
				transposeTyped(nil, in, out, plan)
			}
		})
	}
}

func BenchmarkCopy16M(b *testing.B) {
	in := make([]float32, 4<<20)
	out := make([]float32, 4<<20)
	b.SetBytes(16 << 20)
	for b.Loop() {
		copy(out, in)
	}
}
