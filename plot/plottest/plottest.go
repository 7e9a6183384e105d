// Package plottest writes small, fixed searches into a lineage database for
// the tests of the charts, the dashboard and their commands.
package plottest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/storage"
)

// Run ids of the fixture.
const (
	// Demo is running, objectives [mad_score params], population 6,
	// generations 3: generations 0-2 are done, 3 is running with three
	// candidates evaluated, two training and one pending. Two candidates
	// failed; one candidate of generation 1 repeats a seed genome.
	Demo = "r-demo"
	// Perplexity is finished, objective [perplexity], population 4,
	// generations 1.
	Perplexity = "r-ppl"
	// Empty is pending and has no candidates.
	Empty = "r-empty"
)

// DemoFront is the front of Demo on (mad_score, params) over every
// evaluated candidate.
var DemoFront = []string{"r-demo/g002/c0005", "r-demo/g003/c0000", "r-demo/g003/c0001", "r-demo/g003/c0002"}

// Created is the creation time of Demo. Perplexity was created a day
// earlier, Empty half an hour later.
var Created = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// cand is one fixture candidate: genome, operator, parents (as
// "generation/index"), and objectives or a failure.
type cand struct {
	genome  string
	op      storage.Operator
	parents []string
	status  storage.CandidateStatus
	obj     []float64 // in the run's objective order
	err     string
}

var demo = [][]cand{
	{
		{genome: "11111-92121-13131-94141-15151-96161-17171-98181", op: storage.OpSeed, obj: []float64{0.42, 412000}},
		{genome: "51111-92121-53131-94141-55151-96161-17171-98181", op: storage.OpSeed, obj: []float64{0.47, 356000}},
		{genome: "21111-82121-33131-94141-65151-66161-57171-68181", op: storage.OpRandom, obj: []float64{0.51, 388000}},
		{genome: "91111-52121-53131-10.4.1.4.1-10.5.1.5.1-66161-77171-18181", op: storage.OpRandom, obj: []float64{0.63, 298000}},
		{genome: "81111-72121-83131-18.4.1.4.1-65251-56161-65271-57181", op: storage.OpRandom, obj: []float64{0.58, 455000}},
		{genome: "51111-22121-13234-24134-13241-10.5.1.5.1-76161-13271", op: storage.OpRandom,
			status: storage.CandFailed, err: "training diverged: loss is NaN at step 37"},
	},
	{
		{genome: "11211-92121-11231-93141-54251-95161-54271-96181", op: storage.OpCrossMut, parents: []string{"0/0", "0/1"},
			obj: []float64{0.40, 330000}},
		{genome: "51211-92121-33133-24133-75141-51253-56153-17161", op: storage.OpCrossover, parents: []string{"0/1", "0/0"},
			obj: []float64{0.49, 301000}},
		{genome: "21111-72121-23131-18.4.1.4.1-15151-10.6.1.6.1-97171-10.8.1.8.1", op: storage.OpMutation,
			parents: []string{"0/2"}, obj: []float64{0.45, 420000}},
		{genome: "11112-12221-12231-53141-84151-75161-26171-17112", op: storage.OpMutation, parents: []string{"0/0"},
			obj: []float64{0.44, 365000}},
		{genome: "61111-52121-23133-54141-35151-16133-10.7.1.6.1-10.8.1.7.1", op: storage.OpCrossover,
			parents: []string{"0/3", "0/1"}, obj: []float64{0.55, 280000}},
		{genome: "11111-92121-13131-94141-15151-96161-17171-98181", op: storage.OpMutation, parents: []string{"0/4"},
			obj: []float64{0.42, 412000}},
	},
	{
		{genome: "51211-51221-72131-83141-84151-95161-36171-10.7.1.8.1", op: storage.OpMutation, parents: []string{"1/0"},
			obj: []float64{0.38, 318000}},
		{genome: "61111-52121-18.3.1.3.1-74144-18.5.1.5.1-96161-27171-78144", op: storage.OpCrossover,
			parents: []string{"1/1", "1/4"}, obj: []float64{0.52, 262000}},
		{genome: "71212-92121-23133-18.4.1.4.1-25133-18.6.1.5.1-97161-71212", op: storage.OpCrossMut,
			parents: []string{"1/0", "1/3"}, obj: []float64{0.41, 351000}},
		{genome: "51111-62124-93131-24143-18.5.1.5.1-16161-67124-18143", op: storage.OpMutation, parents: []string{"0/1"},
			obj: []float64{0.46, 309000}},
		{genome: "61213-72124-10.3.1.3.3-74124-75141-61213-16151-10.7.1.3.3", op: storage.OpMutation,
			parents: []string{"1/4"}, status: storage.CandFailed, err: "training: out of memory"},
		{genome: "18.1.1.1.1-62121-83131-10.4.1.4.1-18.5.1.5.1-10.6.1.6.1-57171-98181", op: storage.OpCrossover,
			parents: []string{"1/1", "1/0"}, obj: []float64{0.60, 240000}},
	},
	{
		{genome: "81111-32121-93131-74142-75142-10.6.1.5.1-57161-68171", op: storage.OpMutation, parents: []string{"2/0"},
			obj: []float64{0.36, 296000}},
		{genome: "51111-82221-33133-18.4.1.4.1-15133-36151-82261-27133", op: storage.OpCrossover,
			parents: []string{"2/3", "2/1"}, obj: []float64{0.50, 250000}},
		{genome: "21111-12121-63231-18.4.1.4.1-95151-56161-63273-67173", op: storage.OpCrossover,
			parents: []string{"2/1", "2/3"}, obj: []float64{0.47, 275000}},
		{genome: "71111-22221-22231-93141-54151-10.5.1.6.2-18.6.1.7.1-10.7.1.6.2", op: storage.OpMutation,
			parents: []string{"2/5"}, status: storage.CandTraining},
		{genome: "18.1.2.1.1-18.1.2.2.1-62131-83141-34151-18.5.1.6.1-26171-87181", op: storage.OpMutation,
			parents: []string{"2/2"}, status: storage.CandTraining},
		{genome: "10.1.1.1.1-10.2.1.2.1-73131-84141-95151-76161-57171-28181", op: storage.OpCrossover,
			parents: []string{"2/0", "2/5"}, status: storage.CandPending},
	},
}

