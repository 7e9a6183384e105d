package blas

import (
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute/internal/gobackend"
	_ "github.com/gomlx/compute/internal/gobackend/defaultpkgs"
	"github.com/gomlx/compute/internal/gobackend/dot"
)

// requireBLAS skips when no library is loaded, unless GOMLX_BLAS_REQUIRED
// is set and the switch is not off (CI installs OpenBLAS and sets it, so a
// broken loader fails there).
func requireBLAS(t *testing.T) {
	t.Helper()
	if Info() != "" {
		return
	}
	if Disabled(os.Getenv(EnvVar)) {
		t.Skipf("%s=%s", EnvVar, os.Getenv(EnvVar))
	}
	if os.Getenv("GOMLX_BLAS_REQUIRED") != "" {
		t.Fatalf("GOMLX_BLAS_REQUIRED is set but no BLAS was loaded: %s", LoadError())
	}
	t.Skipf("no BLAS loaded (%s); apt-get install libopenblas0-pthread", LoadError())
}

func newBackend(t *testing.T, parallelism int) *gobackend.Backend {
	t.Helper()
	b, err := gobackend.New("")
	if err != nil {
		t.Fatal(err)
	}
	gb := b.(*gobackend.Backend)
	gb.Workers.SetMaxParallelism(parallelism)
	t.Cleanup(b.Finalize)
	return gb
}

func randomSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

// reference computes the product in float64.
func reference(layout dot.Layout, lhs, rhs []float32, batch, m, n, k int) []float64 {
	out := make([]float64, batch*m*n)
	for b := range batch {
		for i := range m {
			for j := range n {
				var s float64
				for p := range k {
					var y float32
					x := lhs[b*m*k+i*k+p]
					if layout == dot.LayoutLHSTransposed || layout == dot.LayoutBothTransposed {
						x = lhs[b*m*k+p*m+i]
					}
					if layout == dot.LayoutTransposed || layout == dot.LayoutBothTransposed {
						y = rhs[b*n*k+j*k+p]
					} else {
						y = rhs[b*k*n+p*n+j]
					}
					s += float64(x) * float64(y)
				}
				out[b*m*n+i*n+j] = s
			}
		}
	}
	return out
}

var shapesUnderTest = [][4]int{ // batch, m, n, k
	{1, 1, 1, 1}, {1, 3, 5, 7}, {2, 17, 33, 9}, {1, 256, 256, 256}, {3, 100, 1, 64},
	{1, 1, 300, 50}, {64, 64, 64, 16}, {8, 40, 24, 300}, {1, 2048, 64, 96}, {5, 7, 0, 3}, {2, 4, 4, 0},
}

func TestSgemmMatchesReference(t *testing.T) {
	requireBLAS(t)
	r := rand.New(rand.NewPCG(1, 2))
	backend := newBackend(t, -1)
	for _, layout := range []dot.Layout{dot.LayoutNonTransposed, dot.LayoutTransposed, dot.LayoutLHSTransposed, dot.LayoutBothTransposed} {
		for _, s := range shapesUnderTest {
			batch, m, n, k := s[0], s[1], s[2], s[3]
			lhs, rhs := randomSlice(r, batch*m*k), randomSlice(r, batch*k*n)
			out := make([]float32, batch*m*n)
			for i := range out {
				out[i] = float32(math.NaN()) // every element must be written
			}
			execSgemm(backend, layout, lhs, rhs, batch, m, n, k, out)
			want := reference(layout, lhs, rhs, batch, m, n, k)
			for i := range out {
				tol := 1e-5 * float64(k+1)
				if d := math.Abs(float64(out[i]) - want[i]); !(d <= tol) {
					t.Fatalf("%s %v: element %d = %g, want %g", layout, s, i, out[i], want[i])
				}
			}
		}
	}
}

// The units depend on the shapes only, so any parallelism gives the same bits.
func TestSgemmDeterministicAcrossParallelism(t *testing.T) {
	requireBLAS(t)
	r := rand.New(rand.NewPCG(3, 4))
	for _, s := range [][4]int{{1, 1024, 512, 256}, {32, 256, 64, 64}, {3, 333, 200, 129}} {
		batch, m, n, k := s[0], s[1], s[2], s[3]
		lhs, rhs := randomSlice(r, batch*m*k), randomSlice(r, batch*k*n)
		var first []float32
		for _, par := range []int{0, 1, 2, 4, -1, -1} {
			out := make([]float32, batch*m*n)
			execSgemm(newBackend(t, par), dot.LayoutLHSTransposed, lhs, rhs, batch, m, n, k, out)
			if first == nil {
				first = out
			} else if !slices.Equal(first, out) {
				t.Fatalf("%v: parallelism %d changed the result", s, par)
			}
		}
	}
}

// Loading the library registers it and names it in the backend's description.
func TestRegistered(t *testing.T) {
	requireBLAS(t)
	if gobackend.DotGeneralLibrary != Info() {
		t.Fatalf("DotGeneralLibrary %q, Info %q", gobackend.DotGeneralLibrary, Info())
	}
	if d := newBackend(t, -1).Description(); !strings.Contains(d, Info()) {
		t.Fatalf("description %q does not name %q", d, Info())
	}
}

func TestPlanCoversEveryElementOnce(t *testing.T) {
	for _, s := range [][4]int{{1, 1, 1, 1}, {1, 2048, 768, 256}, {3, 17, 1000, 1000}, {100, 8, 8, 8}, {40, 256, 256, 64}, {2, 5000, 3, 3}, {1, 256, 1024, 2048}, {1, 300, 1024, 2048}} {
		batch, m, n, k := s[0], s[1], s[2], s[3]
		seen := make([]int, batch*m)
		units := plan(batch, m, n, k)
		if len(units) > maxUnits+batch {
			t.Fatalf("%v: %d units", s, len(units))
		}
		if batch == 1 && m == 256 && len(units) != 2 {
			t.Fatalf("%v: %d units, want 2 of %d rows", s, len(units), minUnitRows)
		}
		for _, u := range units {
			if u.rows < m && u.row0+u.rows < m && u.rows < minUnitRows {
				t.Fatalf("%v: a unit of %d rows (at least %d but for a matrix's last)", s, u.rows, minUnitRows)
			}
			for b := u.batch0; b < u.batch0+u.batches; b++ {
				for row := u.row0; row < u.row0+u.rows; row++ {
					seen[b*m+row]++
				}
			}
		}
		for i, c := range seen {
			if c != 1 {
				t.Fatalf("%v: row %d covered %d times", s, i, c)
			}
		}
	}
}

func TestSwitch(t *testing.T) {
	for _, v := range []string{"off", "false", "0", "go", " OFF "} {
		if !Disabled(v) {
			t.Errorf("Disabled(%q) = false", v)
		}
	}
	for v, want := range map[string]string{"": DefaultLibrary, "on": DefaultLibrary, "/x/libopenblas.so": "/x/libopenblas.so"} {
		if Disabled(v) || libraryFor(v) != want {
			t.Errorf("switch %q: disabled %v, library %q, want %q", v, Disabled(v), libraryFor(v), want)
		}
	}
}
