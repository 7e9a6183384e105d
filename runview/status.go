package runview

import (
	"context"
	"encoding/json"
	"time"

	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/study"
)

// Status is a run's progress as `star-pipeline status --json` prints it.
type Status struct {
	Run         Summary                         `json:"run"`
	Generations []GenerationSummary             `json:"generations"`
	Candidates  map[storage.CandidateStatus]int `json:"candidates"`
	Training    []Training                      `json:"training"`
	Events      []Event                         `json:"events"`
	// Rungs is a multi-fidelity run's proxy check between consecutive
	// rungs (study.RungCorrelations), with the run's warning threshold;
	// empty for other runs.
	Rungs         []study.RungCorrelation `json:"rung_correlations,omitempty"`
	RungThreshold float64                 `json:"rung_threshold,omitempty"`
}

// Event is one entry of a run's event log.
type Event struct {
	ID      int64           `json:"id"`
	Time    time.Time       `json:"time"`
	Kind    string          `json:"kind"`
	Message json.RawMessage `json:"message"`
}

// StatusSource is what LoadStatus reads.
type StatusSource interface {
	Source
	TaskSource
	study.RungSource
	ListEvents(ctx context.Context, runID string, afterID int64, limit int) ([]storage.Event, error)
}

// LoadStatus reads run id's progress at time now with its last events
// (none when events is 0). It fails with storage.ErrNotFound for an
// unknown run.
func LoadStatus(ctx context.Context, src StatusSource, id string, events int, now time.Time) (Status, error) {
	d, err := Load(ctx, src, id)
	if err != nil {
		return Status{}, err
	}
	training, err := TrainingNow(ctx, src, d)
	if err != nil {
		return Status{}, err
	}
	evs, err := lastEvents(ctx, src, id, events)
	if err != nil {
		return Status{}, err
	}
	st := Status{Run: Summarise(d, now), Generations: SummariseGenerations(d), Candidates: CountByStatus(d.Candidates),
		Training: training, Events: evs}
	if f := d.Config.Fidelity; f != nil {
		if st.Rungs, err = study.RungCorrelations(ctx, src, id, -1, d.Config.RungSteps(), d.Objectives[0]); err != nil {
			return Status{}, err
		}
		st.RungThreshold = *f.MinCorrelation
	}
	return st, nil
}

// lastEvents returns the last n events of run id, oldest first.
func lastEvents(ctx context.Context, src StatusSource, id string, n int) ([]Event, error) {
	out := []Event{}
	if n <= 0 {
		return out, nil
	}
	events, err := src.ListEvents(ctx, id, 0, 0)
	if err != nil {
		return nil, err
	}
	if len(events) > n {
		events = events[len(events)-n:]
	}
	for _, e := range events {
		out = append(out, Event{ID: e.ID, Time: e.Time, Kind: e.Kind, Message: e.Message})
	}
	return out, nil
}
