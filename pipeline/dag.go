package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/evolve"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/runner"
	"github.com/star-pipeline/star-pipeline/search"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/tasks"
)

// run is what the coordinator keeps of a run it drives; everything else is
// read from the database when needed.
type run struct {
	row       storage.Run
	cfg       config.Config
	engine    *evolve.Engine[genome.Genome]
	offspring int    // children per bred generation
	artifacts string // checkpoint root
	finalYAML string // the final stage's run config (config.FinalTraining), "" without one
	rungs     []int  // train steps of every rung (config.RungSteps)
	multi     bool   // a multi-fidelity run (config.Fidelity)
	warning   string // the proxy check's warning of the last select, for the progress line
}

func (c *Coordinator) load(ctx context.Context, id string) (*run, error) {
	row, err := c.db.GetRun(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("loading run %s: %w", id, err)
	}
	cfg, err := config.Parse([]byte(row.Config))
	if err != nil {
		return nil, fmt.Errorf("run %s: stored config: %w", id, err)
	}
	e, err := search.NewEngine(cfg)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", id, err)
	}
	dir, err := cfg.ArtifactDir()
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", id, err)
	}
	r := &run{row: row, cfg: cfg, engine: e, offspring: e.Algorithm().Offspring(cfg.Population), artifacts: dir,
		rungs: cfg.RungSteps(), multi: cfg.Fidelity != nil}
	if cfg.Final != nil {
		if r.finalYAML, err = finalConfig(cfg); err != nil {
			return nil, fmt.Errorf("run %s: %w", id, err)
		}
	}
	return r, nil
}

// final reports whether generation g is the run's final stage.
func (r *run) final(g int) bool {
	return r.cfg.Final != nil && g == storage.FinalGeneration(r.row)
}

// configYAML returns the run config that generation g's train and evaluate
// payloads carry: the final stage trains with its own budget.
func (r *run) configYAML(g int) string {
	if r.final(g) {
		return r.finalYAML
	}
	return r.row.Config
}

// size returns the number of candidates generation g holds.
func (r *run) size(g int) int {
	if g == 0 {
		return r.cfg.Population
	}
	return r.offspring
}

func (r *run) node(g int, s tasks.Stage, i, attempt int) tasks.Node {
	return tasks.Node{Run: r.row.ID, Generation: g, Stage: s, Index: i, Attempt: attempt}
}

// rungNode is node at a rung of a multi-fidelity run.
func (r *run) rungNode(g int, s tasks.Stage, i, attempt, rung int) tasks.Node {
	n := r.node(g, s, i, attempt)
	n.Rung = rung
	return n
}

// multiGen reports whether generation g trains by rungs: a multi-fidelity
// run's generations do, its final stage does not.
func (r *run) multiGen(g int) bool { return r.multi && !r.final(g) }

func (c *Coordinator) policy(s tasks.Stage, r *run) tasks.Policy {
	p := tasks.DefaultPolicy(s, r.cfg.Training.Timeout)
	if s == tasks.StageTrain || s == tasks.StageEvaluate {
		p.Queue = c.opts.TrainQueue
	}
	return p
}

func (c *Coordinator) state(n tasks.Node, r *run) storage.TaskState {
	return storage.TaskState{ID: n.ID(), RunID: n.Run, Generation: n.Generation, Stage: string(n.Stage),
		Index: n.Index, Attempt: n.Attempt, Kind: n.Stage.Kind(), Queue: c.policy(n.Stage, r).Queue}
}

