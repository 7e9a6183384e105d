package dot

import (
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
)

func TestTransposedLHSLayout(t *testing.T) {
	f32 := func(dims ...int) shapes.Shape { return shapes.Make(dtypes.Float32, dims...) }
	for _, tc := range []struct {
		name               string
		lhs                shapes.Shape
		lhsC, lhsB         []int
		rhs                shapes.Shape
		rhsC, rhsB         []int
		want               Layout
		wantSupportedFirst Layout // what LayoutForDotGeneral says
	}{
		{"weight gradient [K,M]x[K,N]", f32(512, 64), []int{0}, nil, f32(512, 32), []int{0}, nil, LayoutLHSTransposed, LayoutIncompatible},
		{"[K,M]x[N,K]", f32(512, 64), []int{0}, nil, f32(32, 512), []int{1}, nil, LayoutBothTransposed, LayoutIncompatible},
		{"batched [B,K,M]x[B,K,N]", f32(4, 16, 8), []int{1}, []int{0}, f32(4, 16, 3), []int{1}, []int{0}, LayoutLHSTransposed, LayoutIncompatible},
		{"batched [B,K,M1,M2]x[B,N,K]", f32(4, 16, 8, 2), []int{1}, []int{0}, f32(4, 3, 16), []int{2}, []int{0}, LayoutBothTransposed, LayoutIncompatible},
		{"plain matmul stays", f32(8, 16), []int{1}, nil, f32(16, 4), []int{0}, nil, LayoutIncompatible, LayoutNonTransposed},
		{"no lhs cross axis", f32(16), []int{0}, nil, f32(16, 4), []int{0}, nil, LayoutIncompatible, LayoutNonTransposed},
		{"two contracting axes", f32(4, 16, 8), []int{0, 1}, nil, f32(4, 16, 3), []int{0, 1}, nil, LayoutIncompatible, LayoutIncompatible},
		{"batch not leading", f32(16, 4, 8), []int{0}, []int{1}, f32(16, 4, 3), []int{0}, []int{1}, LayoutIncompatible, LayoutIncompatible},
		{"rhs contracting in the middle", f32(16, 8), []int{0}, nil, f32(3, 16, 5), []int{1}, nil, LayoutIncompatible, LayoutIncompatible},
	} {
		if got := transposedLHSLayout(tc.lhs, tc.lhsC, tc.lhsB, tc.rhs, tc.rhsC, tc.rhsB); got != tc.want {
			t.Errorf("%s: transposedLHSLayout = %s, want %s", tc.name, got, tc.want)
		}
		if got := LayoutForDotGeneral(tc.lhs, tc.lhsC, tc.lhsB, tc.rhs, tc.rhsC, tc.rhsB); got != tc.wantSupportedFirst {
			t.Errorf("%s: LayoutForDotGeneral = %s, want %s", tc.name, got, tc.wantSupportedFirst)
		}
	}
	if LayoutLHSTransposed.String() != "LHSTransposed" || LayoutBothTransposed.String() != "BothTransposed" {
		t.Errorf("names: %s, %s", LayoutLHSTransposed, LayoutBothTransposed)
	}
	// Without a registered implementation (the Go kernels alone), these
	// layouts are never chosen.
	if FindRegisteredImplementation(LayoutLHSTransposed, dtypes.Float32, dtypes.Float32) != nil {
		t.Errorf("an implementation is registered for LHSTransposed in the dot package's own tests")
	}
}
