package pipeline

// Recording what the queue reports: each node's result or failure, in
// one transaction with the nodes it enables; reconciling with the queue;
// progress.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/star-pipeline/star-pipeline/candmetrics"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/runner"
	"github.com/star-pipeline/star-pipeline/search"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/tasks"
)

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
			for _, k := range candmetrics.Lifted {
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
