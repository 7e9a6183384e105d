package export_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/export"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/storage"
)

func TestBuild(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	yml, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	run := storage.Run{ID: "r1", Config: string(yml), ConfigHash: cfg.Hash()}
	// A non-canonical spelling of a valid genome, stored without a hash.
	const text = "51111-92121"
	g := genome.MustParse(text)
	cand := storage.Candidate{ID: "r1/g000/c0001", RunID: "r1", Index: 1, Status: storage.CandEvaluated, Genome: text,
		Operator: storage.OpSeed, Objectives: map[string]float64{"params": 3}, Metrics: json.RawMessage(`{"a":1}`),
		Checkpoint: "/ckpt/r1/g000/c0001"}
	out, err := export.Build(cand, run, cfg)
	if err != nil {
		t.Fatal(err)
	}
	dims := cfg.Search.Dims.WithDefaults()
	costs, err := arch.Costs(g, dims)
	if err != nil {
		t.Fatal(err)
	}
	if out.Genome != genome.Format(g) || out.Hash != genome.Hash(g) || len(out.Slots) != 2 || out.Slots[0] != g[0] {
		t.Errorf("genome fields: %q %q %v", out.Genome, out.Hash, out.Slots)
	}
	if out.Parents == nil || len(out.Parents) != 0 {
		t.Errorf("parents %v, want an empty list (never null)", out.Parents)
	}
	if out.Dims != dims || out.ConfigYAML != run.Config || out.ConfigHash != cfg.Hash() || out.Config.Hash() != cfg.Hash() {
		t.Errorf("config fields: dims %+v hash %s", out.Dims, out.ConfigHash)
	}
	if out.Costs == nil || out.CostErr != nil || out.Costs.Params != costs.Params || out.Costs.CacheBytes != costs.CacheBytes {
		t.Errorf("costs %+v (%v), want params %d", out.Costs, out.CostErr, costs.Params)
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"costs":{`, `"dims":{`, `"config_yaml":`, `"checkpoint":"/ckpt/r1/g000/c0001"`, `"metrics":{"a":1}`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("JSON lacks %s", k)
		}
	}
	if strings.Contains(string(b), `"weights"`) {
		t.Error("weights appear though none were written")
	}

	// Costs that cannot be computed at the run's dims are reported, not
	// fatal: width 60 with head dim 16.
	odd := cfg
	odd.Search.Dims = arch.Config{Width: 60, HeadDim: 16}
	out, err = export.Build(storage.Candidate{ID: "r1/g000/c0002", Genome: "11111"}, run, odd)
	if err != nil || out.Costs != nil || out.CostErr == nil || !strings.Contains(out.CostErr.Error(), "r1/g000/c0002") {
		t.Errorf("odd dims: costs %v, cost error %v, err %v", out.Costs, out.CostErr, err)
	}

	for _, bad := range []string{"garbage", "99.1.1.1.1-11111"} {
		if _, err := export.Build(storage.Candidate{ID: "r1/g000/c0003", Genome: bad}, run, cfg); err == nil ||
			!strings.Contains(err.Error(), "r1/g000/c0003") {
			t.Errorf("genome %q: err %v, want one naming the candidate", bad, err)
		}
	}
}
