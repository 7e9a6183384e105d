package genome

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestRepairRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		classes []int
		want    string
	}{
		{"fresh ids for unshared slots", "11111-91111", nil, "11111-92121"},
		{"featurizer sharing within a class", "11211-11211", nil, "11211-11221"},
		{"no featurizer sharing across classes", "11211-91211", nil, "11111-92121"},
		{"group split by class", "11211-91211-11211-91211", nil, "11211-92221-11231-92241"},
		{"members take the first slot's strategy", "11211-11111", nil, "11211-11221"},
		{"first slot with strategy 1 dissolves the group", "11111-11211", nil, "11111-12121"},
		{"one-member group resets to 1", "11211-91111", nil, "11111-92121"},
		{"SA-1 and SA-2 share keys", "11112-21112", nil, "11112-22112"},
		{"Rec-1 and Rec-2 states differ", "51112-61112", nil, "51111-62121"},
		{"GMemless has no features", "91114-91114", nil, "91111-92121"},
		{"SA-3 keys differ from SA-1 keys", "11114-31114", nil, "11111-32121"},
		{"SA-3 reuses SA-1 queries", "11113-31113", nil, "11113-32113"},
		{"group strategy from a slot that cannot share", "91114-11114-11114", nil, "91111-12124-13124"},
		{"diff variants share within the diff family", "10.1.1.1.4-10.1.1.1.4", nil, "10.1.1.1.4-10.2.1.1.4"},
		{"diff and base do not share features", "10.1.1.1.2-11112", nil, "10.1.1.1.1-12121"},
		{"GConv-1 and GConv-2 share gates", "71114-81114", nil, "71114-82114"},
		{"clamp out-of-range genes", "0.1.9.1.9-25.1.1.1.1", nil, "11111-18.2.1.2.1"},
		{"large group ids are labels", "1.7.2.7.1-9.3.1.3.1-1.7.2.7.1", nil, "11211-92121-11231"},
		{"nearest allowed class", "21111-31111-71111-81111-18.1.1.1.1", []int{1, 5, 9}, "11111-12121-53131-94141-95151"},
	}
	for _, tt := range tests {
		space := Space{Classes: tt.classes}
		got := Repair(MustParse(tt.in), space)
		if Format(got) != tt.want {
			t.Errorf("%s: Repair(%s) = %s, want %s", tt.name, tt.in, got, tt.want)
		}
		if again := Repair(got, space); !slices.Equal(again, got) {
			t.Errorf("%s: Repair is not idempotent: %s -> %s", tt.name, got, again)
		}
		if err := Validate(got, space); err != nil {
			t.Errorf("%s: repaired genome %s is invalid: %v", tt.name, got, err)
		}
	}
}

func TestRepairNegativeGroupLabels(t *testing.T) {
	t.Parallel()
	g := Genome{{1, -4, 2, 0, 1}, {9, 0, 1, -1, 1}, {1, -4, 1, 0, 1}}
	if got, want := Format(Repair(g, Space{})), "11211-92121-11231"; got != want {
		t.Fatalf("Repair = %s, want %s", got, want)
	}
}

// rawGenome draws genes outside their ranges too, to exercise Repair.
func rawGenome(r *rand.Rand, depth int) Genome {
	g := make(Genome, depth)
	for i := range g {
		g[i] = Slot{
			Class:         r.IntN(NumClasses+4) - 1,
			FeatGroup:     r.IntN(depth+2) - 1,
			FeatStrategy:  r.IntN(5) - 1,
			ShareGroup:    r.IntN(depth+2) - 1,
			ShareStrategy: r.IntN(7) - 1,
		}
	}
	return g
}