// demoSelection is the population each finished generation of Demo
// selected, as "generation/index", and its hypervolume.
var demoSelection = []struct {
	pop []string
	hv  float64
}{
	{[]string{"0/0", "0/1", "0/2", "0/3", "0/4", "0/5"}, 0.31},
	{[]string{"1/0", "1/1", "1/4", "0/0", "1/3", "0/1"}, 0.44},
	{[]string{"2/0", "2/3", "1/1", "2/1", "2/5", "2/2"}, 0.53},
}

var ppl = [][]cand{
	{
		{genome: "11111-92121-13131-94141", op: storage.OpSeed, obj: []float64{31.5}},
		{genome: "51111-92121-13131-94141", op: storage.OpSeed, obj: []float64{29.8}},
		{genome: "71111-92121-13131-94141", op: storage.OpRandom, obj: []float64{40.2}},
		{genome: "81111-92121-53131-94141", op: storage.OpRandom, obj: []float64{35.1}},
	},
	{
		{genome: "51111-92121-53131-94141", op: storage.OpMutation, parents: []string{"0/1"}, obj: []float64{27.9}},
		{genome: "11111-92121-53131-94141", op: storage.OpCrossover, parents: []string{"0/0", "0/1"}, obj: []float64{28.4}},
		{genome: "71111-92121-53131-94141", op: storage.OpCrossover, parents: []string{"0/2", "0/1"}, obj: []float64{33.0}},
		{genome: "51111-92121-73131-94141", op: storage.OpMutation, parents: []string{"0/3"}, obj: []float64{30.6}},
	},
}

var pplSelection = []struct {
	pop []string
	hv  float64
}{
	{[]string{"0/1", "0/0", "0/3", "0/2"}, 0.12},
	{[]string{"1/0", "1/1", "0/1", "1/3"}, 0.19},
}

// Populate writes the three fixture runs into db.
func Populate(ctx context.Context, db *storage.DB) error {
	dcfg := config.Default()
	dcfg.Population, dcfg.Generations = 6, 3
	dcfg.Objectives = []string{config.MADScore, config.Params}
	dcfg.Search.Depth = 8
	if err := addRun(ctx, db, Demo, Created, dcfg, storage.RunRunning, demo, demoSelection); err != nil {
		return err
	}
	pcfg := config.Default()
	pcfg.Population, pcfg.Generations = 4, 1
	pcfg.Objectives = []string{config.Perplexity}
	pcfg.Search.Depth = 4
	pcfg.Algorithm.Name = config.GA
	err := addRun(ctx, db, Perplexity, Created.Add(-24*time.Hour), pcfg, storage.RunFinished, ppl, pplSelection)
	if err != nil {
		return err
	}
	return addRun(ctx, db, Empty, Created.Add(30*time.Minute), config.Default(), storage.RunPending, nil, nil)
}

