package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/star-pipeline/star-pipeline/runner"
)

// KindReport is the task type of a worker's report to the coordinator.
const KindReport = "star:report"

// KindStarted is the task type of a worker's note to the coordinator that
// it began a training node: its payload is a Report with Running set and
// no result. A coordinator that does not know the kind archives it, so
// older coordinators ignore it.
const KindStarted = "star:started"

// KindRequeued is the task type of a worker's note that an attempt of a
// training node ended without ending the node: it failed and waits for a
// retry, or the worker stopped and the queue hands it out again. Its
// payload is a Report with Requeued set and the attempt's error.
const KindRequeued = "star:requeued"

// Report is what a worker sends the coordinator, on the control queue, when
// a node ends: its result, or the error that ended it for good. A started
// report (Running, sent as KindStarted) says only that a node began.
type Report struct {
	Node      string          `json:"node"` // the node's task id
	OK        bool            `json:"ok"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     string          `json:"error,omitempty"`
	Worker    string          `json:"worker"`
	Started   time.Time       `json:"started"`
	Finished  time.Time       `json:"finished"`
	Permanent bool            `json:"permanent,omitempty"`
	// Running marks a started report: the node began on Worker at
	// Started and has not ended.
	Running bool `json:"running,omitempty"`
	// Requeued marks a requeued note: an attempt ended at Finished with
	// Error, and the node went back to the queue.
	Requeued bool `json:"requeued,omitempty"`
}

// ReportID is the task id of the report of a node: one report per node, so
// a node re-run after a worker crash cannot report twice.
func ReportID(node string) string { return "report/" + node }

// StartedID is the task id of the started report of a node. It is kept
// only until the coordinator has read it, so each attempt of a node
// reports its start.
func StartedID(node string) string { return "started/" + node }

// RequeuedID is the task id of the requeued note of a node, kept, like a
// started report, only until the coordinator has read it.
func RequeuedID(node string) string { return "requeued/" + node }

// NewStartedTask returns the control-queue task saying that r.Node began on
// r.Worker at r.Started.
func NewStartedTask(r Report) (runner.Job, error) {
	r.Running, r.Requeued, r.OK, r.Result, r.Error = true, false, false, nil, ""
	return newNote(KindStarted, StartedID(r.Node), r)
}

// NewRequeuedTask returns the control-queue task saying that an attempt of
// r.Node ended with r.Error and the node went back to the queue.
func NewRequeuedTask(r Report) (runner.Job, error) {
	r.Running, r.Requeued, r.OK, r.Result = false, true, false, nil
	return newNote(KindRequeued, RequeuedID(r.Node), r)
}

// newNote is a control-queue task that says how a node is going: no
// result, no retention.
func newNote(kind, id string, r Report) (runner.Job, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return runner.Job{}, fmt.Errorf("encoding a note on %s: %w", r.Node, err)
	}
	return runner.Job{Kind: kind, ID: id, Queue: QueueControl, Payload: data, MaxRetry: 3}, nil
}

// NewReportTask returns the control-queue task carrying r.
func NewReportTask(r Report) (runner.Job, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return runner.Job{}, fmt.Errorf("encoding report of %s: %w", r.Node, err)
	}
	return runner.Job{Kind: KindReport, ID: ReportID(r.Node), Queue: QueueControl, Payload: data,
		MaxRetry: 25, Retention: Retention}, nil
}

// DecodeReport decodes a report task's payload.
func DecodeReport(data []byte) (Report, error) {
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return Report{}, fmt.Errorf("decoding report: %w", err)
	}
	if _, err := ParseNode(r.Node); err != nil {
		return Report{}, fmt.Errorf("decoding report: %w", err)
	}
	return r, nil
}

// DecodeControl decodes a control-queue task of type kind (KindReport,
// KindStarted or KindRequeued): the kind, not the payload, sets Running and
// Requeued, and a note carries no result.
func DecodeControl(kind string, data []byte) (Report, error) {
	if kind != KindReport && kind != KindStarted && kind != KindRequeued {
		return Report{}, fmt.Errorf("control queue: unexpected task %q", kind)
	}
	r, err := DecodeReport(data)
	if err != nil {
		return Report{}, err
	}
	r.Running, r.Requeued = kind == KindStarted, kind == KindRequeued
	if r.Running || r.Requeued {
		r.OK, r.Result = false, nil
	}
	if r.Running {
		r.Error = ""
	}
	return r, nil
}

// Enqueuer enqueues a task unless one with the same id exists; it reports
// whether it enqueued. runner.Broker.EnqueueOnce is one.
type Enqueuer interface {
	EnqueueOnce(ctx context.Context, job runner.Job) (bool, error)
}

// Handlers runs the nodes of searches on a worker.
type Handlers struct {
	// Evaluator trains and scores candidates.
	Evaluator Evaluator
	// Reports is where results go: the control queue of the same Redis.
	Reports Enqueuer
	// Worker names this worker in reports; default host:pid.
	Worker string
	// Logger; default discards.
	Logger *slog.Logger
	// AnnounceAfter is how long a training node runs before the worker
	// tells the coordinator it started; shorter ones say nothing until
	// they end, which keeps the control queue free of notes on fast
	// tasks. Default DefaultAnnounceAfter.
	AnnounceAfter time.Duration
}

// DefaultAnnounceAfter is the default Handlers.AnnounceAfter.
const DefaultAnnounceAfter = time.Second

// Handler returns the handler of every stage's jobs.
func (h *Handlers) Handler() runner.Handler {
	if h.Worker == "" {
		host, _ := os.Hostname()
		h.Worker = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if h.Logger == nil {
		h.Logger = slog.New(slog.DiscardHandler)
	}
	mux := runner.NewMux()
	mux.Handle(StageRecombine.Kind(), h.stage(decoded(Recombine)))
	mux.Handle(StageMutate.Kind(), h.stage(decoded(Mutate)))
	mux.Handle(StageSelect.Kind(), h.stage(decoded(Select)))
	mux.Handle(StageTrain.Kind(), h.announced(h.stage(decoded(h.train))))
	mux.Handle(StageEvaluate.Kind(), h.stage(decoded(h.Evaluator.Evaluate)))
	return mux.Handler()
}

// decoded adapts a typed stage function to raw JSON in and out.
func decoded[P, R any](fn func(context.Context, P) (R, error)) func(context.Context, []byte) (any, error) {
	return func(ctx context.Context, data []byte) (any, error) {
		var p P
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, permanent(fmt.Errorf("decoding payload: %w", err))
		}
		return fn(ctx, p)
	}
}

// train trains with the Evaluator and names this worker in the result.
func (h *Handlers) train(ctx context.Context, p TrainPayload) (TrainResult, error) {
	r, err := h.Evaluator.Train(ctx, p)
	if err == nil {
		r.Worker = h.Worker
	}
	return r, err
}

// stage runs one node and reports how it ended: its result (also written
// as the task's result, so a restarted coordinator finds it in the queue),
// or its error when no retry is left. An interrupted node reports nothing:
// it goes back to the queue.
func (h *Handlers) stage(fn func(context.Context, []byte) (any, error)) runner.Handler {
	return func(ctx context.Context, d *runner.Delivery) error {
		id := d.ID
		rep := Report{Node: id, Worker: h.Worker, Started: time.Now().UTC()}
		res, err := fn(ctx, d.Payload)
		rep.Finished = time.Now().UTC()
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			rep.Permanent = IsPermanent(err)
			if !rep.Permanent && !d.LastAttempt() {
				h.Logger.Warn("node failed; the queue retries it", "node", id, "err", err)
				return err
			}
			rep.Error = err.Error()
			if rerr := h.report(ctx, rep); rerr != nil {
				return errors.Join(err, rerr)
			}
			return err
		}
		rep.OK = true
		if rep.Result, err = json.Marshal(res); err != nil {
			return permanent(fmt.Errorf("encoding result: %w", err))
		}
		if err := d.WriteResult(rep.Result); err != nil {
			return err
		}
		return h.report(ctx, rep)
	}
}

// announced tells the coordinator that a node began, once it has run for
// AnnounceAfter, and then that it went back to the queue if the attempt
// ends without ending the node (an error with retries left, or the worker
// stopping): a training takes minutes, and its candidate shows as training
// while, and only while, a worker trains it. The notes are best effort: a
// failure to send one is logged and the node runs all the same.
func (h *Handlers) announced(next runner.Handler) runner.Handler {
	return func(ctx context.Context, d *runner.Delivery) error {
		id := d.ID
		started := Report{Node: id, Worker: h.Worker, Started: time.Now().UTC()}
		after := h.AnnounceAfter
		if after <= 0 {
			after = DefaultAnnounceAfter
		}
		noted := make(chan struct{})
		timer := time.AfterFunc(after, func() {
			defer close(noted)
			h.note(ctx, NewStartedTask, started)
		})
		err := next(ctx, d)
		if timer.Stop() {
			return err // ended before it was announced: nothing to take back
		}
		<-noted // the requeued note must follow the started one
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || (!IsPermanent(err) && !d.LastAttempt()) {
			h.note(ctx, NewRequeuedTask, Report{Node: id, Worker: h.Worker, Finished: time.Now().UTC(), Error: err.Error()})
		}
		return err
	}
}

// note sends a started or requeued note, logging a failure.
func (h *Handlers) note(ctx context.Context, build func(Report) (runner.Job, error), r Report) {
	job, err := build(r)
	if err == nil {
		// A note on a node interrupted by a shutdown must still leave.
		nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, err = h.Reports.EnqueueOnce(nctx, job)
	}
	if err != nil {
		h.Logger.Warn("telling the coordinator how a node goes", "node", r.Node, "err", err)
	}
}

func (h *Handlers) report(ctx context.Context, r Report) error {
	job, err := NewReportTask(r)
	if err != nil {
		return err
	}
	// The report must reach the queue even when the node's context ends
	// right after the work is done.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := h.Reports.EnqueueOnce(ctx, job); err != nil {
		return fmt.Errorf("reporting %s: %w", r.Node, err)
	}
	return nil
}