func TestRepairIdempotentAndValid(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	spaces := []Space{{}, {Classes: []int{1, 5, 9}}, {Classes: []int{9}}, {Classes: []int{10, 11, 18}}}
	for range 2000 {
		g := rawGenome(r, 1+r.IntN(12))
		space := spaces[r.IntN(len(spaces))]
		space.Depth = len(g)
		once := Repair(g, space)
		if twice := Repair(once, space); !slices.Equal(once, twice) {
			t.Fatalf("Repair not idempotent: %v -> %s -> %s", g, once, twice)
		}
		if err := Validate(once, space); err != nil {
			t.Fatalf("Repair(%v) = %s is invalid: %v", g, once, err)
		}
		if !slices.Equal(once.Wiring(), Repair(once, Space{}).Wiring()) {
			t.Fatalf("Wiring differs after repair for %s", once)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		classes []int
		slot    int // 0-based; -1 for no error
		gene    Gene
	}{
		{"11111-91111", nil, -1, 0},
		{"11211-11211-11211", nil, -1, 0},
		{"11211-12111-11211", nil, -1, 0},
		{"11112-12112-13131", nil, -1, 0},
		{"01111", nil, 0, GeneClass},
		{"11111-19.1.1.1.1", nil, 1, GeneClass},
		{"11111-21111", []int{1, 9}, 1, GeneClass},
		{"13111", nil, 0, GeneFeatGroup},
		{"11011", nil, 0, GeneFeatStrategy},
		{"11311", nil, 0, GeneFeatStrategy},
		{"11121", nil, 0, GeneShareGroup},
		{"11115", nil, 0, GeneShareStrategy},
		{"11211-91211", nil, 0, GeneFeatStrategy},
		{"11211-91211-91211", nil, 0, GeneFeatStrategy},
		{"11211-11211-91211-91211", nil, 2, GeneFeatGroup},
		{"11111-11211", nil, 1, GeneFeatStrategy},
		{"11211-11111", nil, 1, GeneFeatStrategy},
		{"91112-11112", nil, 0, GeneShareStrategy},
		{"51112-61112", nil, 0, GeneShareStrategy},
		{"11112-11113", nil, 1, GeneShareStrategy},
		{"11112-11112-51112-51112", nil, 2, GeneShareGroup},
	}
	for _, tt := range tests {
		err := Validate(MustParse(tt.in), Space{Classes: tt.classes})
		if tt.slot < 0 {
			if err != nil {
				t.Errorf("Validate(%s) = %v, want nil", tt.in, err)
			}
			continue
		}
		var ge *GeneError
		if !errors.As(err, &ge) {
			t.Errorf("Validate(%s) = %v, want a *GeneError", tt.in, err)
			continue
		}
		if ge.Slot != tt.slot || ge.Gene != tt.gene {
			t.Errorf("Validate(%s) names slot %d gene %v (%v), want slot %d gene %v",
				tt.in, ge.Slot+1, ge.Gene, err, tt.slot+1, tt.gene)
		}
	}
	if err := Validate(MustParse("11111-92121"), Space{Depth: 4}); err == nil {
		t.Error("Validate accepted a genome of the wrong depth")
	}
	if err := Validate(nil, Space{}); err == nil {
		t.Error("Validate accepted an empty genome")
	}
	if err := Validate(MustParse("11111"), Space{Classes: []int{0}}); err == nil {
		t.Error("Validate accepted an invalid space")
	}
}

func TestWiring(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []Wiring
	}{
		{"11111-92121", []Wiring{{0, 0, 0}, {1, 1, 1}}},
		{"11214-11214", []Wiring{{0, 0, 0}, {0, 0, 0}}},
		{"11112-21112-31113", []Wiring{{0, 0, 0}, {1, 0, 1}, {2, 2, 2}}},
		{"11113-92121-31113", []Wiring{{0, 0, 0}, {1, 1, 1}, {2, 2, 0}}},
		// Slot 2 reuses slot 1's keys and owns a featurizer group with slot 3,
		// which computes its own keys.
		{"11112-12212-12221", []Wiring{{0, 0, 0}, {1, 0, 1}, {1, 2, 2}}},
	}
	for _, tt := range tests {
		if got := MustParse(tt.in).Wiring(); !slices.Equal(got, tt.want) {
			t.Errorf("Wiring(%s) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestHash(t *testing.T) {
	t.Parallel()
	a := MustParse("1.7.2.7.1-9.3.1.3.1-1.7.2.7.1")
	b := MustParse("11211-92121-11231")
	if Hash(a) != Hash(b) {
		t.Errorf("relabelled genomes hash differently: %s %s", Hash(a), Hash(b))
	}
	if h := Hash(b); len(h) != 32 {
		t.Errorf("hash %q has %d characters, want 32", h, len(h))
	}
	if Hash(b) == Hash(MustParse("11111-92121-13131")) {
		t.Error("different architectures hash equal")
	}
	r := rand.New(rand.NewPCG(3, 4))
	seen := map[string]string{} // hash -> canonical text
	for range 3000 {
		g := rawGenome(r, 1+r.IntN(3))
		c := Format(Repair(g, Space{}))
		h := Hash(g)
		if prev, ok := seen[h]; ok && prev != c {
			t.Fatalf("hash %s for both %s and %s", h, prev, c)
		}
		seen[h] = c
	}
	byText := map[string]string{}
	for h, c := range seen {
		if prev, ok := byText[c]; ok && prev != h {
			t.Fatalf("canonical %s has hashes %s and %s", c, prev, h)
		}
		byText[c] = h
	}
}

func TestSpace(t *testing.T) {
	t.Parallel()
	if got := (Space{Classes: []int{9, 1, 5}}).ClassIDs(); !slices.Equal(got, []int{1, 5, 9}) {
		t.Errorf("ClassIDs = %v", got)
	}
	if got := (Space{}).ClassIDs(); len(got) != NumClasses || got[0] != 1 || got[NumClasses-1] != NumClasses {
		t.Errorf("default ClassIDs = %v", got)
	}
	for _, bad := range []Space{{Depth: -1}, {Classes: []int{0}}, {Classes: []int{19}}, {Classes: []int{3, 3}}} {
		if bad.Validate() == nil {
			t.Errorf("Space %+v validated", bad)
		}
	}
	if !(Space{Classes: []int{5}}).Allows(5) || (Space{Classes: []int{5}}).Allows(1) {
		t.Error("Allows is wrong")
	}
}
