package genome

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// checkCanonical fails t unless g is valid in space and its own repair.
func checkCanonical(t *testing.T, what string, g Genome, space Space) {
	t.Helper()
	if err := Validate(g, space); err != nil {
		t.Fatalf("%s: %s is invalid: %v", what, g, err)
	}
	if c := Repair(g, space); !slices.Equal(c, g) {
		t.Fatalf("%s: %s is not canonical (repair gives %s)", what, g, c)
	}
}

func sharing(g Genome) (feat, feature bool) {
	for i, w := range g.Wiring() {
		feat = feat || w.FeatOwner != i
		feature = feature || w.BSource != i || w.CSource != i
	}
	return feat, feature
}

func TestRandom(t *testing.T) {
	t.Parallel()
	spaces := []Space{{Depth: 8}, {Depth: 24}, {Depth: 8, Classes: []int{1, 5, 9}}, {Depth: 1}, {Depth: 6, Classes: []int{9}}}
	for _, space := range spaces {
		r := rand.New(rand.NewPCG(7, uint64(space.Depth)))
		var featShared, featureShared int
		for range 300 {
			g := Random(r, space)
			if len(g) != space.Depth {
				t.Fatalf("Random depth %d, want %d", len(g), space.Depth)
			}
			checkCanonical(t, "Random", g, space)
			f, s := sharing(g)
			if f {
				featShared++
			}
			if s {
				featureShared++
			}
		}
		if space.Depth >= 8 && (featShared == 0 || featureShared == 0) {
			t.Errorf("space %+v: %d/300 genomes share featurizers and %d/300 share features; want some of each",
				space, featShared, featureShared)
		}
	}
	a := Random(rand.New(rand.NewPCG(1, 1)), Space{Depth: 8})
	b := Random(rand.New(rand.NewPCG(1, 1)), Space{Depth: 8})
	if !slices.Equal(a, b) {
		t.Errorf("Random is not deterministic: %s vs %s", a, b)
	}
}

func TestRandomPanicsOnInvalidSpace(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Fatal("Random with depth 0 did not panic")
		}
	}()
	Random(rand.New(rand.NewPCG(1, 1)), Space{})
}

func TestMutate(t *testing.T) {
	t.Parallel()
	space := Space{Depth: 8, Classes: []int{1, 5, 7, 9, 10}}
	r := rand.New(rand.NewPCG(11, 12))
	changed := 0
	for range 500 {
		g := Random(r, space)
		m := Mutate(r, g, space, DefaultMutationRate)
		checkCanonical(t, "Mutate", m, space)
		if !slices.Equal(m, g) {
			changed++
		}
		if got := Mutate(r, g, space, 0); !slices.Equal(got, g) {
			t.Fatalf("Mutate with rate 0 changed %s to %s", g, got)
		}
		checkCanonical(t, "Mutate rate 1", Mutate(r, g, space, 1), space)
	}
	if changed < 250 {
		t.Errorf("only %d/500 mutants differ from their parent at rate %v", changed, DefaultMutationRate)
	}
	// A non-canonical parent, classes outside the space included, comes out valid.
	raw := MustParse("18.1.1.1.1-11211-11211-91114")
	checkCanonical(t, "Mutate of a raw genome", Mutate(r, raw, Space{Depth: 4, Classes: []int{1, 9}}, 0.05),
		Space{Depth: 4, Classes: []int{1, 9}})
	x := Mutate(rand.New(rand.NewPCG(5, 5)), raw, Space{}, 0.5)
	y := Mutate(rand.New(rand.NewPCG(5, 5)), raw, Space{}, 0.5)
	if !slices.Equal(x, y) {
		t.Errorf("Mutate is not deterministic: %s vs %s", x, y)
	}
}

func TestCrossover(t *testing.T) {
	t.Parallel()
	space := Space{Depth: 10}
	r := rand.New(rand.NewPCG(21, 22))
	for range 500 {
		a, b := Random(r, space), Random(r, space)
		k := r.IntN(12) - 1
		c1, c2 := Crossover(r, a, b, k)
		checkCanonical(t, "Crossover child 1", c1, space)
		checkCanonical(t, "Crossover child 2", c2, space)
		for i := range a {
			ok1 := c1[i].Class == a[i].Class && c2[i].Class == b[i].Class
			ok2 := c1[i].Class == b[i].Class && c2[i].Class == a[i].Class
			if !ok1 && !ok2 {
				t.Fatalf("slot %d of children %s, %s comes from neither parent %s, %s", i, c1, c2, a, b)
			}
		}
	}
	// Two points over distinct parents: the middle segment is swapped.
	a := MustParse("11111-12121-13131-14141-15151-16161")
	b := MustParse("91111-92121-93131-94141-95151-96161")
	c1, c2 := Crossover(rand.New(rand.NewPCG(1, 2)), a, b, 2)
	switches := 0
	for i := 1; i < len(c1); i++ {
		if c1[i].Class != c1[i-1].Class {
			switches++
		}
		if c1[i].Class+c2[i].Class != 10 {
			t.Fatalf("children %s and %s do not complement each other", c1, c2)
		}
	}
	if switches != 2 {
		t.Errorf("2-point crossover gave %s (%d switches)", c1, switches)
	}
	one := MustParse("11111")
	x, y := Crossover(r, one, MustParse("91111"), 2)
	if Format(x) != "11111" || Format(y) != "91111" {
		t.Errorf("depth-1 crossover gave %s, %s", x, y)
	}
}

func TestCrossoverPanicsOnDepthMismatch(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Fatal("Crossover of parents of different depths did not panic")
		}
	}()
	Crossover(rand.New(rand.NewPCG(1, 1)), MustParse("11111"), MustParse("11111-92121"), 2)
}
