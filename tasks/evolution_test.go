package tasks

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/star-pipeline/star-pipeline/config"
)

// selectRun returns the YAML of a run of population 4 with the algorithm,
// and 8 distinct genomes of its space as healthy members c0..c7.
func selectRun(t *testing.T, alg string) (string, []Member) {
	t.Helper()
	c := config.Default()
	c.Algorithm.Name = alg
	c.Objectives = []string{config.Params, config.CacheBytes}
	c.Population = 8
	ms := population(t, c)
	for i := range ms {
		ms[i].Failed = false
		ms[i].Objectives = []float64{float64(10 + i%4), float64(10 + (7-i)%5)}
	}
	c.Population = 4
	yaml, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	return string(yaml), ms
}

// failAll marks every member failed, some with no objectives and some with
// leftovers that must not be read.
func failAll(ms []Member) []Member {
	out := slices.Clone(ms)
	for i := range out {
		out[i].Failed = true
		switch i % 3 {
		case 0:
			out[i].Objectives = nil
		case 1:
			out[i].Objectives = []float64{math.NaN()}
		}
	}
	return out
}

// TestSelectWithFailures runs the select stage on generations with any
// number of failed candidates, for every algorithm, with and without
// normalisation bounds (the coordinator sends none when every candidate of
// generation 0 failed): no error, failed candidates rank last, and a
// hypervolume of 0 where it cannot be measured.
func TestSelectWithFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bounds := [2][]float64{{10, 10}, {13, 14}}
	for _, alg := range []string{config.NSGA2, config.GA, config.Firefly} {
		yaml, ms := selectRun(t, alg)
		parents, offspring := ms[:4], ms[4:]
		mixed := func(m []Member) []Member {
			out := slices.Clone(m)
			out[1].Failed, out[1].Objectives = true, nil
			out[2].Failed = true
			return out
		}
		// Non-failed members with unusable objectives count as failed.
		malformed := slices.Clone(offspring)
		malformed[0].Objectives = nil
		malformed[1].Objectives = []float64{1, 2, 3}
		malformed[2].Objectives = []float64{math.NaN(), 1}
		malformed[3].Objectives = []float64{math.Inf(1), 1}
		cases := []struct {
			name               string
			generation         int
			parents, offspring []Member
			bounds             bool
			healthy            []string // survivors that did not fail, in any order
			hypervolume        bool     // > 0
		}{
			{"generation 0 all failed", 0, nil, failAll(offspring), false, nil, false},
			{"generation 0 partly failed", 0, nil, mixed(offspring), true, []string{"c4", "c7"}, true},
			{"parents failed, no bounds", 1, failAll(parents), offspring, false, []string{"c4", "c5", "c6", "c7"}, false},
			{"offspring failed", 1, parents, failAll(offspring), true, []string{"c0", "c1", "c2", "c3"}, true},
			{"all failed, no bounds", 2, failAll(parents), failAll(offspring), false, nil, false},
			{"all failed, with bounds", 2, failAll(parents), failAll(offspring), true, nil, false},
			{"partly failed", 2, mixed(parents), mixed(offspring), true, []string{"c0", "c3", "c4", "c7"}, true},
			{"malformed objectives", 1, parents, malformed, true, []string{"c0", "c1", "c2", "c3"}, true},
		}
		for _, tc := range cases {
			what := alg + "/" + tc.name
			p := SelectPayload{Node: Node{Run: "r", Generation: tc.generation, Stage: StageSelect}, Config: yaml,
				Parents: tc.parents, Offspring: tc.offspring}
			if tc.bounds {
				p.Ideal, p.Nadir = bounds[0], bounds[1]
			}
			res, err := Select(ctx, p)
			if err != nil {
				t.Errorf("%s: %v", what, err)
				continue
			}
			again, err := Select(ctx, p)
			if err != nil || fmt.Sprint(again) != fmt.Sprint(res) {
				t.Errorf("%s: a rerun (resume) gives %+v, %v; first %+v", what, again, err, res)
			}
			if len(res.Population) != 4 {
				t.Errorf("%s: population %v, want 4 candidates", what, res.Population)
				continue
			}
			got := slices.Clone(res.Population[:len(tc.healthy)])
			slices.Sort(got)
			if !slices.Equal(got, tc.healthy) {
				t.Errorf("%s: population %v, want %v first", what, res.Population, tc.healthy)
			}
			for _, id := range res.Front {
				if !slices.Contains(tc.healthy, id) {
					t.Errorf("%s: front %v holds %s, which failed", what, res.Front, id)
				}
			}
			if len(tc.healthy) > 0 && len(res.Front) == 0 {
				t.Errorf("%s: empty front with healthy survivors", what)
			}
			if (res.Hypervolume > 0) != tc.hypervolume || math.IsNaN(res.Hypervolume) {
				t.Errorf("%s: hypervolume %v, want > 0: %v", what, res.Hypervolume, tc.hypervolume)
			}
		}
		// Breeding from a population that failed entirely works too.
		pop := failAll(parents)
		children := 4
		if alg == config.GA {
			children = 4 - config.Default().Algorithm.GA.Elitism
		}
		for i := range children {
			b := Breeding{Node: Node{Run: "r", Generation: 1, Stage: StageRecombine, Index: i}, Config: yaml, Population: pop}
			rec, err := Recombine(ctx, b)
			if err != nil {
				t.Fatalf("%s: recombine from a failed population: %v", alg, err)
			}
			b.Node.Stage = StageMutate
			if _, err := Mutate(ctx, MutatePayload{Breeding: b, Genome: rec.Genome, Attempt: rec.Attempt}); err != nil {
				t.Fatalf("%s: mutate from a failed population: %v", alg, err)
			}
		}
	}
}

// TestHypervolumeBounds checks the hypervolume's handling of bounds: none
// (every candidate of generation 0 failed) measures 0; bounds of the wrong
// length are a permanent error.
func TestHypervolumeBounds(t *testing.T) {
	t.Parallel()
	pts := [][]float64{{1, 2}, {2, 1}}
	if hv, err := Hypervolume(pts, nil, nil); err != nil || hv != 0 {
		t.Errorf("no bounds: %v, %v; want 0", hv, err)
	}
	if hv, err := Hypervolume(nil, []float64{0, 0}, []float64{1, 1}); err != nil || hv != 0 {
		t.Errorf("no points: %v, %v; want 0", hv, err)
	}
	if hv, err := Hypervolume(pts, []float64{0, 0}, []float64{2, 2}); err != nil || hv <= 0 {
		t.Errorf("bounds: %v, %v", hv, err)
	}
	if _, err := Hypervolume(pts, []float64{0}, []float64{2}); err == nil {
		t.Error("bounds of one objective for points of two: no error")
	}
}
