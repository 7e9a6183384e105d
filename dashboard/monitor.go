package dashboard

import (
	"fmt"
	"net/http"
	"strings"
)

// monitorReadOnly answers a change sent to the queue monitor when actions
// are not enabled.
const monitorReadOnly = "the queue monitor is read-only; start the dashboard with --allow-actions to change queues and tasks"

// checkMonitorPath refuses a MonitoringPath that cannot hold a mounted
// monitor: it must be a subtree of its own, "/name/".
func checkMonitorPath(p string) error {
	ok := len(p) > 2 && strings.HasPrefix(p, "/") && strings.HasSuffix(p, "/") && !strings.ContainsAny(p, "{} \t")
	for _, reserved := range []string{"/api/", "/static/", "/runs/", "/candidates/", "/metrics/"} {
		if strings.HasPrefix(p, reserved) {
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("%w: monitoring path %q: want a path of its own such as \"/monitoring/\"", ErrInvalidOptions, p)
	}
	return nil
}

// monitor serves Options.Monitor behind the checks of the run actions:
// requests from other sites that change something are refused (403), and
// so is every request but GET and HEAD unless actions are enabled. Every
// change that reaches the monitor is logged with its method, path, answer
// and client address; never its query, headers or body.
func (s *Server) monitor() http.Handler {
	mon := s.opts.Monitor
	return s.csrf.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			mon.ServeHTTP(w, r)
			return
		}
		if !s.opts.AllowActions {
			s.opts.Logger.Info("refused queue monitor change: actions are disabled", "method", r.Method, "path", r.URL.Path)
			http.Error(w, monitorReadOnly, http.StatusForbidden)
			return
		}
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		mon.ServeHTTP(rec, r)
		s.opts.Logger.Info("queue monitor action", "method", r.Method, "path", r.URL.Path, "status", rec.code,
			"remote", r.RemoteAddr)
	}))
}

// statusRecorder remembers the status code a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	code    int
	written bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.written {
		r.code, r.written = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.written = true
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