// advance creates the nodes whose parents are done and enqueues every
// pending node of the run's current generation. It reports whether the run
// is no longer driven: finished, failed, cancelled or paused.
func (c *Coordinator) advance(ctx context.Context, r *run) (bool, error) {
	row, err := c.db.GetRun(ctx, r.row.ID)
	if err != nil {
		return false, err
	}
	r.row = row
	if row.Status == storage.RunPending {
		// Paused and resumed since the last look: take it up again.
		err := c.update(ctx, row.ID, func(tx *storage.Tx) error { return tx.StartRun(ctx, row.ID) })
		if errors.Is(err, storage.ErrInvalidTransition) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		r.row.Status, row.Status = storage.RunRunning, storage.RunRunning
	}
	if row.Status != storage.RunRunning {
		return true, nil
	}
	if final, err := c.inFinal(ctx, r); err != nil || final {
		if err != nil {
			return false, err
		}
		return c.advanceFinal(ctx, r)
	}
	g := row.CurrentGeneration
	gen, err := c.db.GetGeneration(ctx, row.ID, g)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && gen.Status == storage.GenPending) {
		if err := c.startGeneration(ctx, r, g); err != nil {
			return false, err
		}
	} else if err != nil {
		return false, err
	}

	counts, err := c.db.CountCandidates(ctx, row.ID, g)
	if err != nil {
		return false, err
	}
	final := counts[storage.CandEvaluated] + counts[storage.CandFailed]
	if g == 0 && final == r.size(g) && counts[storage.CandEvaluated] == 0 {
		// Nothing to evolve from: the run fails with what failed them.
		return false, c.allFailed(ctx, r, g)
	}
	if r.multi {
		ready, err := c.advanceRungs(ctx, r, g)
		if err != nil {
			return false, err
		}
		if !ready {
			final = -1 // rungs still training: no select yet
		}
	}
	if final == r.size(g) {
		sel := r.node(g, tasks.StageSelect, 0, 0)
		err := c.update(ctx, row.ID, func(tx *storage.Tx) error {
			_, err := tx.AddTaskStates(ctx, c.state(sel, r))
			return err
		})
		if err != nil {
			return false, err
		}
	}
	if err := c.enqueuePending(ctx, r, g); err != nil {
		return false, err
	}
	return false, nil
}

// startGeneration opens generation g: for generation 0 the seed and random
// genomes with their train nodes, for later ones the recombine nodes.
func (c *Coordinator) startGeneration(ctx context.Context, r *run, g int) error {
	return c.update(ctx, r.row.ID, func(tx *storage.Tx) error {
		if err := tx.StartGeneration(ctx, r.row.ID, g); err != nil {
			return err
		}
		var nodes []storage.TaskState
		if g == 0 {
			seeds, err := search.SeedGenomes(r.cfg)
			if err != nil {
				return err
			}
			xs, err := r.engine.Initial(seeds)
			if err != nil {
				return err
			}
			var cands []storage.Candidate
			for i, x := range xs {
				op := storage.OpRandom
				if i < len(seeds) {
					op = storage.OpSeed
				}
				cands = append(cands, c.candidate(r, 0, i, x, nil, op))
			}
			if err := tx.AddCandidates(ctx, cands...); err != nil {
				return err
			}
			for i := range xs {
				cached, err := c.useCache(ctx, tx, r, cands[i])
				if err != nil {
					return err
				}
				if !cached {
					nodes = append(nodes, c.state(r.node(0, tasks.StageTrain, i, 0), r))
				}
			}
		} else {
			for i := range r.offspring {
				nodes = append(nodes, c.state(r.node(g, tasks.StageRecombine, i, 0), r))
			}
		}
		if _, err := tx.AddTaskStates(ctx, nodes...); err != nil {
			return err
		}
		_, err := tx.AppendEvent(ctx, storage.Event{RunID: r.row.ID, Kind: "generation.started",
			Message: mustJSON(map[string]any{"generation": g})})
		return err
	})
}

// candidate builds the row of candidate i of generation g.
func (c *Coordinator) candidate(r *run, g, i int, x genome.Genome, parents []string, op storage.Operator) storage.Candidate {
	hash := genome.Hash(x)
	return storage.Candidate{
		RunID: r.row.ID, Generation: g, Index: i, Genome: genome.Format(x), GenomeHash: hash,
		Parents: parents, Operator: op, Seed: trainSeed(r.row.Seed, hash),
	}
}

