package tasks

import (
	"time"

	"github.com/star-pipeline/star-pipeline/runner"
)

// Queues of a search. Workers serve the evolution and training queues; the
// coordinator alone serves the control queue, where workers report results.
const (
	QueueControl = "star-control" // results, read by the coordinator
	QueueEvolve  = "star-evolve"  // recombine, mutate, select: cheap CPU work
	QueueTrain   = "star-train"   // train and evaluate on any backend
	QueueGPU     = "star-gpu"     // train and evaluate routed to GPU workers
)

// Policy is the queue policy of one stage: where it runs, how long it may
// take, how often it is retried and how long its finished record is kept.
type Policy struct {
	Queue     string
	Timeout   time.Duration
	MaxRetry  int
	Retention time.Duration
}

// Retention keeps a finished task's record (and so its id and result) long
// enough for a coordinator restarted days later to find it.
const Retention = 7 * 24 * time.Hour

// DefaultPolicy returns the policy of a stage. trainTimeout bounds one
// training task; it comes from the run config.
func DefaultPolicy(s Stage, trainTimeout time.Duration) Policy {
	switch s {
	case StageTrain:
		return Policy{Queue: QueueTrain, Timeout: trainTimeout, MaxRetry: 3, Retention: Retention}
	case StageEvaluate:
		return Policy{Queue: QueueTrain, Timeout: 30 * time.Minute, MaxRetry: 3, Retention: Retention}
	default:
		return Policy{Queue: QueueEvolve, Timeout: 5 * time.Minute, MaxRetry: 5, Retention: Retention}
	}
}

// Job returns the queue job of node n, carrying payload, under policy p.
func (p Policy) Job(n Node, payload []byte) runner.Job {
	return runner.Job{Kind: n.Stage.Kind(), ID: n.ID(), Queue: p.Queue, Payload: payload,
		Timeout: p.Timeout, MaxRetry: p.MaxRetry, Retention: p.Retention}
}
