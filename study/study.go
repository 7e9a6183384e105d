// Package study compares the result of a search with its baselines: the
// architectures of a run's final stage (the best candidates of the last
// generation and the baselines, each retrained with the final budget and
// several seeds) as one table, the comparison of the STAR paper. It reads
// the lineage database and computes; it writes nothing.
//
// The rules:
//   - Every measured objective (perplexity, mad_score, latency) is the mean
//     over an architecture's retrainings, with the sample standard deviation
//     and the standard error sd/sqrt(n). Static objectives (params,
//     cache_bytes) are exact and equal for every seed.
//   - A is better than B on a measured objective when mean(A) < mean(B) -
//     sqrt(se(A)^2 + se(B)^2) (the means differ by more than their combined
//     standard error), worse when mean(A) > mean(B) + that, and tied
//     otherwise; on a static objective, when its value is smaller.
//   - A dominates B when A is better on at least one of the run's objectives
//     and worse on none.
//   - The proxy check is Spearman's rank correlation, over the retrained
//     architectures that have a short-budget result, between that result
//     and the final-budget mean of the run's first measured objective.
package study

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/star-pipeline/star-pipeline/candmetrics"
	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/storage"
)

// ErrNoFinalStage is returned for a run whose config has no final stage.
var ErrNoFinalStage = errors.New("the run has no final stage (add a final: section to its config)")

// Rule describes how the report compares architectures; printed under the
// table.
const Rule = "A measured objective (mean over seeds) is better when the means differ by more than " +
	"their combined standard error sqrt(se1^2 + se2^2), se = sd/sqrt(n); params and cache_bytes are exact. " +
	"An architecture dominates a baseline when it is better on at least one of the run's objectives and worse on none."

// Stat is a mean over retraining seeds.
type Stat struct {
	Mean float64 `json:"mean"`
	SD   float64 `json:"sd"` // sample standard deviation (n-1); 0 when n < 2
	N    int     `json:"n"`
}

// SE returns the standard error of the mean, SD/sqrt(N).
func (s Stat) SE() float64 {
	if s.N == 0 {
		return 0
	}
	return s.SD / math.Sqrt(float64(s.N))
}

// NewStat returns the mean and sample standard deviation of xs.
func NewStat(xs []float64) Stat {
	s := Stat{N: len(xs)}
	if s.N == 0 {
		return s
	}
	for _, x := range xs {
		s.Mean += x
	}
	s.Mean /= float64(s.N)
	if s.N > 1 {
		ss := 0.0
		for _, x := range xs {
			ss += (x - s.Mean) * (x - s.Mean)
		}
		s.SD = math.Sqrt(ss / float64(s.N-1))
	}
	return s
}

// Verdict is how an architecture compares with a baseline on one objective.
type Verdict string

// Verdicts.
const (
	Better Verdict = "better"
	Worse  Verdict = "worse"
	Tie    Verdict = "tie"
)

// Comparison is an architecture against one baseline.
type Comparison struct {
	Baseline string `json:"baseline"`
	// Change is the relative difference in percent per objective (and
	// perplexity, params, cache_bytes when measured): 100*(a-b)/b.
	Change map[string]float64 `json:"change_percent"`
	// Verdicts per objective of the run.
	Verdicts map[string]Verdict `json:"verdicts"`
	// Dominates: better on one of the run's objectives, worse on none.
	Dominates bool `json:"dominates"`
}

// Row is one retrained architecture.
type Row struct {
	Name    string            `json:"name"`
	Role    storage.FinalRole `json:"role"`
	Aliases []string          `json:"aliases,omitempty"`
	Genome  string            `json:"genome"`
	Source  string            `json:"source,omitempty"` // the candidate whose short-budget result it retrains
	// Values holds every objective measured for the architecture: static
	// ones with N = seeds and SD 0.
	Values map[string]Stat `json:"values"`
	// MAD holds the accuracy of each MAD task (best over the sweep), when
	// mad_score is measured.
	MAD map[string]Stat `json:"mad,omitempty"`
	// Proxy is the short-budget objectives of Source.
	Proxy map[string]float64 `json:"proxy,omitempty"`
	// Seeds counts retrainings evaluated; Failed those that failed, with
	// their errors.
	Seeds  int      `json:"seeds"`
	Failed int      `json:"failed"`
	Errors []string `json:"errors,omitempty"`
	// Versus compares the row with each baseline (for evolved rows, and
	// for baselines against the other baselines).
	Versus []Comparison `json:"versus,omitempty"`
}

// Generation is one generation's hypervolume.
type Generation struct {
	Index       int      `json:"generation"`
	Hypervolume *float64 `json:"hypervolume"`
}

