package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/config"
	exportpkg "github.com/star-pipeline/star-pipeline/export"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/runview"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/study"
)

// endpoint is one entry of the /api/ index.
type endpoint struct {
	Method      string `json:"method"`
	Path        string `json:"path"`
	Query       string `json:"query,omitempty"`
	Description string `json:"description"`
}

// apiEndpoints are the JSON endpoints the dashboard serves; docs/api.md
// describes their answers.
var apiEndpoints = []endpoint{
	{"GET", "/api/runs", "status=S, repeatable: keep runs with these statuses",
		"every run's summary, newest first"},
	{"GET", "/api/runs/{id}", "",
		"one run: its summary, run config, every generation, and its Pareto front over all its objectives"},
	{"GET", "/api/candidates/{id}", "",
		"one candidate (id RUN_ID/gNNN/cNNNN): genome, wiring, parents, children, objectives, metrics, static costs"},
	{"GET", "/api/candidates/{id}/export", "",
		"everything needed to rebuild a candidate, as `star-pipeline export` prints it"},
	{"POST", "/api/runs/{id}/{action}", "",
		"pause, resume or cancel a run (needs serve --allow-actions; same-origin requests only); answers the run's new summary"},
	{"GET", "/metrics", "", "Prometheus metrics: runs, candidates, hypervolume, training throughput, queue sizes with --redis"},
}

// apiIndex lists the JSON endpoints.
func (s *Server) apiIndex(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, struct {
		Endpoints      []endpoint `json:"endpoints"`
		ActionsEnabled bool       `json:"actions_enabled"`
		Objectives     string     `json:"objectives"`
		Docs           string     `json:"docs"`
	}{apiEndpoints, s.opts.AllowActions, "every objective is minimised: lower is better",
		"docs/api.md in the star-pipeline repository"})
}

// apiRuns answers with every run's summary, newest first; ?status=S (one
// or more) keeps the runs with those statuses.
func (s *Server) apiRuns(w http.ResponseWriter, r *http.Request) {
	var statuses []storage.RunStatus
	for _, st := range r.URL.Query()["status"] {
		if !slices.Contains(storage.RunStatuses, storage.RunStatus(st)) {
			s.writeError(w, r, badRequest("bad status %q: want pending, running, paused, finished, failed or cancelled", st))
			return
		}
		statuses = append(statuses, storage.RunStatus(st))
	}
	runs, err := s.listRuns(r.Context(), statuses...)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, runs)
}

// runDetail is /api/runs/{id}: the summary, the configuration, every
// generation and the run's Pareto front on all its objectives.
type runDetail struct {
	RunSummary
	ConfigYAML string           `json:"config_yaml"`
	History    []generationJSON `json:"history"`
	Front      []frontEntry     `json:"front"`
	// Rungs is a multi-fidelity run's proxy check between its rungs.
	Rungs []study.RungCorrelation `json:"rung_correlations,omitempty"`
}

type generationJSON struct {
	Index       int                             `json:"index"`
	Status      storage.GenerationStatus        `json:"status"`
	Started     *time.Time                      `json:"started,omitempty"`
	Finished    *time.Time                      `json:"finished,omitempty"`
	Hypervolume *float64                        `json:"hypervolume,omitempty"`
	Population  []string                        `json:"population"`
	Candidates  map[storage.CandidateStatus]int `json:"candidates"`
}

type frontEntry struct {
	ID         string             `json:"id"`
	Generation int                `json:"generation"`
	Genome     string             `json:"genome"`
	Objectives map[string]float64 `json:"objectives"`
}

