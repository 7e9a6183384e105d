package trainer

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/data"
	"github.com/star-pipeline/star-pipeline/genome"
)

// Sweep is the learning-rate x weight-decay grid a MAD task is trained
// over; its score is the best test accuracy. An empty list means the
// Config's own value.
type Sweep struct {
	LearningRates []float64
	WeightDecays  []float64 // 0 means none
}

// MADTaskScore is the outcome of one MAD task's sweep.
type MADTaskScore struct {
	Task         string  // task name
	Accuracy     float64 // best test accuracy over the sweep
	LearningRate float64 // of the best run
	WeightDecay  float64 // of the best run
	Runs         []Result
}

// MADResult is the MAD score of a genome.
type MADResult struct {
	Tasks        []MADTaskScore
	MeanAccuracy float64 // mean over tasks of the best accuracy
	Score        float64 // 1 - MeanAccuracy: the search objective, minimised
}

// MADScore trains g on every task once per sweep point and scores it: per
// task the best test accuracy, overall the mean (docs/design.md, section 4).
// cfg is the recipe of every run; with cfg.CheckpointDir set, each run
// checkpoints into its own subdirectory <task>/lr<lr>-wd<wd>, so an
// interrupted scoring resumes where it stopped. onStep, when not nil,
// receives every run's progress with the run's task name.
func MADScore(ctx context.Context, g genome.Genome, dims arch.Config, tasks []data.Task, cfg Config, sweep Sweep,
	onStep func(task string, p Progress)) (MADResult, error) {
	if len(tasks) == 0 {
		return MADResult{}, fmt.Errorf("%w: no MAD tasks to score", ErrInvalid)
	}
	base := cfg.WithDefaults()
	lrs := sweep.LearningRates
	if len(lrs) == 0 {
		lrs = []float64{base.LearningRate}
	}
	wds := sweep.WeightDecays
	if len(wds) == 0 {
		wds = []float64{base.WeightDecay}
	}
	var out MADResult
	for _, task := range tasks {
		if task.Metric() != data.Accuracy {
			return out, fmt.Errorf("%w: %s is not a MAD task", ErrInvalid, task.Name())
		}
		ts := MADTaskScore{Task: task.Name(), Accuracy: -1}
		for _, lr := range lrs {
			for _, wd := range wds {
				run := cfg
				run.LearningRate = lr
				run.WeightDecay = wd
				if wd == 0 {
					run.WeightDecay = -1
				}
				if cfg.CheckpointDir != "" {
					run.CheckpointDir = filepath.Join(cfg.CheckpointDir, dirName(task.Name()),
						"lr"+strconv.FormatFloat(lr, 'g', -1, 64)+"-wd"+strconv.FormatFloat(wd, 'g', -1, 64))
				}
				var report func(Progress)
				if onStep != nil {
					name := task.Name()
					report = func(p Progress) { onStep(name, p) }
				}
				res, err := Train(ctx, g, dims, task, run, report)
				if err != nil {
					return out, fmt.Errorf("training on %s (lr %g, weight decay %g): %w", task.Name(), lr, wd, err)
				}
				ts.Runs = append(ts.Runs, res)
				if res.Accuracy > ts.Accuracy {
					ts.Accuracy, ts.LearningRate, ts.WeightDecay = res.Accuracy, lr, wd
				}
			}
		}
		out.Tasks = append(out.Tasks, ts)
		out.MeanAccuracy += ts.Accuracy / float64(len(tasks))
	}
	out.Score = 1 - out.MeanAccuracy
	return out, nil
}

// dirName turns a task name into a directory name.
func dirName(s string) string {
	return strings.NewReplacer(":", "-", "/", "_", "\\", "_", "..", "_").Replace(s)
}
