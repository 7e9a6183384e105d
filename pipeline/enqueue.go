package pipeline

// Enqueueing nodes: each node's payload, built from the lineage when it
// is enqueued.

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/star-pipeline/star-pipeline/evolve"
	"github.com/star-pipeline/star-pipeline/search"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/tasks"
)

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
