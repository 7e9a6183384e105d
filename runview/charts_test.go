package runview_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/star-pipeline/star-pipeline/plot/plottest"
	"github.com/star-pipeline/star-pipeline/runview"
	"github.com/star-pipeline/star-pipeline/storage"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// setup opens a lineage database in a temporary directory and writes the
// fixture runs into it.
func setup(t *testing.T) (*storage.DB, context.Context) {
	t.Helper()
	return plottest.Open(t), context.Background()
}

// emptyDB opens an empty lineage database in a temporary directory, closed
// when t ends, and returns it with a context and a check that fails t on
// an error.
func emptyDB(t *testing.T) (*storage.DB, context.Context, func(error)) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	return plottest.OpenEmpty(t), context.Background(), must
}

// golden compares v, as indented JSON, with testdata/name.
func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; got:\n%s", name, got)
	}
}

func TestPareto(t *testing.T) {
	t.Parallel()
	db, ctx := setup(t)
	d, err := runview.Pareto(ctx, db, plottest.Demo, "mad_score", "params")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "pareto_demo.json", d)
	var front []string
	for _, p := range d.Front() {
		front = append(front, p.Candidate)
	}
	slices.Sort(front)
	if !slices.Equal(front, plottest.DemoFront) {
		t.Errorf("front %v, want %v", front, plottest.DemoFront)
	}
	if len(d.Points) != 19 {
		t.Errorf("%d points, want the 19 evaluated candidates", len(d.Points))
	}
	for _, p := range d.Points {
		if want := p.Candidate == "r-demo/g001/c0005"; p.Copy != want {
			t.Errorf("%s: copy %v, want %v", p.Candidate, p.Copy, want)
		}
	}
	// The staircase order: x ascending.
	f := d.Front()
	for i := 1; i < len(f); i++ {
		if f[i].X < f[i-1].X {
			t.Errorf("front not ordered by x: %+v", f)
		}
	}

	d, err = runview.Pareto(ctx, db, plottest.Perplexity, runview.Generation, "perplexity")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "pareto_ppl.json", d)
	if x, y := runview.DefaultAxes(storage.Run{Config: "objectives: [perplexity]\n"}); x != runview.Generation || y != "perplexity" {
		t.Errorf("DefaultAxes of one objective = %s, %s", x, y)
	}

	d, err = runview.Pareto(ctx, db, plottest.Empty, "mad_score", "params")
	if err != nil || len(d.Points) != 0 || d.Points == nil {
		t.Errorf("empty run: %+v, %v", d, err)
	}
}

func TestParetoErrors(t *testing.T) {
	t.Parallel()
	db, ctx := setup(t)
	if _, err := runview.Pareto(ctx, db, "nope", "mad_score", "params"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("unknown run: %v", err)
	}
	for _, axes := range [][2]string{{"perplexity", "params"}, {"mad_score", ""}, {"latency", "mad_score"}} {
		if _, err := runview.Pareto(ctx, db, plottest.Demo, axes[0], axes[1]); !errors.Is(err, runview.ErrUnknownAxis) {
			t.Errorf("axes %v: %v, want ErrUnknownAxis", axes, err)
		}
	}
}

func TestHypervolume(t *testing.T) {
	t.Parallel()
	db, ctx := setup(t)
	hv, err := runview.Hypervolume(ctx, db, plottest.Demo)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "hypervolume_demo.json", hv)
	hv, err = runview.Hypervolume(ctx, db, plottest.Empty)
	if err != nil || len(hv) != 0 || hv == nil {
		t.Errorf("empty run: %v, %v", hv, err)
	}
	if _, err := runview.Hypervolume(ctx, db, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("unknown run: %v", err)
	}
}

func TestClasses(t *testing.T) {
	t.Parallel()
	db, ctx := setup(t)
	d, err := runview.Classes(ctx, db, plottest.Demo)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "classes_demo.json", d)
	if len(d.Generations) != 4 {
		t.Fatalf("%d generations, want 4", len(d.Generations))
	}
	for _, g := range d.Generations {
		var pop, front int
		for _, c := range g.Counts {
			pop += c.Population
			front += c.Front
		}
		if pop != g.PopulationSlots || front != g.FrontSlots || pop != 8*g.Members || front != 8*g.FrontMembers {
			t.Errorf("generation %d: counts %d/%d do not add up: %+v", g.Generation, pop, front, g)
		}
	}
	// Generation 3 has no selection yet: its population is what it created,
	// and its front is its three evaluated candidates.
	if g := d.Generations[3]; g.Members != 6 || g.FrontMembers != 3 {
		t.Errorf("generation 3: %d members, %d on the front; want 6 and 3", g.Members, g.FrontMembers)
	}
	// Generation 1's selection repeats nothing, so its front is computed
	// from six members of which three are on the front.
	if g := d.Generations[1]; g.Members != 6 || g.FrontMembers != 3 {
		t.Errorf("generation 1: %d members, %d on the front; want 6 and 3", g.Members, g.FrontMembers)
	}
	d, err = runview.Classes(ctx, db, plottest.Empty)
	if err != nil || len(d.Generations) != 0 || len(d.Classes) != 0 {
		t.Errorf("empty run: %+v, %v", d, err)
	}
	if _, err := runview.Classes(ctx, db, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("unknown run: %v", err)
	}
}
