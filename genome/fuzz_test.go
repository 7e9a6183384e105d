package genome

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"11111-91111", "10.1.1.1.1", "1.12.2.12.2", " 11111 - 92121 ", "", "-", "1.1.1.1", "111111",
		"1.1.1.1.1.1", "9999999999.1.1.1.1", "x", "11111--", "１1111", "0.0.0.0.0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := Parse(s)
		if err != nil {
			return
		}
		text := Format(g)
		back, err := Parse(text)
		if err != nil {
			t.Fatalf("Parse(Format(%v)) = %v", g, err)
		}
		if !slices.Equal(back, g) {
			t.Fatalf("Parse(Format(g)) = %v, want %v", back, g)
		}
		r := Repair(g, Space{})
		if !slices.Equal(Repair(r, Space{}), r) {
			t.Fatalf("Repair not idempotent on %s", r)
		}
		if err := Validate(r, Space{}); err != nil {
			t.Fatalf("Repair(%s) = %s is invalid: %v", text, r, err)
		}
		if Hash(g) != Hash(r) {
			t.Fatalf("Hash changes under repair for %s", text)
		}
	})
}

// genomeFromBytes builds a genome with arbitrary (also out-of-range) genes.
func genomeFromBytes(data []byte) Genome {
	var g Genome
	for len(data) >= 5 && len(g) < 64 {
		g = append(g, Slot{int(int8(data[0])) % 24, int(int8(data[1])) % 70, int(int8(data[2])) % 5,
			int(int8(data[3])) % 70, int(int8(data[4])) % 7})
		data = data[5:]
	}
	return g
}

func FuzzRepair(f *testing.F) {
	f.Add([]byte{1, 1, 2, 1, 4, 1, 1, 2, 1, 4}, uint8(0))
	f.Add([]byte{9, 1, 2, 1, 4, 1, 1, 2, 1, 4, 1, 1, 2, 1, 4}, uint8(3))
	f.Add([]byte{200, 0, 9, 255, 8, 18, 3, 2, 3, 3}, uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		g := genomeFromBytes(data)
		if len(g) == 0 {
			return
		}
		spaces := []Space{{}, {Classes: []int{1, 5, 9}}, {Classes: []int{9, 18}}, {Classes: []int{2, 11, 17}}}
		space := spaces[int(which)%len(spaces)]
		once := Repair(g, space)
		if !slices.Equal(Repair(once, space), once) {
			t.Fatalf("Repair not idempotent on %v", g)
		}
		if err := Validate(once, space); err != nil {
			t.Fatalf("Repair(%v) = %s is invalid: %v", g, once, err)
		}
		back, err := Parse(Format(once))
		if err != nil || !slices.Equal(back, once) {
			t.Fatalf("round trip of %s: %v, %v", once, back, err)
		}
		if len(g) > 0 && Validate(g, space) == nil {
			// A valid genome differs from its repair by group numbering only.
			if !slices.Equal(g.Wiring(), once.Wiring()) {
				t.Fatalf("valid %v and its repair %s wire differently", g, once)
			}
		}
	})
}

func FuzzVariation(f *testing.F) {
	f.Add(uint64(1), uint8(8), uint8(10), uint8(2))
	f.Add(uint64(2), uint8(1), uint8(100), uint8(0))
	f.Add(uint64(3), uint8(48), uint8(5), uint8(7))
	f.Fuzz(func(t *testing.T, seed uint64, depth, rate, points uint8) {
		d := 1 + int(depth)%48
		space := Space{Depth: d}
		if seed%3 == 0 {
			space.Classes = []int{1, 5, 9, 18}
		}
		r := rand.New(rand.NewPCG(seed, 99))
		a, b := Random(r, space), Random(r, space)
		checkCanonical(t, "Random", a, space)
		m := Mutate(r, a, space, float64(rate)/255)
		checkCanonical(t, "Mutate", m, space)
		c1, c2 := Crossover(r, m, b, int(points)%6)
		checkCanonical(t, "Crossover", c1, space)
		checkCanonical(t, "Crossover", c2, space)
		if (Hash(c1) == Hash(c2)) != slices.Equal(c1, c2) {
			t.Fatalf("hash equality disagrees with genome equality for %s, %s", c1, c2)
		}
	})
}