// Spend is the compute a stage used.
type Spend struct {
	Trainings  int   `json:"trainings"`   // candidates trained (cache hits excluded)
	CacheHits  int   `json:"cache_hits"`  // candidates scored from the evaluation cache
	TrainSteps int64 `json:"train_steps"` // optimizer steps over every model trained, as recorded
}

// Report is the comparison of a run's final stage.
type Report struct {
	Run        string   `json:"run"`
	Status     string   `json:"status"`
	Objectives []string `json:"objectives"`
	Steps      int      `json:"final_steps"`
	Seeds      int      `json:"final_seeds"`
	SearchStep int      `json:"search_steps"`
	// Complete is false while retrainings are still pending.
	Complete bool   `json:"complete"`
	Rule     string `json:"rule"`
	Rows     []Row  `json:"rows"`
	// Dominating counts, per baseline, the evolved architectures that
	// dominate it.
	Dominating  map[string]int `json:"dominating"`
	Hypervolume []Generation   `json:"hypervolume"`
	Search      Spend          `json:"search"`
	Final       Spend          `json:"final"`
	// Proxy is Spearman's rank correlation between the short-budget and
	// final-budget values of ProxyObjective over ProxyN architectures; nil
	// when fewer than 3 have both.
	Proxy          *float64 `json:"proxy_spearman"`
	ProxyObjective string   `json:"proxy_objective,omitempty"`
	ProxyN         int      `json:"proxy_n"`
	// Rungs is the proxy check of a multi-fidelity search between its
	// consecutive rungs (RungCorrelations), with the run's warning
	// threshold; empty without rungs.
	Rungs         []RungCorrelation `json:"rung_correlations,omitempty"`
	RungThreshold float64           `json:"rung_threshold,omitempty"`
}

// measured are the objectives that vary with training.
var measured = []string{config.Perplexity, config.MADScore, config.Latency}

// IsMeasured reports whether objective o is measured by training (and so
// has a spread over seeds) rather than computed from the genome.
func IsMeasured(o string) bool { return slices.Contains(measured, o) }

// Input is what Compute needs: the run, its final entries and every
// candidate of the run (search and final stage), and its generations.
type Input struct {
	Run         storage.Run
	Config      config.Config
	Entries     []storage.FinalEntry
	Candidates  []storage.Candidate
	Generations []storage.Generation
}

// Compute builds the report of a run's final stage from its records.
func Compute(in Input) (Report, error) {
	cfg := in.Config
	if cfg.Final == nil {
		return Report{}, ErrNoFinalStage
	}
	fg := storage.FinalGeneration(in.Run)
	rep := Report{Run: in.Run.ID, Status: string(in.Run.Status), Objectives: cfg.Objectives,
		Steps: cfg.Final.Steps, Seeds: cfg.Final.Seeds, SearchStep: cfg.Training.Steps, Rule: Rule,
		Dominating: map[string]int{}}
	for _, g := range in.Generations {
		rep.Hypervolume = append(rep.Hypervolume, Generation{Index: g.Index, Hypervolume: g.Hypervolume})
	}
	byID := map[string]storage.Candidate{}
	retrain := map[int][]storage.Candidate{} // by entry index
	for _, c := range in.Candidates {
		byID[c.ID] = c
		if c.Generation == fg {
			retrain[c.Index/cfg.Final.Seeds] = append(retrain[c.Index/cfg.Final.Seeds], c)
			addSpend(&rep.Final, c)
		} else {
			addSpend(&rep.Search, c)
		}
	}
	rep.Complete = len(in.Entries) > 0
	for _, e := range in.Entries {
		row := Row{Name: e.Name, Role: e.Role, Aliases: e.Aliases, Genome: e.Genome, Source: e.Source,
			Values: map[string]Stat{}}
		if src, ok := byID[e.Source]; ok && src.Status == storage.CandEvaluated {
			row.Proxy = src.Objectives
		}
		values := map[string][]float64{}
		mad := map[string][]float64{}
		for _, c := range retrain[e.Index] {
			switch c.Status {
			case storage.CandEvaluated:
				row.Seeds++
				for k, v := range c.Objectives {
					values[k] = append(values[k], v)
				}
				for k, v := range madAccuracy(c.Metrics) {
					mad[k] = append(mad[k], v)
				}
			case storage.CandFailed:
				row.Failed++
				row.Errors = append(row.Errors, c.Error)
			}
		}
		if row.Seeds+row.Failed < cfg.Final.Seeds {
			rep.Complete = false
		}
		for k, xs := range values {
			row.Values[k] = NewStat(xs)
		}
		if len(mad) > 0 {
			row.MAD = map[string]Stat{}
			for k, xs := range mad {
				row.MAD[k] = NewStat(xs)
			}
		}
		rep.Rows = append(rep.Rows, row)
	}
	compare(&rep)
	rep.proxy()
	return rep, nil
}

