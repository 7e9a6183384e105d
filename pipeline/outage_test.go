package pipeline_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/star-pipeline/star-pipeline/internal/redistest"
	"github.com/star-pipeline/star-pipeline/pipeline"
	"github.com/star-pipeline/star-pipeline/runner"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/tasks"
)

// logBuffer collects log lines for a test to look at while they come.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// A real redis-server goes away for a few seconds in the middle of a run:
// killed and restarted empty (the queue is lost: reconcile enqueues every
// unfinished node again), or stalled with SIGSTOP and continued. The
// coordinator waits for it, logging the outage, and the run ends like an
// uninterrupted one. Before, the first reconcile or enqueue of the outage
// failed the run ("SISMEMBER failed: connection refused").
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	wantCands, wantFinal := referenceLineage(t, 17)
	for _, kind := range []string{"restart", "stall"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			srv := redistest.Start(t)
			var logs logBuffer
			h := newHarnessOn(t, tasks.StaticEvaluator{}, runner.Options{Addr: srv.Socket, Logger: logs.logger()})
			id, err := pipeline.Submit(ctx, h.db, staticConfig(t, 17))
			if err != nil {
				t.Fatal(err)
			}
			midRun := make(chan struct{})
			var once sync.Once
			co, err := pipeline.New(pipeline.Options{DB: h.db, Broker: h.broker, ReconcileEvery: 100 * time.Millisecond,
				Progress: func(p pipeline.Progress) {
					if p.Generation >= 1 && p.Done >= 2 {
						once.Do(func() { close(midRun) })
					}
				}})
			if err != nil {
				t.Fatal(err)
			}
			driven := make(chan error, 1)
			go func() { driven <- co.Drive(ctx, id) }()

			<-midRun
			if kind == "restart" {
				srv.Kill()
			} else {
				srv.Pause()
			}
			down := time.Now()
			waitFor(t, "the coordinator to see the outage", func() bool {
				return strings.Contains(logs.String(), "redis unreachable; retrying")
			})
			// A few seconds of outage, whatever the machine's speed.
			<-time.After(3*time.Second - time.Since(down))
			if kind == "restart" {
				srv.Restart()
			} else {
				srv.Resume()
			}
			select {
			case err := <-driven:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(2 * time.Minute):
				t.Fatal("the run did not finish within 2 minutes of the outage")
			}
			if !strings.Contains(logs.String(), "redis is back") {
				t.Errorf("no log line says that redis is back:\n%s", logs.String())
			}
			sameLineage(t, h.db, id, wantCands, wantFinal)
		})
	}
}

// An outage longer than the broker's outage limit fails the run, saying
// why.
func TestRedisOutagePastTheLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.Start(t)
	h := newHarnessOn(t, tasks.StaticEvaluator{}, runner.Options{Addr: srv.Socket, OutageLimit: time.Second})
	id, err := pipeline.Submit(ctx, h.db, staticConfig(t, 17))
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	co, err := pipeline.New(pipeline.Options{DB: h.db, Broker: h.broker, ReconcileEvery: 100 * time.Millisecond,
		Progress: func(p pipeline.Progress) {
			if p.Generation >= 1 && p.Done >= 2 {
				once.Do(srv.Kill) // for good
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	err = co.Drive(ctx, id)
	if err == nil || !strings.Contains(err.Error(), "outage limit") {
		t.Fatalf("Drive = %v, want the outage limit's error", err)
	}
	r, err := h.db.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != storage.RunFailed || !strings.Contains(r.Error, "unreachable for") {
		t.Errorf("run %s (%s), want failed for the outage", r.Status, r.Error)
	}
}
