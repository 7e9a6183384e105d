package dashboard

import (
	"cmp"
	"context"
	"encoding/json"
	"math"
	"slices"
	"time"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/runview"
	"github.com/star-pipeline/star-pipeline/storage"
)

// CancelMessage is the error text of a run cancelled from the dashboard.
const CancelMessage = "cancelled from the dashboard"

// RunSummary is one run as the runs page and /api/runs show it. Its JSON
// field names follow `star-pipeline runs --json`.
type RunSummary struct {
	ID                string             `json:"id"`
	Status            storage.RunStatus  `json:"status"`
	Algorithm         string             `json:"algorithm"`
	Seed              uint64             `json:"seed"`
	Population        int                `json:"population"`
	Generations       int                `json:"generations"`
	CurrentGeneration int                `json:"current_generation"`
	Objectives        []string           `json:"objectives"`
	Best              map[string]float64 `json:"best"` // min per objective over evaluated candidates
	Candidates        int                `json:"candidates"`
	Evaluated         int                `json:"evaluated"`
	Failed            int                `json:"failed"`
	Training          int                `json:"training"`
	Pending           int                `json:"pending"`
	Hypervolume       *float64           `json:"hypervolume,omitempty"` // of the last selected generation
	TokensPerSecond   *float64           `json:"train_tokens_per_s,omitempty"`
	Created           time.Time          `json:"created"`
	Updated           time.Time          `json:"updated"`
	Finished          *time.Time         `json:"finished,omitempty"`
	ElapsedSeconds    float64            `json:"elapsed_seconds"`
	ConfigHash        string             `json:"config_hash"`
	Error             string             `json:"error,omitempty"`
}

// Elapsed is the run's elapsed time for a page.
func (s RunSummary) Elapsed() string {
	return formatDuration(time.Duration(s.ElapsedSeconds * float64(time.Second)))
}

// BestList is Best in objective order, for a page.
func (s RunSummary) BestList() []namedValue {
	var out []namedValue
	for _, o := range s.Objectives {
		if v, ok := s.Best[o]; ok {
			out = append(out, namedValue{Name: o, Value: v})
		}
	}
	return out
}

type namedValue struct {
	Name  string
	Value float64
}

// runData is everything read about one run, from one snapshot.
type runData struct {
	run   storage.Run
	cfg   config.Config
	objs  []string
	cands []storage.Candidate
	gens  []storage.Generation
}

// loadRun reads run id and its candidates and generations from src.
func loadRun(ctx context.Context, src runview.Source, id string) (runData, error) {
	r, err := src.GetRun(ctx, id)
	if err != nil {
		return runData{}, err
	}
	cands, err := src.ListCandidates(ctx, id, -1)
	if err != nil {
		return runData{}, err
	}
	gens, err := src.ListGenerations(ctx, id)
	if err != nil {
		return runData{}, err
	}
	cfg := runview.ConfigOrDefault(r)
	return runData{run: r, cfg: cfg, objs: cfg.Objectives, cands: cands, gens: gens}, nil
}

// summarise builds a run's summary at time now.
func summarise(d runData, now time.Time) RunSummary {
	r := d.run
	s := RunSummary{ID: r.ID, Status: r.Status, Algorithm: r.Algorithm, Seed: r.Seed,
		Population: r.Population, Generations: r.Generations, CurrentGeneration: r.CurrentGeneration,
		Objectives: d.objs, Best: map[string]float64{}, Candidates: len(d.cands), Created: r.Created,
		Updated: r.Updated, ConfigHash: r.ConfigHash, Error: r.Error}
	var tps []float64
	for _, c := range d.cands {
		switch c.Status {
		case storage.CandFailed:
			s.Failed++
		case storage.CandTraining:
			s.Training++
		case storage.CandPending:
			s.Pending++
		case storage.CandEvaluated:
			s.Evaluated++
			for _, n := range d.objs {
				if v, ok := c.Objectives[n]; ok {
					if best, seen := s.Best[n]; !seen || v < best {
						s.Best[n] = v
					}
				}
			}
		}
		if v, ok := tokensPerSecond(c.Metrics); ok {
			tps = append(tps, v)
		}
	}
	if len(tps) > 0 {
		var sum float64
		for _, v := range tps {
			sum += v
		}
		mean := sum / float64(len(tps))
		s.TokensPerSecond = &mean
	}
	for _, g := range d.gens {
		if g.Hypervolume != nil {
			hv := *g.Hypervolume
			s.Hypervolume = &hv
		}
	}
	end := now
	switch {
	case !r.Finished.IsZero():
		f := r.Finished
		s.Finished, end = &f, f
	case r.Status != storage.RunRunning:
		end = r.Updated
	}
	s.ElapsedSeconds = math.Max(0, end.Sub(r.Created).Seconds())
	return s
}

// tokensPerSecondKeys are the metrics keys read as training throughput,
// in order of preference.
var tokensPerSecondKeys = []string{"train_tokens_per_s", "train_tokens_per_second", "tokens_per_s",
	"tokens_per_second", "TrainTokensPerS", "TokensPerS"}

// tokensPerSecond returns the training throughput a candidate's metrics
// report, if any.
func tokensPerSecond(m json.RawMessage) (float64, bool) {
	if len(m) == 0 {
		return 0, false
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(m, &obj) != nil {
		return 0, false
	}
	for _, k := range tokensPerSecondKeys {
		var v float64
		if raw, ok := obj[k]; ok && json.Unmarshal(raw, &v) == nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
			return v, true
		}
	}
	return 0, false
}

// losses returns the "losses" array of a candidate's metrics, or nil.
func losses(m json.RawMessage) []float64 {
	if len(m) == 0 {
		return nil
	}
	var obj struct {
		Losses []float64 `json:"losses"`
	}
	if json.Unmarshal(m, &obj) != nil {
		return nil
	}
	out := obj.Losses[:0:0]
	for _, l := range obj.Losses {
		if !math.IsNaN(l) && !math.IsInf(l, 0) {
			out = append(out, l)
		}
	}
	if len(out) < 2 {
		return nil
	}
	return out
}

// generationIndices returns every generation index of a run: those with a
// stored row and those its candidates were created in, ascending.
func generationIndices(d runData) []int {
	var idx []int
	for _, g := range d.gens {
		idx = append(idx, g.Index)
	}
	for _, c := range d.cands {
		idx = append(idx, c.Generation)
	}
	slices.Sort(idx)
	return slices.Compact(idx)
}

// formatDuration prints d to the second: 12s, 4m10s, 2h05m, 3d04h.
func formatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return d.String()
	case d < time.Hour:
		if d%time.Minute == 0 {
			return itoa(int(d/time.Minute)) + "m"
		}
		return d.String()
	case d < 48*time.Hour:
		h := d / time.Hour
		m := (d % time.Hour) / time.Minute
		return itoa(int(h)) + "h" + pad2(int(m)) + "m"
	}
	days := d / (24 * time.Hour)
	h := (d % (24 * time.Hour)) / time.Hour
	return itoa(int(days)) + "d" + pad2(int(h)) + "h"
}

func itoa(i int) string { return trimFloat(float64(i), 20) }

func pad2(i int) string {
	if i < 10 {
		return "0" + itoa(i)
	}
	return itoa(i)
}

// sortCandidates orders cs by key ascending (desc reverses it); candidates
// lacking the key go last either way. Ties keep generation and index order.
func sortCandidates(cs []storage.Candidate, key string, desc bool) {
	slices.SortStableFunc(cs, func(a, b storage.Candidate) int {
		var c int
		switch key {
		case "id", "":
			c = cmp.Or(cmp.Compare(a.Generation, b.Generation), cmp.Compare(a.Index, b.Index))
		case "status":
			c = cmp.Compare(a.Status, b.Status)
		case "operator":
			c = cmp.Compare(a.Operator, b.Operator)
		default:
			va, oka := a.Objectives[key]
			vb, okb := b.Objectives[key]
			switch {
			case !oka && !okb:
				return 0
			case !oka:
				return 1
			case !okb:
				return -1
			}
			c = cmp.Compare(va, vb)
		}
		if desc {
			return -c
		}
		return c
	})
}
