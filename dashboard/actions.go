package dashboard

import (
	"context"
	"errors"
	"net/http"

	"github.com/star-pipeline/star-pipeline/runview"
	"github.com/star-pipeline/star-pipeline/storage"
)

// Run actions.
const (
	ActionPause  = "pause"
	ActionResume = "resume"
	ActionCancel = "cancel"
)

// allowedActions returns the actions r's status allows, as storage's
// transitions do: pause a pending or running run; resume a paused or
// failed one; cancel a pending, running or paused one.
func allowedActions(r storage.Run) []string {
	switch r.Status {
	case storage.RunPending, storage.RunRunning:
		return []string{ActionPause, ActionCancel}
	case storage.RunPaused:
		return []string{ActionResume, ActionCancel}
	case storage.RunFailed:
		return []string{ActionResume}
	}
	return nil
}

// act applies action to run id and returns the run's new state. It fails
// with 404 for an unknown run or action, 409 when the run's status does not
// allow the action.
func (s *Server) act(ctx context.Context, id, action string) (storage.Run, error) {
	var change func(tx *storage.Tx) error
	switch action {
	case ActionPause:
		change = func(tx *storage.Tx) error { return tx.PauseRun(ctx, id) }
	case ActionResume:
		change = func(tx *storage.Tx) error { return tx.ResumeRun(ctx, id) }
	case ActionCancel:
		change = func(tx *storage.Tx) error { return tx.CancelRun(ctx, id, CancelMessage) }
	default:
		return storage.Run{}, notFound("no action %q: want pause, resume or cancel", action)
	}
	var out storage.Run
	err := s.db.Update(ctx, func(tx *storage.Tx) error {
		var te *storage.TransitionError
		err := change(tx)
		switch {
		case errors.As(err, &te):
			return &httpError{code: http.StatusConflict, msg: te.Error()}
		case err != nil:
			return notFoundRun(err, id)
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
		d, err := runview.Load(r.Context(), tx, id)
		sum = summarise(d, s.opts.Now())
		return err
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sum)
}