// addSpend counts candidate c into s.
func addSpend(s *Spend, c storage.Candidate) {
	if c.Status != storage.CandEvaluated && c.Status != storage.CandFailed {
		return
	}
	if strings.HasPrefix(c.Worker, "cache:") {
		s.CacheHits++
		return
	}
	s.Trainings++
	s.TrainSteps += trainSteps(c.Metrics)
}

func trainSteps(m json.RawMessage) int64 {
	c, _ := candmetrics.Parse(m) // metrics are free-form: a shape without these fields counts nothing
	return c.TrainSteps()
}

func madAccuracy(m json.RawMessage) map[string]float64 {
	c, _ := candmetrics.Parse(m)
	return c.Eval.MADAccuracy
}

// Compare returns how a compares with b on each objective of objectives,
// and the relative change of every value both have.
func Compare(a, b Row, objectives []string) Comparison {
	out := Comparison{Baseline: b.Name, Change: map[string]float64{}, Verdicts: map[string]Verdict{}}
	for k, av := range a.Values {
		if bv, ok := b.Values[k]; ok && bv.Mean != 0 {
			out.Change[k] = 100 * (av.Mean - bv.Mean) / bv.Mean
		}
	}
	better := false
	worse := len(objectives) == 0
	for _, o := range objectives {
		av, aok := a.Values[o]
		bv, bok := b.Values[o]
		if !aok || !bok || av.N == 0 || bv.N == 0 {
			worse = true // nothing measured: no claim
			continue
		}
		v := verdict(av, bv, IsMeasured(o))
		out.Verdicts[o] = v
		better = better || v == Better
		worse = worse || v == Worse
	}
	out.Dominates = better && !worse
	return out
}

func verdict(a, b Stat, measured bool) Verdict {
	margin := 0.0
	if measured {
		margin = math.Hypot(a.SE(), b.SE())
	}
	switch d := a.Mean - b.Mean; {
	case d < -margin:
		return Better
	case d > margin:
		return Worse
	}
	return Tie
}

// compare fills every row's comparisons with the baselines and the
// dominating counts.
func compare(rep *Report) {
	var baselines []Row
	for _, r := range rep.Rows {
		if r.Role == storage.RoleBaseline {
			baselines = append(baselines, r)
			rep.Dominating[r.Name] = 0
		}
	}
	for i := range rep.Rows {
		r := &rep.Rows[i]
		for _, b := range baselines {
			if b.Name == r.Name {
				continue
			}
			c := Compare(*r, b, rep.Objectives)
			r.Versus = append(r.Versus, c)
			if c.Dominates && r.Role == storage.RoleCandidate {
				rep.Dominating[b.Name]++
			}
		}
	}
}

// proxy computes the rank correlation between short and final budgets.
func (rep *Report) proxy() {
	for _, o := range rep.Objectives {
		if IsMeasured(o) {
			rep.ProxyObjective = o
			break
		}
	}
	if rep.ProxyObjective == "" {
		return
	}
	var short, long []float64
	for _, r := range rep.Rows {
		p, ok := r.Proxy[rep.ProxyObjective]
		v, vok := r.Values[rep.ProxyObjective]
		if ok && vok && v.N > 0 {
			short = append(short, p)
			long = append(long, v.Mean)
		}
	}
	rep.ProxyN = len(short)
	if len(short) >= 3 {
		rho := Spearman(short, long)
		if !math.IsNaN(rho) {
			rep.Proxy = &rho
		}
	}
}

// Spearman returns Spearman's rank correlation of xs and ys (equal
// lengths): Pearson's correlation of their ranks, ties sharing the mean
// rank. NaN when either has no spread.
func Spearman(xs, ys []float64) float64 {
	if len(xs) != len(ys) {
		panic(fmt.Sprintf("study.Spearman: %d and %d values", len(xs), len(ys)))
	}
	return pearson(ranks(xs), ranks(ys))
}

// ranks returns 1-based ranks, ties getting the mean of their ranks.
func ranks(xs []float64) []float64 {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(xs[a], xs[b]) })
	out := make([]float64, len(xs))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && xs[idx[j+1]] == xs[idx[i]] {
			j++
		}
		r := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			out[idx[k]] = r
		}
		i = j + 1
	}
	return out
}

func pearson(xs, ys []float64) float64 {
	n := float64(len(xs))
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx, syy float64
	for i := range xs {
		dx, dy := xs[i]-mx, ys[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}
