package runview

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"time"

	"github.com/star-pipeline/star-pipeline/candmetrics"
	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/storage"
)

// Run is everything the read model reads about one run, from one
// snapshot of the lineage.
type Run struct {
	Run storage.Run
	// Config is the run's configuration, or the default one when the
	// stored YAML does not parse (ConfigOrDefault).
	Config config.Config
	// Objectives are the run's objectives (RunObjectives).
	Objectives  []string
	Candidates  []storage.Candidate // by generation, then index
	Generations []storage.Generation
}

// Load reads run id with its candidates and generations. It fails with
// storage.ErrNotFound for an unknown run.
func Load(ctx context.Context, src Source, id string) (Run, error) {
	r, err := src.GetRun(ctx, id)
	if err != nil {
		return Run{}, err
	}
	cands, err := src.ListCandidates(ctx, id, -1)
	if err != nil {
		return Run{}, err
	}
	gens, err := src.ListGenerations(ctx, id)
	if err != nil {
		return Run{}, err
	}
	return Run{Run: r, Config: ConfigOrDefault(r), Objectives: RunObjectives(r, cands), Candidates: cands,
		Generations: gens}, nil
}

// Lister is a Source that also lists runs.
type Lister interface {
	Source
	ListRuns(ctx context.Context, statuses ...storage.RunStatus) ([]storage.Run, error)
}

// LoadAll reads every run with one of statuses (all runs without any),
// newest first.
func LoadAll(ctx context.Context, src Lister, statuses ...storage.RunStatus) ([]Run, error) {
	runs, err := src.ListRuns(ctx, statuses...)
	if err != nil {
		return nil, err
	}
	out := make([]Run, 0, len(runs))
	for i := len(runs) - 1; i >= 0; i-- { // stored oldest first
		d, err := Load(ctx, src, runs[i].ID)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// RunObjectives returns a run's objectives: those of its configuration;
// when the configuration does not parse, the names its candidates report
// (ReportedObjectives), or the default objectives when they report none.
func RunObjectives(r storage.Run, cands []storage.Candidate) []string {
	if objs := ReportedObjectives(r, cands); len(objs) > 0 {
		return objs
	}
	return config.Default().Objectives
}

// Summary is one run as `star-pipeline runs --json`, `status --json`, the
// runs page and /api/runs show it.
type Summary struct {
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

// Elapsed is ElapsedSeconds as a duration.
func (s Summary) Elapsed() time.Duration {
	return time.Duration(s.ElapsedSeconds * float64(time.Second))
}

// figure fills in some fields of a run's summary from what was read about
// the run. A new run-level figure is a field of Summary and one more entry
// of figures.
type figure func(s *Summary, d Run)

var figures = []figure{countCandidates, bestObjectives, meanThroughput, lastHypervolume}

// Summarise summarises a run at time now (for the elapsed time of a run
// still under way).
func Summarise(d Run, now time.Time) Summary {
	r := d.Run
	s := Summary{ID: r.ID, Status: r.Status, Algorithm: r.Algorithm, Seed: r.Seed, Population: r.Population,
		Generations: r.Generations, CurrentGeneration: r.CurrentGeneration, Objectives: d.Objectives,
		Best: map[string]float64{}, Candidates: len(d.Candidates), Created: r.Created, Updated: r.Updated,
		ConfigHash: r.ConfigHash, Error: r.Error}
	for _, f := range figures {
		f(&s, d)
	}
	end := now
	switch {
	case !r.Finished.IsZero():
		f := r.Finished
		s.Finished, end = &f, f
	case r.Status.Terminal() || r.Status == storage.RunPaused:
		end = r.Updated
	}
	s.ElapsedSeconds = math.Max(0, end.Sub(r.Created).Seconds())
	return s
}

// countCandidates counts the run's candidates by status.
func countCandidates(s *Summary, d Run) {
	for _, c := range d.Candidates {
		switch c.Status {
		case storage.CandEvaluated:
			s.Evaluated++
		case storage.CandFailed:
			s.Failed++
		case storage.CandTraining:
			s.Training++
		case storage.CandPending:
			s.Pending++
		}
	}
}

// bestObjectives is the lowest value of each objective over the evaluated
// candidates.
func bestObjectives(s *Summary, d Run) {
	for _, c := range d.Candidates {
		if c.Status != storage.CandEvaluated {
			continue
		}
		for _, n := range s.Objectives {
			if v, ok := c.Objectives[n]; ok {
				if best, seen := s.Best[n]; !seen || v < best {
					s.Best[n] = v
				}
			}
		}
	}
}

// meanThroughput is the mean training throughput the candidates report.
func meanThroughput(s *Summary, d Run) {
	var sum float64
	n := 0
	for _, c := range d.Candidates {
		if v, ok := TokensPerSecond(c.Metrics); ok {
			sum += v
			n++
		}
	}
	if n > 0 {
		mean := sum / float64(n)
		s.TokensPerSecond = &mean
	}
}

// lastHypervolume is the hypervolume of the last generation that has one.
func lastHypervolume(s *Summary, d Run) {
	for _, g := range d.Generations {
		if g.Hypervolume != nil {
			hv := *g.Hypervolume
			s.Hypervolume = &hv
		}
	}
}

// TokensPerSecond returns the training throughput a candidate's metrics
// report (train_tokens_per_s), if any.
func TokensPerSecond(m json.RawMessage) (float64, bool) {
	c, _ := candmetrics.Parse(m)
	return c.Throughput()
}

// GenerationSummary is one generation as `status` and /api/runs/{id} show
// it.
type GenerationSummary struct {
	Index       int                      `json:"index"`
	Status      storage.GenerationStatus `json:"status"`
	Candidates  int                      `json:"candidates"`
	Evaluated   int                      `json:"evaluated"`
	Failed      int                      `json:"failed"`
	Unfinished  int                      `json:"unfinished"` // pending or training
	Hypervolume *float64                 `json:"hypervolume"`
	Survivors   int                      `json:"survivors"`
	Started     *time.Time               `json:"started,omitempty"`
	Finished    *time.Time               `json:"finished,omitempty"`
	// ByStatus counts the generation's candidates by status (statuses
	// present only); Population lists its selection.
	ByStatus   map[storage.CandidateStatus]int `json:"-"`
	Population []string                        `json:"-"`
}

// Duration is how long the generation took, and false while it has not
// finished.
func (g GenerationSummary) Duration() (time.Duration, bool) {
	if g.Started == nil || g.Finished == nil {
		return 0, false
	}
	return g.Finished.Sub(*g.Started), true
}

// SummariseGenerations summarises each stored generation of a run, in
// order, counting the candidates created in it.
func SummariseGenerations(d Run) []GenerationSummary {
	out := make([]GenerationSummary, len(d.Generations))
	at := map[int]*GenerationSummary{}
	for i, g := range d.Generations {
		pop := g.Population
		if pop == nil {
			pop = []string{}
		}
		out[i] = GenerationSummary{Index: g.Index, Status: g.Status, Hypervolume: g.Hypervolume,
			Survivors: len(g.Population), Started: timePtr(g.Started), Finished: timePtr(g.Finished),
			ByStatus: map[storage.CandidateStatus]int{}, Population: pop}
		at[g.Index] = &out[i]
	}
	for _, c := range d.Candidates {
		g := at[c.Generation]
		if g == nil {
			continue
		}
		g.Candidates++
		g.ByStatus[c.Status]++
		switch c.Status {
		case storage.CandEvaluated:
			g.Evaluated++
		case storage.CandFailed:
			g.Failed++
		default:
			g.Unfinished++
		}
	}
	return out
}

// CountByStatus counts a run's candidates by status, every status present
// (zero when none has it).
func CountByStatus(cands []storage.Candidate) map[storage.CandidateStatus]int {
	counts := map[storage.CandidateStatus]int{storage.CandPending: 0, storage.CandTraining: 0,
		storage.CandEvaluated: 0, storage.CandFailed: 0}
	for _, c := range cands {
		counts[c.Status]++
	}
	return counts
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// GenerationIndices returns every generation index of a run: those with a
// stored row and those its candidates were created in, ascending.
func GenerationIndices(d Run) []int {
	var idx []int
	for _, g := range d.Generations {
		idx = append(idx, g.Index)
	}
	for _, c := range d.Candidates {
		idx = append(idx, c.Generation)
	}
	slices.Sort(idx)
	return slices.Compact(idx)
}

// GenerationMembers is what one generation shows: the candidates created
// in it and those its selection kept from earlier generations.
type GenerationMembers struct {
	Status     storage.GenerationStatus // "" when the generation has no stored row yet
	Candidates []storage.Candidate      // in run order
	Selected   map[string]bool          // ids in the generation's selection
}

// Members returns generation gen's members.
func Members(d Run, gen int) GenerationMembers {
	m := GenerationMembers{Selected: map[string]bool{}}
	for _, g := range d.Generations {
		if g.Index == gen {
			m.Status = g.Status
			for _, id := range g.Population {
				m.Selected[id] = true
			}
		}
	}
	for _, c := range d.Candidates {
		if c.Generation == gen || (m.Selected[c.ID] && c.Generation < gen) {
			m.Candidates = append(m.Candidates, c)
		}
	}
	return m
}
