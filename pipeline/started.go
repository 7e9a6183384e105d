package pipeline

import (
	"context"
	"fmt"

	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/tasks"
)

// recordStart applies a worker's note on a training node that has not
// ended: started (rep.Running) moves the node to running (counting an
// attempt) and its candidate to training on that worker, so that status,
// progress lines and the dashboard show it from the start of its training
// rather than from its end; requeued (rep.Requeued: the attempt failed and
// waits for a retry, or its worker stopped) moves the node back to
// enqueued with the attempt's error. Other nodes send no notes. A note
// that arrives after its node ended is dropped by record before this, and
// one that cannot be recorded is logged: it never fails the run.
func (c *Coordinator) recordStart(ctx context.Context, r *run, n tasks.Node, rep tasks.Report) error {
	if n.Stage != tasks.StageTrain {
		return nil
	}
	candID := storage.CandidateID(r.row.ID, n.Generation, n.Index)
	msg := fmt.Sprintf("train started %s on %s", n, rep.Worker)
	err := c.update(ctx, r.row.ID, func(tx *storage.Tx) error {
		if rep.Requeued {
			msg = fmt.Sprintf("train %s back in the queue: %s", n, rep.Error)
			return tx.SetTaskStatus(ctx, n.ID(), storage.TaskEnqueued, rep.Error)
		}
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
		c.log.Warn("recording a note on a node", "node", n.ID(), "err", err)
		return nil
	}
	c.progress(ctx, r, msg)
	return nil
}

// trainingNow counts the training nodes of a run's generation that a
// worker reported started and that have not ended or gone back to the
// queue.
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