// cacheSource returns the checkpoint directory of the candidate whose
// cached evaluation completed cand ("" when cand trained itself): a
// promoted cache hit continues that training (tasks.TrainPayload.From).
func (c *Coordinator) cacheSource(ctx context.Context, cand storage.Candidate) (string, error) {
	src, ok := strings.CutPrefix(cand.Worker, "cache:")
	if !ok || src == "" {
		return "", nil
	}
	s, err := c.db.GetCandidate(ctx, src)
	if errors.Is(err, storage.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return s.Checkpoint, nil
}

// trainSeed seeds a candidate's training from the run seed and the
// architecture, so equal genomes train alike in any generation.
func trainSeed(runSeed uint64, hash string) uint64 {
	return evolve.Seed(runSeed, 0, "train/"+hash, 0)
}

// useCache completes a candidate from the evaluation cache when the same
// architecture was already evaluated under the same training config, and
// reports whether it did.
func (c *Coordinator) useCache(ctx context.Context, tx *storage.Tx, r *run, cand storage.Candidate) (bool, error) {
	steps, rung := 0, 0
	if r.multiGen(cand.Generation) {
		steps = r.cacheSteps(rung)
	}
	e, err := tx.LookupEvaluationAt(ctx, cand.GenomeHash, r.row.ConfigHash, steps)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if _, err := search.Vector(r.cfg.Objectives, e.Objectives); err != nil {
		return false, nil // the entry lacks an objective of this run: a miss
	}
	id := cand.ID
	if id == "" {
		id = storage.CandidateID(cand.RunID, cand.Generation, cand.Index)
	}
	metrics := e.Metrics
	if len(metrics) == 0 {
		metrics = nil
	}
	res := storage.Result{Objectives: e.Objectives, Metrics: metrics, Worker: "cache:" + e.CandidateID}
	if r.multiGen(cand.Generation) {
		res.Rung, res.Steps = rung, r.rungs[rung]
	}
	return true, tx.CompleteCandidate(ctx, id, res)
}

// enqueuePending hands every pending node of generation g to the queue.
func (c *Coordinator) enqueuePending(ctx context.Context, r *run, g int) error {
	pending, err := c.db.ListTaskStates(ctx, r.row.ID, storage.TaskPending)
	if err != nil {
		return err
	}
	for _, ts := range pending {
		if ts.Generation != g {
			continue
		}
		if err := c.enqueue(ctx, r, ts); err != nil {
			return err
		}
	}
	return nil
}

// enqueue builds a node's payload from the database and enqueues it under
// its deterministic id.
func (c *Coordinator) enqueue(ctx context.Context, r *run, ts storage.TaskState) error {
	n, err := tasks.ParseNode(ts.ID)
	if err != nil {
		return err
	}
	payload, err := c.payload(ctx, r, n)
	if err != nil {
		return fmt.Errorf("building payload of %s: %w", n, err)
	}
	data, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	if _, err := c.broker.EnqueueOnce(ctx, c.policy(n.Stage, r).Job(n, data)); err != nil {
		return err
	}
	return c.update(ctx, r.row.ID, func(tx *storage.Tx) error {
		if n.Stage == tasks.StageTrain {
			if err := tx.MarkCandidateQueued(ctx, storage.CandidateID(r.row.ID, n.Generation, n.Index), time.Now()); err != nil {
				return err
			}
		}
		return tx.SetTaskStatus(ctx, ts.ID, storage.TaskEnqueued, "")
	})
}

// payload rebuilds node n's payload from the database alone.
func (c *Coordinator) payload(ctx context.Context, r *run, n tasks.Node) (any, error) {
	switch n.Stage {
	case tasks.StageRecombine:
		return c.breeding(ctx, r, n)
	case tasks.StageMutate:
		b, err := c.breeding(ctx, r, n)
		if err != nil {
			return nil, err
		}
		var rec tasks.RecombineResult
		if err := c.result(ctx, r.node(n.Generation, tasks.StageRecombine, n.Index, 0), &rec); err != nil {
			return nil, err
		}
		return tasks.MutatePayload{Breeding: b, Genome: rec.Genome, Attempt: rec.Attempt}, nil
	case tasks.StageTrain:
		cand, err := c.db.GetCandidate(ctx, storage.CandidateID(r.row.ID, n.Generation, n.Index))
		if err != nil {
			return nil, err
		}
		p := tasks.TrainPayload{Node: n, Candidate: cand.ID, Genome: cand.Genome, Config: r.configYAML(n.Generation),
			Seed: cand.Seed, Checkpoint: c.checkpointDir(r, cand, n.Attempt)}
		if r.multiGen(n.Generation) {
			p.Steps = r.rungs[n.Rung]
			if p.From, err = c.cacheSource(ctx, cand); err != nil {
				return nil, err
			}
		}
		return p, nil
	case tasks.StageEvaluate:
		cand, err := c.db.GetCandidate(ctx, storage.CandidateID(r.row.ID, n.Generation, n.Index))
		if err != nil {
			return nil, err
		}
		var tr tasks.TrainResult
		if err := c.result(ctx, r.rungNode(n.Generation, tasks.StageTrain, n.Index, n.Attempt, n.Rung), &tr); err != nil {
			return nil, err
		}
		return tasks.EvaluatePayload{Node: n, Candidate: cand.ID, Genome: cand.Genome, Config: r.configYAML(n.Generation),
			Seed: cand.Seed, Checkpoint: tr.Checkpoint, Train: tr}, nil
	case tasks.StageSelect:
		return c.selection(ctx, r, n)
	}
	return nil, fmt.Errorf("unknown stage %q", n.Stage)
}

func (c *Coordinator) checkpointDir(r *run, cand storage.Candidate, attempt int) string {
	dir := filepath.Join(r.artifacts, r.row.ID, fmt.Sprintf("g%03d-%04d", cand.Generation, cand.Index))
	if attempt > 0 {
		dir += fmt.Sprintf("-a%d", attempt)
	}
	return dir
}

// result decodes the recorded result of node n into v.
func (c *Coordinator) result(ctx context.Context, n tasks.Node, v any) error {
	data, err := c.db.TaskResult(ctx, n.ID())
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// members returns candidates as the evolution stages see them.
func (c *Coordinator) members(r *run, cands []storage.Candidate) []tasks.Member {
	out := make([]tasks.Member, len(cands))
	for i, cand := range cands {
		m := tasks.Member{ID: cand.ID, Genome: cand.Genome, Rung: cand.Rung}
		if cand.Status == storage.CandEvaluated {
			v, err := search.Vector(r.cfg.Objectives, cand.Objectives)
			if err == nil {
				m.Objectives = v
			} else {
				m.Failed = true
			}
		} else {
			m.Failed = true
		}
		out[i] = m
	}
	return out
}

// population returns the population that closed generation g.
func (c *Coordinator) population(ctx context.Context, r *run, g int) ([]storage.Candidate, error) {
	gen, err := c.db.GetGeneration(ctx, r.row.ID, g)
	if err != nil {
		return nil, err
	}
	if gen.Status != storage.GenDone {
		return nil, fmt.Errorf("generation %d is not done", g)
	}
	out := make([]storage.Candidate, len(gen.Population))
	for i, id := range gen.Population {
		if out[i], err = c.db.GetCandidate(ctx, id); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c *Coordinator) breeding(ctx context.Context, r *run, n tasks.Node) (tasks.Breeding, error) {
	pop, err := c.population(ctx, r, n.Generation-1)
	if err != nil {
		return tasks.Breeding{}, err
	}
	return tasks.Breeding{Node: n, Config: r.row.Config, Population: c.members(r, pop)}, nil
}

func (c *Coordinator) selection(ctx context.Context, r *run, n tasks.Node) (tasks.SelectPayload, error) {
	p := tasks.SelectPayload{Node: n, Config: r.row.Config}
	if n.Generation > 0 {
		pop, err := c.population(ctx, r, n.Generation-1)
		if err != nil {
			return p, err
		}
		p.Parents = c.members(r, pop)
	}
	off, err := c.db.ListCandidates(ctx, r.row.ID, n.Generation)
	if err != nil {
		return p, err
	}
	p.Offspring = c.members(r, off)
	// Hypervolume is measured over objectives normalised by generation 0's
	// bounds, so that it is comparable across generations.
	first, err := c.db.ListCandidates(ctx, r.row.ID, 0)
	if err != nil {
		return p, err
	}
	p.Ideal, p.Nadir = bounds(evolveObjectives(c.members(r, first)))
	return p, nil
}

func evolveObjectives(ms []tasks.Member) [][]float64 {
	var out [][]float64
	for _, m := range ms {
		if !m.Failed {
			out = append(out, m.Objectives)
		}
	}
	return out
}

// bounds returns min and max per objective; an objective without range
// gets a unit range so normalisation stays finite.
func bounds(points [][]float64) (ideal, nadir []float64) {
	if len(points) == 0 {
		return nil, nil
	}
	ideal, nadir = evolve.MinMax(points)
	for i := range ideal {
		if !(nadir[i] > ideal[i]) {
			nadir[i] = ideal[i] + 1
		}
	}
	return ideal, nadir
}

// record applies a worker's report to the database: the node's end, and
// the nodes it unblocks. Reports are idempotent: a node already finished is
// left as it is.
func (c *Coordinator) record(ctx context.Context, r *run, rep tasks.Report) error {
	n, err := tasks.ParseNode(rep.Node)
	if err != nil {
		return err
	}
	ts, err := c.db.GetTaskState(ctx, n.ID())
	if errors.Is(err, storage.ErrNotFound) {
		c.log.Warn("report for an unknown node", "node", n.ID())
		return nil
	}
	if err != nil {
		return err
	}
	if ts.Status == storage.TaskDone || ts.Status == storage.TaskFailed {
		return nil
	}
	if rep.Running || rep.Requeued {
		return c.recordStart(ctx, r, n, rep)
	}
	err = c.update(ctx, r.row.ID, func(tx *storage.Tx) error {
		if !rep.OK {
			return c.recordFailure(ctx, tx, r, n, rep)
		}
		if err := tx.FinishTask(ctx, n.ID(), storage.TaskDone, rep.Result, ""); err != nil {
			return err
		}
		return c.recordResult(ctx, tx, r, n, rep)
	})
	if err != nil {
		return fmt.Errorf("recording %s: %w", n, err)
	}
	msg := fmt.Sprintf("%s %s", n.Stage, okText(rep))
	if r.warning != "" {
		msg += "; warning: " + r.warning
		r.warning = ""
	}
	c.progress(ctx, r, msg)
	return nil
}

func okText(rep tasks.Report) string {
	if rep.OK {
		return "done " + rep.Node
	}
	return "failed " + rep.Node + ": " + rep.Error
}

func (c *Coordinator) recordResult(ctx context.Context, tx *storage.Tx, r *run, n tasks.Node, rep tasks.Report) error {
	switch n.Stage {
	case tasks.StageRecombine:
		_, err := tx.AddTaskStates(ctx, c.state(r.node(n.Generation, tasks.StageMutate, n.Index, 0), r))
		return err
	case tasks.StageMutate:
		return c.recordMutated(ctx, tx, r, n, rep)
	case tasks.StageTrain:
		return c.recordTrained(ctx, tx, r, n, rep)
	case tasks.StageEvaluate:
		return c.recordEvaluated(ctx, tx, r, n, rep)
	case tasks.StageSelect:
		return c.recordSelected(ctx, tx, r, n, rep)
	}
	return fmt.Errorf("unknown stage %q", n.Stage)
}

// recordMutated adds the candidate a mutate node made, with the parents
// and operator of its recombine node, and schedules its training unless
// the evaluation cache already scores it.
func (c *Coordinator) recordMutated(ctx context.Context, tx *storage.Tx, r *run, n tasks.Node, rep tasks.Report) error {
	var rec tasks.RecombineResult
	data, err := tx.TaskResult(ctx, r.node(n.Generation, tasks.StageRecombine, n.Index, 0).ID())
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return err
	}
	var mut tasks.MutateResult
	if err := json.Unmarshal(rep.Result, &mut); err != nil {
		return err
	}
	x, err := genome.Parse(mut.Genome)
	if err != nil {
		return err
	}
	op := storage.OpCrossMut
	if rec.Operator == "firefly" {
		op = storage.OpFirefly
	}
	cand := c.candidate(r, n.Generation, n.Index, x, rec.Parents, op)
	if err := tx.AddCandidates(ctx, cand); err != nil {
		return err
	}
	cached, err := c.useCache(ctx, tx, r, cand)
	if err != nil || cached {
		return err
	}
	_, err = tx.AddTaskStates(ctx, c.state(r.node(n.Generation, tasks.StageTrain, n.Index, 0), r))
	return err
}

// recordTrained marks the candidate trained by the reporting worker and
// schedules its evaluation; a rung's training that stopped early fails it.
func (c *Coordinator) recordTrained(ctx context.Context, tx *storage.Tx, r *run, n tasks.Node, rep tasks.Report) error {
	if r.multiGen(n.Generation) {
		var tr tasks.TrainResult
		if err := json.Unmarshal(rep.Result, &tr); err != nil {
			return err
		}
		if tr.FailedEarly != "" {
			return c.failEarly(ctx, tx, r, n, tr)
		}
	}
	candID := storage.CandidateID(r.row.ID, n.Generation, n.Index)
	if err := tx.StartCandidate(ctx, candID, rep.Worker, rep.Started); err != nil {
		return err
	}
	_, err := tx.AddTaskStates(ctx, c.state(r.rungNode(n.Generation, tasks.StageEvaluate, n.Index, n.Attempt, n.Rung), r))
	return err
}

// recordEvaluated completes the candidate with its objectives and the
// metrics of its training and evaluation. A final-stage retraining is one
// seed of several, so it stays out of the evaluation cache.
func (c *Coordinator) recordEvaluated(ctx context.Context, tx *storage.Tx, r *run, n tasks.Node, rep tasks.Report) error {
	var ev tasks.EvaluateResult
	if err := json.Unmarshal(rep.Result, &ev); err != nil {
		return err
	}
	var tr tasks.TrainResult
	if data, err := tx.TaskResult(ctx, r.rungNode(n.Generation, tasks.StageTrain, n.Index, n.Attempt, n.Rung).ID()); err == nil {
		_ = json.Unmarshal(data, &tr)
	}
	if _, err := search.Vector(r.cfg.Objectives, ev.Objectives); err != nil {
		return c.failCandidate(ctx, tx, r, n, "evaluation: "+err.Error())
	}
	cacheKey := r.row.ConfigHash
	if r.final(n.Generation) {
		cacheKey = ""
	}
	res := storage.Result{
		Objectives: ev.Objectives, Metrics: mergeMetrics(tr.Metrics, ev.Metrics), Finished: rep.Finished,
		TrainSeconds: tr.TrainSeconds, Checkpoint: tr.Checkpoint, ConfigHash: cacheKey,
	}
	candID := storage.CandidateID(r.row.ID, n.Generation, n.Index)
	if r.multiGen(n.Generation) {
		res.Rung, res.Steps, res.CacheSteps = n.Rung, r.rungs[n.Rung], r.cacheSteps(n.Rung)
		if prev, err := tx.GetCandidate(ctx, candID); err == nil {
			res.TrainSeconds += prev.TrainSeconds // every rung's training
		}
	}
	return tx.CompleteCandidate(ctx, candID, res)
}

// recordSelected finishes the generation with the population its select
// node kept, checks the rung proxy, and moves the run on: to the next
// generation, to the final stage, or to its end.
func (c *Coordinator) recordSelected(ctx context.Context, tx *storage.Tx, r *run, n tasks.Node, rep tasks.Report) error {
	var sel tasks.SelectResult
	if err := json.Unmarshal(rep.Result, &sel); err != nil {
		return err
	}
	if err := tx.FinishGeneration(ctx, r.row.ID, n.Generation, sel.Hypervolume, sel.Population); err != nil {
		return err
	}
	if _, err := tx.AppendEvent(ctx, storage.Event{RunID: r.row.ID, Kind: "generation.finished",
		Message: mustJSON(map[string]any{"generation": n.Generation, "hypervolume": sel.Hypervolume, "front": sel.Front})}); err != nil {
		return err
	}
	warn, err := c.checkRungs(ctx, tx, r, n.Generation)
	if err != nil {
		return err
	}
	r.warning = warn
	if n.Generation >= r.cfg.Generations && r.cfg.Final != nil {
		return nil // the final stage starts at the next advance
	}
	if n.Generation >= r.cfg.Generations {
		if err := tx.SetRunStatus(ctx, r.row.ID, storage.RunFinished, ""); err != nil {
			return err
		}
		_, err := tx.AppendEvent(ctx, storage.Event{RunID: r.row.ID, Kind: "run.finished", Message: mustJSON(map[string]any{})})
		return err
	}
	return tx.SetCurrentGeneration(ctx, r.row.ID, n.Generation+1)
}

// recordFailure records a node that failed for good. A candidate's failure
// marks it failed (it ranks as dominated) and the search goes on; an
// evaluate that found no checkpoint schedules the training again; a failed
// evolution stage fails the run.
func (c *Coordinator) recordFailure(ctx context.Context, tx *storage.Tx, r *run, n tasks.Node, rep tasks.Report) error {
	if err := tx.FinishTask(ctx, n.ID(), storage.TaskFailed, nil, rep.Error); err != nil {
		return err
	}
	if _, err := tx.AppendEvent(ctx, storage.Event{RunID: r.row.ID, Kind: "node.failed",
		Message: mustJSON(map[string]any{"node": n.ID(), "error": rep.Error, "worker": rep.Worker})}); err != nil {
		return err
	}
	switch n.Stage {
	case tasks.StageTrain:
		return c.failCandidate(ctx, tx, r, n, "training: "+rep.Error)
	case tasks.StageEvaluate:
		if strings.Contains(rep.Error, tasks.CheckpointMissingText) && n.Attempt < 3 {
			_, err := tx.AddTaskStates(ctx, c.state(r.rungNode(n.Generation, tasks.StageTrain, n.Index, n.Attempt+1, n.Rung), r))
			return err
		}
		return c.failCandidate(ctx, tx, r, n, "evaluation: "+rep.Error)
	}
	return fmt.Errorf("%s failed: %s", n, rep.Error)
}

// reconcile checks every unfinished node of the run against the queue:
// a completed task is recorded from the result it left, an archived one as a
// failure, and a missing one is enqueued again.
func (c *Coordinator) reconcile(ctx context.Context, r *run) error {
	nodes, err := c.db.ListTaskStates(ctx, r.row.ID, storage.TaskEnqueued, storage.TaskRunning)
	if err != nil {
		return err
	}
	for _, ts := range nodes {
		state, info, err := c.broker.LookupTask(ctx, ts.Queue, ts.ID)
		if err != nil {
			return fmt.Errorf("reconciling %s: %w", ts.ID, err)
		}
		switch {
		case state == runner.StateCompleted:
			rep := tasks.Report{Node: ts.ID, OK: true, Result: info.Result, Worker: tasks.ResultWorker(info.Result), Finished: info.CompletedAt}
			if err := c.record(ctx, r, rep); err != nil {
				return err
			}
		case state == runner.StateArchived:
			rep := tasks.Report{Node: ts.ID, Error: info.LastErr, Worker: "queue", Finished: info.LastFailedAt}
			if err := c.record(ctx, r, rep); err != nil {
				return err
			}
		case state == runner.StateMissing:
			c.log.Info("re-enqueueing a node the queue lost", "node", ts.ID)
			if err := c.enqueue(ctx, r, ts); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Coordinator) progress(ctx context.Context, r *run, msg string) {
	if c.opts.Progress == nil {
		return
	}
	row, err := c.db.GetRun(ctx, r.row.ID)
	if err != nil {
		return
	}
	r.row = row
	if final, _ := c.inFinal(ctx, r); final {
		c.opts.Progress(c.finalProgress(ctx, r, msg))
		return
	}
	g := row.CurrentGeneration
	counts, _ := c.db.CountCandidates(ctx, row.ID, g)
	p := Progress{Run: row.ID, Generation: g, Generations: r.cfg.Generations, Total: r.size(g),
		Done: counts[storage.CandEvaluated] + counts[storage.CandFailed], Failed: counts[storage.CandFailed],
		Training: c.trainingNow(ctx, row.ID, g), Message: msg}
	if g > 0 {
		if gen, err := c.db.GetGeneration(ctx, row.ID, g-1); err == nil {
			p.Hypervolume = gen.Hypervolume
		}
	}
	if row.Status == storage.RunFinished {
		if gen, err := c.db.GetGeneration(ctx, row.ID, g); err == nil {
			p.Hypervolume = gen.Hypervolume
			p.Done = p.Total
		}
	}
	c.opts.Progress(p)
}

func mustJSON(v any) json.RawMessage {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return data
}

// mergeMetrics joins the training and evaluation metrics under "train" and
// "eval", and lifts the training loss curve ("losses") and throughput
// ("train_tokens_per_s") to the top, where dashboards look for them.
func mergeMetrics(train, eval json.RawMessage) json.RawMessage {
	m := map[string]json.RawMessage{}
	if len(train) > 0 {
		m["train"] = train
		var top map[string]json.RawMessage
		if json.Unmarshal(train, &top) == nil {
			for _, k := range []string{"losses", "train_tokens_per_s"} {
				if v, ok := top[k]; ok {
					m[k] = v
				}
			}
		}
	}
	if len(eval) > 0 {
		m["eval"] = eval
	}
	if len(m) == 0 {
		return nil
	}
	return mustJSON(m)
}

// allFailed is the error of a generation whose every candidate failed: the
// most common error, and how many candidates it failed.
func (c *Coordinator) allFailed(ctx context.Context, r *run, g int) error {
	cands, err := c.db.ListCandidates(ctx, r.row.ID, g)
	if err != nil {
		return err
	}
	count := map[string]int{}
	common := ""
	for _, cand := range cands {
		count[cand.Error]++
		if count[cand.Error] > count[common] || (count[cand.Error] == count[common] && cand.Error < common) {
			common = cand.Error
		}
	}
	return fmt.Errorf("every candidate of generation %d failed (%d of %d with: %s)", g, count[common], len(cands), common)
}
