package pipeline

import (
	"context"
	"fmt"

	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/tasks"
)

// recordStart applies a started report (rep.Running): a worker began node
// n, which has not ended. A training node moves to running (counting an
// attempt) and its candidate to training on that worker, so that status,
// progress lines and the dashboard show it from the start of its training
// rather than from its end; other nodes send no started report. A start
// that arrives after its node ended is dropped by record before this, and
// one that cannot be recorded is logged: it never fails the run.
func (c *Coordinator) recordStart(ctx context.Context, r *run, n tasks.Node, rep tasks.Report) error {
	if n.Stage != tasks.StageTrain {
		return nil
	}
	candID := storage.CandidateID(r.row.ID, n.Generation, n.Index)
	err := c.db.Update(ctx, func(tx *storage.Tx) error {
		if err := tx.SetTaskStatus(ctx, n.ID(), storage.TaskRunning, ""); err != nil {
			return err
		}
		return tx.StartCandidate(ctx, candID, rep.Worker, rep.Started)
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Only a display is at stake: the run goes on.
		c.log.Warn("recording the start of a node", "node", n.ID(), "err", err)
		return nil
	}
	c.progress(ctx, r, fmt.Sprintf("train started %s on %s", n, rep.Worker))
	return nil
}

// trainingNow counts the training nodes of a run's generation that a
// worker reported started and that have not ended.
func (c *Coordinator) trainingNow(ctx context.Context, runID string, generation int) int {
	nodes, err := c.db.ListTaskStates(ctx, runID, storage.TaskRunning)
	if err != nil {
		return 0
	}
	n := 0
	for _, ts := range nodes {
		if ts.Generation == generation && ts.Stage == string(tasks.StageTrain) {
			n++
		}
	}
	return n
}