func addRun(ctx context.Context, db *storage.DB, id string, created time.Time, cfg config.Config, status storage.RunStatus,
	gens [][]cand, sel []struct {
		pop []string
		hv  float64
	}) error {
	y, err := cfg.YAML()
	if err != nil {
		return fmt.Errorf("encoding config of %s: %w", id, err)
	}
	err = db.CreateRun(ctx, storage.Run{ID: id, Created: created, Status: storage.RunPending, Seed: cfg.Seed,
		Config: string(y), ConfigHash: cfg.Hash(), Algorithm: cfg.Algorithm.Name, Population: cfg.Population,
		Generations: cfg.Generations})
	if err != nil {
		return err
	}
	ref := func(s string) string {
		var g, i int
		fmt.Sscanf(s, "%d/%d", &g, &i)
		return storage.CandidateID(id, g, i)
	}
	for gi, cs := range gens {
		if err := db.StartGeneration(ctx, id, gi); err != nil {
			return err
		}
		for ci, c := range cs {
			g, err := genome.Parse(c.genome)
			if err != nil {
				return fmt.Errorf("fixture genome %s: %w", c.genome, err)
			}
			var parents []string
			for _, p := range c.parents {
				parents = append(parents, ref(p))
			}
			cid := storage.CandidateID(id, gi, ci)
			queued := created.Add(time.Duration(gi*10+ci) * time.Minute)
			err = db.AddCandidates(ctx, storage.Candidate{RunID: id, Generation: gi, Index: ci, Genome: genome.Format(g),
				GenomeHash: genome.Hash(g), Parents: parents, Operator: c.op, Seed: uint64(1000*gi + ci), Queued: queued})
			if err != nil {
				return err
			}
			if c.status == storage.CandPending {
				continue
			}
			if err := db.StartCandidate(ctx, cid, "worker-1", queued.Add(time.Second)); err != nil {
				return err
			}
			switch c.status {
			case storage.CandTraining:
				continue
			case storage.CandFailed:
				if err := db.FailCandidate(ctx, cid, c.err); err != nil {
					return err
				}
				continue
			}
			obj := map[string]float64{}
			for i, o := range cfg.Objectives {
				obj[o] = c.obj[i]
			}
			err = db.CompleteCandidate(ctx, cid, storage.Result{Objectives: obj, Metrics: metrics(c.obj[0], gi, ci),
				Finished: queued.Add(95 * time.Second), TrainSeconds: 94, Checkpoint: "artifacts/" + cid})
			if err != nil {
				return err
			}
		}
		if gi < len(sel) {
			var pop []string
			for _, p := range sel[gi].pop {
				pop = append(pop, ref(p))
			}
			if err := db.FinishGeneration(ctx, id, gi, sel[gi].hv, pop); err != nil {
				return err
			}
		}
	}
	if status != storage.RunPending {
		return db.SetRunStatus(ctx, id, status, "")
	}
	return nil
}

// metrics returns a candidate's training record: a loss curve falling
// towards a level set by its first objective, and a throughput.
func metrics(quality float64, gen, idx int) json.RawMessage {
	end := 1.2 + quality
	if quality > 5 { // perplexity
		end = math.Log(quality)
	}
	losses := make([]float64, 12)
	for i := range losses {
		losses[i] = math.Round((end+(5.5-end)*math.Exp(-float64(i)/3))*1e4) / 1e4
	}
	b, _ := json.Marshal(map[string]any{
		"losses":             losses,
		"train_tokens_per_s": 2000 + 100*gen + 10*idx,
		"steps":              len(losses),
	})
	return b
}

// Open opens a lineage database in a temporary directory of t, writes the
// fixture into it and closes it when t ends.
func Open(t testing.TB) *storage.DB {
	t.Helper()
	db := OpenEmpty(t)
	if err := Populate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return db
}

// OpenEmpty opens an empty lineage database in a temporary directory of t
// and closes it when t ends.
func OpenEmpty(t testing.TB) *storage.DB {
	t.Helper()
	db, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "star.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
