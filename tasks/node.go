// Package tasks defines the stages of a search's DAG: one file per stage,
// each with its payload type, its stable kind name and a handler that takes a
// context and plain Go values; the queue that carries them is runner's. Task ids are deterministic, so enqueueing a
// node twice is harmless and a lost queue can be rebuilt from the lineage
// database.
package tasks

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/star-pipeline/star-pipeline/runner"
)

// Stage is one step of a generation's DAG.
type Stage string

// The stages of a generation, in DAG order.
const (
	StageRecombine Stage = "recombine"
	StageMutate    Stage = "mutate"
	StageTrain     Stage = "train"
	StageEvaluate  Stage = "evaluate"
	StageSelect    Stage = "select"
)

// Stages lists every stage in DAG order.
var Stages = []Stage{StageRecombine, StageMutate, StageTrain, StageEvaluate, StageSelect}

// Kind returns the queue job kind of the stage, e.g. "star:train".
func (s Stage) Kind() string { return "star:" + string(s) }

// Valid reports whether s is one of Stages.
func (s Stage) Valid() bool {
	for _, v := range Stages {
		if s == v {
			return true
		}
	}
	return false
}

// Node names one node of a run's DAG: run, generation, stage and index
// within the stage (the candidate's index; 0 for select). Attempt counts
// deliberate re-runs that must not collide with the first task id: a mutate
// redone because its child duplicated another genome, or a train redone
// because its checkpoint went missing. Rung is the rung of a
// multi-fidelity run a train or evaluate node trains to or evaluates (0:
// the first, or the only budget).
type Node struct {
	Run        string `json:"run"`
	Generation int    `json:"generation"`
	Stage      Stage  `json:"stage"`
	Index      int    `json:"index"`
	Attempt    int    `json:"attempt,omitempty"`
	Rung       int    `json:"rung,omitempty"`
}

// ID returns the node's deterministic task id,
// "<run>/g<generation>/<stage>/<index>[/r<rung>][/a<attempt>]" (rung 0
// and attempt 0 are left out).
func (n Node) ID() string {
	id := fmt.Sprintf("%s/g%03d/%s/%04d", n.Run, n.Generation, n.Stage, n.Index)
	if n.Rung > 0 {
		id += "/r" + strconv.Itoa(n.Rung)
	}
	if n.Attempt > 0 {
		id += "/a" + strconv.Itoa(n.Attempt)
	}
	return id
}

func (n Node) String() string { return n.ID() }

// ParseNode parses a task id written by Node.ID.
func ParseNode(id string) (Node, error) {
	parts := strings.Split(id, "/")
	if len(parts) < 4 || len(parts) > 6 {
		return Node{}, fmt.Errorf("task id %q: want run/gN/stage/index[/rN][/aN]", id)
	}
	var n Node
	n.Run = parts[0]
	if n.Run == "" {
		return Node{}, fmt.Errorf("task id %q: empty run", id)
	}
	g, err := strconv.Atoi(strings.TrimPrefix(parts[1], "g"))
	if err != nil || !strings.HasPrefix(parts[1], "g") || g < 0 {
		return Node{}, fmt.Errorf("task id %q: bad generation %q", id, parts[1])
	}
	n.Generation = g
	n.Stage = Stage(parts[2])
	if !n.Stage.Valid() {
		return Node{}, fmt.Errorf("task id %q: unknown stage %q", id, parts[2])
	}
	if n.Index, err = strconv.Atoi(parts[3]); err != nil || n.Index < 0 {
		return Node{}, fmt.Errorf("task id %q: bad index %q", id, parts[3])
	}
	rest := parts[4:]
	if len(rest) > 0 && strings.HasPrefix(rest[0], "r") {
		k, err := strconv.Atoi(rest[0][1:])
		if err != nil || k < 1 {
			return Node{}, fmt.Errorf("task id %q: bad rung %q", id, rest[0])
		}
		n.Rung, rest = k, rest[1:]
	}
	if len(rest) > 1 {
		return Node{}, fmt.Errorf("task id %q: want run/gN/stage/index[/rN][/aN]", id)
	}
	if len(rest) == 1 {
		a, err := strconv.Atoi(strings.TrimPrefix(rest[0], "a"))
		if err != nil || !strings.HasPrefix(rest[0], "a") || a < 1 {
			return Node{}, fmt.Errorf("task id %q: bad attempt %q", id, rest[0])
		}
		n.Attempt = a
	}
	return n, nil
}

// ErrPermanent marks a failure that retrying cannot fix (a bad genome, a
// non-finite loss, out of memory). Handlers wrap it together with
// runner.SkipRetry so the queue archives the task at once.
var ErrPermanent = errors.New("permanent failure")

// permanent marks err as a failure no retry can fix.
func permanent(err error) error {
	if err == nil || errors.Is(err, ErrPermanent) {
		return err
	}
	return permanentError{err}
}

// permanentError keeps err's message and matches ErrPermanent and
// runner.SkipRetry, so the queue archives the task without retrying.
type permanentError struct{ err error }

func (e permanentError) Error() string   { return e.err.Error() }
func (e permanentError) Unwrap() []error { return []error{e.err, ErrPermanent, runner.SkipRetry} }

// IsPermanent reports whether err is a permanent failure.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }
