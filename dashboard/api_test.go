package dashboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/dashboard"
	"github.com/star-pipeline/star-pipeline/export"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/plot/plottest"
	"github.com/star-pipeline/star-pipeline/runview"
	"github.com/star-pipeline/star-pipeline/storage"
)

// jsonOf marshals v as the API does (compact) for byte comparisons.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// normalise re-encodes a JSON document so that two encodings of the same
// value compare equal whatever their indentation.
func normalise(t *testing.T, doc string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	return jsonOf(t, v)
}

// /api/runs answers the read model's summaries, the JSON `runs --json`
// prints, field for field.
func TestAPIRunsIsTheReadModel(t *testing.T) {
	t.Parallel()
	s, db := setup(t, dashboard.Options{})
	runs, err := runview.LoadAll(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]runview.Summary, len(runs))
	for i, d := range runs {
		want[i] = runview.Summarise(d, now)
	}
	code, _, body := do(t, s, "GET", "/api/runs")
	if code != 200 || normalise(t, body) != normalise(t, jsonOf(t, want)) {
		t.Errorf("GET /api/runs: %d\n%s\nwant\n%s", code, body, jsonOf(t, want))
	}

	var finished []runview.Summary
	decode(t, s, "/api/runs?status=finished", &finished)
	if len(finished) != 1 || finished[0].ID != plottest.Perplexity {
		t.Errorf("?status=finished: %+v", finished)
	}
	var two []runview.Summary
	decode(t, s, "/api/runs?status=running&status=pending", &two)
	if len(two) != 2 || two[0].ID != plottest.Empty || two[1].ID != plottest.Demo {
		t.Errorf("?status=running&status=pending: %+v", two)
	}
	if code, _, body := do(t, s, "GET", "/api/runs?status=bogus"); code != 400 || !strings.Contains(body, "bad status") {
		t.Errorf("?status=bogus: %d %s", code, body)
	}
}

func TestAPIRunDetail(t *testing.T) {
	t.Parallel()
	s, db := setup(t, dashboard.Options{})
	d, err := runview.Load(context.Background(), db, plottest.Demo)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		ID         string `json:"id"`
		Evaluated  int    `json:"evaluated"`
		ConfigYAML string `json:"config_yaml"`
		History    []struct {
			Index      int                             `json:"index"`
			Population []string                        `json:"population"`
			Candidates map[storage.CandidateStatus]int `json:"candidates"`
		} `json:"history"`
		Front []struct {
			ID string `json:"id"`
		} `json:"front"`
	}
	decode(t, s, "/api/runs/"+plottest.Demo, &got)
	gens := runview.SummariseGenerations(d)
	if got.ID != plottest.Demo || got.ConfigYAML != d.Run.Config || len(got.History) != len(gens) {
		t.Fatalf("detail %+v", got)
	}
	for i, g := range gens {
		h := got.History[i]
		if h.Index != g.Index || !reflect.DeepEqual(h.Candidates, g.ByStatus) || !slices.Equal(h.Population, g.Population) {
			t.Errorf("history[%d] %+v, want %+v", i, h, g)
		}
	}
	var front []string
	for _, f := range got.Front {
		front = append(front, f.ID)
	}
	if !slices.Equal(front, plottest.DemoFront) {
		t.Errorf("front %v, want %v", front, plottest.DemoFront)
	}
	if code, _, body := do(t, s, "GET", "/api/runs/nope"); code != 404 || !strings.Contains(body, "nope") {
		t.Errorf("unknown run: %d %s", code, body)
	}
}

func TestAPICandidate(t *testing.T) {
	t.Parallel()
	s, db := setup(t, dashboard.Options{})
	ctx := context.Background()
	const id = "r-demo/g001/c0000"
	c, err := db.GetCandidate(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	run, err := db.GetRun(ctx, c.RunID)
	if err != nil {
		t.Fatal(err)
	}
	cfg := runview.ConfigOrDefault(run)
	g := genome.MustParse(c.Genome)
	costs, err := arch.Costs(g, cfg.Search.Dims.WithDefaults())
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		ID        string           `json:"id"`
		Hash      string           `json:"hash"`
		Children  []string         `json:"children"`
		Wiring    []genome.Wiring  `json:"wiring"`
		Costs     *arch.CostReport `json:"costs"`
		CostError string           `json:"cost_error"`
	}
	decode(t, s, "/api/candidates/"+id, &got)
	cands, err := db.ListCandidates(ctx, c.RunID, -1)
	if err != nil {
		t.Fatal(err)
	}
	var children []string
	for _, o := range cands {
		if slices.Contains(o.Parents, id) {
			children = append(children, o.ID)
		}
	}
	if got.ID != id || got.Hash != genome.Hash(g) || !slices.Equal(got.Children, children) || len(children) == 0 {
		t.Errorf("candidate %+v; want children %v", got, children)
	}
	if got.Costs == nil || got.Costs.Params != costs.Params || got.Costs.CacheBytes != costs.CacheBytes ||
		!reflect.DeepEqual(got.Wiring, g.Wiring()) || got.CostError != "" {
		t.Errorf("costs %+v wiring %v (%s), want params %d cache %d", got.Costs, got.Wiring, got.CostError,
			costs.Params, costs.CacheBytes)
	}

	// The export endpoint answers export.Build's document as a download.
	req := httptest.NewRequest("GET", "/api/candidates/"+id+"/export", nil)
	req.Host = testHost
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	want, err := export.Build(c, run, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Code != 200 || normalise(t, rec.Body.String()) != normalise(t, jsonOf(t, want)) {
		t.Errorf("export: %d\n%.400s", rec.Code, rec.Body.String())
	}
	if cd := rec.Header().Get("Content-Disposition"); cd != `attachment; filename="r-demo_g001_c0000.json"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	for _, target := range []string{"/api/candidates/nope", "/api/candidates/nope/export"} {
		if code, _, _ := do(t, s, "GET", target); code != 404 {
			t.Errorf("GET %s: %d, want 404", target, code)
		}
	}
}

// A candidate whose genome does not parse still answers, with the reason
// in cost_error; its export cannot be built (409).
func TestAPICandidateBadGenome(t *testing.T) {
	t.Parallel()
	s, db := setup(t, dashboard.Options{})
	ctx := context.Background()
	if err := db.AddCandidates(ctx, storage.Candidate{RunID: plottest.Perplexity, Generation: 0, Index: 99,
		Genome: "garbage", Operator: storage.OpRandom}); err != nil {
		t.Fatal(err)
	}
	id := storage.CandidateID(plottest.Perplexity, 0, 99)
	var got struct {
		Costs     *arch.CostReport `json:"costs"`
		Wiring    []genome.Wiring  `json:"wiring"`
		CostError string           `json:"cost_error"`
	}
	decode(t, s, "/api/candidates/"+id, &got)
	if got.Costs != nil || got.Wiring != nil || !strings.Contains(got.CostError, "genome") {
		t.Errorf("bad genome: %+v", got)
	}
	if code, _, body := do(t, s, "GET", "/api/candidates/"+id+"/export"); code != 409 || !strings.Contains(body, "does not parse") {
		t.Errorf("export of a bad genome: %d %s", code, body)
	}
}
