package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/star-pipeline/star-pipeline/storage"
)

// Run actions.
const (
	ActionPause  = "pause"
	ActionResume = "resume"
	ActionCancel = "cancel"
)

// allowedActions returns the actions r's status allows: pause a pending or
// running run; resume a paused or failed one; cancel any run that has not
// ended, or is paused.
func allowedActions(r storage.Run) []string {
	var out []string
	switch {
	case Paused(r):
		out = append(out, ActionResume, ActionCancel)
	case r.Status == storage.RunFailed:
		out = append(out, ActionResume)
	case !r.Status.Terminal():
		out = append(out, ActionPause, ActionCancel)
	}
	return out
}

// act applies action to run id and returns the run's new state. It fails
// with 404 for an unknown run or action, 409 when the run's status does not
// allow the action.
func (s *Server) act(ctx context.Context, id, action string) (storage.Run, error) {
	if !slices.Contains([]string{ActionPause, ActionResume, ActionCancel}, action) {
		return storage.Run{}, notFound("no action %q: want pause, resume or cancel", action)
	}
	var out storage.Run
	err := s.db.Update(ctx, func(tx *storage.Tx) error {
		r, err := tx.GetRun(ctx, id)
		if err != nil {
			return notFoundRun(err, id)
		}
		if !slices.Contains(allowedActions(r), action) {
			st := string(r.Status)
			if Paused(r) {
				st = "paused"
			}
			return &httpError{code: http.StatusConflict, msg: fmt.Sprintf("cannot %s run %s: it is %s", action, id, st)}
		}
		switch action {
		case ActionPause:
			err = tx.SetRunStatus(ctx, id, storage.RunFailed, PauseMessage)
		case ActionResume:
			err = tx.SetRunStatus(ctx, id, storage.RunPending, "")
		case ActionCancel:
			err = tx.SetRunStatus(ctx, id, storage.RunCancelled, CancelMessage)
		}
		if err != nil {
			return err
		}
		out, err = tx.GetRun(ctx, id)
		return err
	})
	if err == nil {
		s.opts.Logger.Info("run action", "run", id, "action", action, "status", out.Status)
	}
	return out, err
}

// actionsDisabled is the answer of every action when they are not enabled.
var actionsDisabled = &httpError{code: http.StatusForbidden,
	msg: "run actions are disabled; start the dashboard with --allow-actions to pause, resume or cancel runs"}

// actionForm serves the buttons of a run's page: it applies the action and
// sends the browser back to the run.
func (s *Server) actionForm(w http.ResponseWriter, r *http.Request) {
	if !s.opts.AllowActions {
		s.pageError(w, r, actionsDisabled)
		return
	}
	id := r.PathValue("id")
	if _, err := s.act(r.Context(), id, r.PathValue("action")); err != nil {
		s.pageError(w, r, err)
		return
	}
	http.Redirect(w, r, runPath(id), http.StatusSeeOther)
}

// actionAPI applies an action and answers with the run's new summary.
func (s *Server) actionAPI(w http.ResponseWriter, r *http.Request) {
	if !s.opts.AllowActions {
		s.writeError(w, r, actionsDisabled)
		return
	}
	id := r.PathValue("id")
	if _, err := s.act(r.Context(), id, r.PathValue("action")); err != nil {
		s.writeError(w, r, err)
		return
	}
	var sum RunSummary
	err := s.view(r.Context(), func(tx *storage.Tx) error {
		d, err := loadRun(r.Context(), tx, id)
		sum = summarise(d, s.opts.Now())
		return err
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sum)
}