func (s *Server) apiRun(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var out runDetail
	err := s.view(r.Context(), func(tx *storage.Tx) error {
		d, err := runview.Load(r.Context(), tx, id)
		if err != nil {
			return notFoundRun(err, id)
		}
		out = runDetail{RunSummary: summarise(d, s.opts.Now()), ConfigYAML: d.Run.Config,
			History: []generationJSON{}, Front: []frontEntry{}}
		for _, g := range runview.SummariseGenerations(d) {
			out.History = append(out.History, generationJSON{Index: g.Index, Status: g.Status, Started: g.Started,
				Finished: g.Finished, Hypervolume: g.Hypervolume, Population: g.Population, Candidates: g.ByStatus})
		}
		for _, c := range runview.Front(d.Candidates, d.Objectives) {
			out.Front = append(out.Front, frontEntry{ID: c.ID, Generation: c.Generation, Genome: c.Genome,
				Objectives: c.Objectives})
		}
		out.Rungs, err = rungCorrelations(r.Context(), tx, d.Run)
		return err
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// candidateJSON is /api/candidates/{id}: the stored candidate with its
// wiring, static costs (when its genome parses) and children.
type candidateJSON struct {
	ID           string                  `json:"id"`
	RunID        string                  `json:"run_id"`
	Generation   int                     `json:"generation"`
	Index        int                     `json:"index"`
	Status       storage.CandidateStatus `json:"status"`
	Genome       string                  `json:"genome"`
	Hash         string                  `json:"hash"`
	Parents      []string                `json:"parents"`
	Children     []string                `json:"children"`
	Operator     storage.Operator        `json:"operator"`
	Seed         uint64                  `json:"seed"`
	Objectives   map[string]float64      `json:"objectives"`
	Metrics      json.RawMessage         `json:"metrics"`
	Error        string                  `json:"error,omitempty"`
	Queued       *time.Time              `json:"queued,omitempty"`
	Started      *time.Time              `json:"started,omitempty"`
	Finished     *time.Time              `json:"finished,omitempty"`
	TrainSeconds float64                 `json:"train_seconds"`
	Checkpoint   string                  `json:"checkpoint"`
	Worker       string                  `json:"worker,omitempty"`
	Wiring       []genome.Wiring         `json:"wiring,omitempty"`
	Costs        *arch.CostReport        `json:"costs,omitempty"`
	CostError    string                  `json:"cost_error,omitempty"`
}

func (s *Server) apiCandidate(w http.ResponseWriter, r *http.Request) {
	id, export := r.PathValue("id"), false
	if base, ok := strings.CutSuffix(id, "/export"); ok {
		id, export = base, true
	}
	cd, err := s.loadCandidate(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if export {
		s.apiExport(w, r, cd)
		return
	}
	writeJSON(w, http.StatusOK, describeCandidate(cd))
}

// apiExport answers a candidate's export as a download.
func (s *Server) apiExport(w http.ResponseWriter, r *http.Request, cd candidateData) {
	out, err := exportpkg.Build(cd.c, cd.run.Run, cd.run.Config)
	if err != nil {
		s.writeError(w, r, &httpError{code: http.StatusConflict,
			msg: "candidate " + cd.c.ID + " has a genome that does not parse: " + err.Error()})
		return
	}
	w.Header().Set("Content-Disposition", `attachment; filename="`+strings.ReplaceAll(cd.c.ID, "/", "_")+`.json"`)
	writeJSON(w, http.StatusOK, out)
}

// describeCandidate is /api/candidates/{id}: the stored candidate, with
// its wiring and static costs from the export (computed once) when its
// genome parses.
func describeCandidate(cd candidateData) candidateJSON {
	c := cd.c
	out := candidateJSON{ID: c.ID, RunID: c.RunID, Generation: c.Generation, Index: c.Index, Status: c.Status,
		Genome: c.Genome, Hash: c.GenomeHash, Parents: nonNil(c.Parents), Children: []string{}, Operator: c.Operator,
		Seed: c.Seed, Objectives: c.Objectives, Metrics: c.Metrics, Error: c.Error, Queued: timePtr(c.Queued),
		Started: timePtr(c.Started), Finished: timePtr(c.Finished), TrainSeconds: c.TrainSeconds,
		Checkpoint: c.Checkpoint, Worker: c.Worker}
	for _, ch := range cd.children {
		out.Children = append(out.Children, ch.ID)
	}
	ex, err := exportpkg.Build(c, cd.run.Run, cd.run.Config)
	if err != nil {
		out.CostError = err.Error()
		return out
	}
	out.Hash, out.Wiring, out.Costs = ex.Hash, genome.Genome(ex.Slots).Wiring(), ex.Costs
	if ex.CostErr != nil {
		out.CostError = ex.CostErr.Error()
	}
	return out
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// rungCorrelations is the proxy check of a multi-fidelity run, nil for
// other runs.
func rungCorrelations(ctx context.Context, tx *storage.Tx, run storage.Run) ([]study.RungCorrelation, error) {
	cfg, err := config.Parse([]byte(run.Config))
	if err != nil || cfg.Fidelity == nil {
		return nil, nil
	}
	return study.RungCorrelations(ctx, tx, run.ID, -1, cfg.RungSteps(), cfg.Objectives[0])
}
