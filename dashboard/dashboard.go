// Package dashboard serves a web view of the runs in a lineage database:
// the runs, each run's Pareto front, hypervolume and population, each
// candidate's backbone, costs, metrics and lineage, the LIV classes that
// make up the fronts, JSON twins of those pages, and Prometheus metrics.
//
// Pages are rendered on the server from embedded templates with inline SVG
// charts; the embedded stylesheet and script need no network. The handler
// only reads the database unless it is built with Options.AllowActions,
// which adds POST endpoints that pause, resume and cancel runs.
package dashboard

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/star-pipeline/star-pipeline/runner"
	"github.com/star-pipeline/star-pipeline/storage"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// ErrInvalidOptions: an Options field New cannot use.
var ErrInvalidOptions = errors.New("invalid dashboard options")

// DefaultRefresh is how often the pages of a running run reload.
const DefaultRefresh = 5 * time.Second

// QueueStatser reads the job counts of every queue.
type QueueStatser interface {
	QueueStats(ctx context.Context) ([]runner.QueueStats, error)
}

// Options configure a Server. The zero value serves a read-only dashboard.
type Options struct {
	// AllowActions enables the POST endpoints that pause, resume and
	// cancel runs. Default false: they answer 403 and the pages show no
	// buttons.
	AllowActions bool

	// Queues, when set, adds the queue sizes to /metrics.
	// runner.Broker is one. Default nil: no queue metrics.
	Queues QueueStatser

	// MonitoringPath, when set, is linked from every page as the queue
	// monitor. Default "": no link.
	MonitoringPath string

	// Monitor, when set, is served under MonitoringPath (a path of its
	// own, "/monitoring/"): an asynqmon handler with that root path, for
	// one. It sits behind the checks of the run actions: the Host check,
	// no changes from other sites, only GET and HEAD unless AllowActions,
	// and every change it serves logged. Default nil: the caller mounts
	// the monitor, if any, outside the dashboard and its checks.
	Monitor http.Handler

	// AllowedHosts are the values of the Host header the dashboard
	// answers; others get 421 Misdirected Request. This defeats DNS
	// rebinding: a page of another site whose name is made to resolve to
	// the dashboard's address sends its own name as Host. An entry "name"
	// or "address" allows that host on any port, "name:port" on that port
	// only (write IPv6 addresses in brackets: "[::1]:8080"); names compare
	// without case or trailing dot; "*" allows any Host. Default nil:
	// DefaultAllowedHosts, the loopback names on any port.
	AllowedHosts []string

	// Refresh is how often the pages of a running run reload. Default
	// DefaultRefresh; negative disables reloading.
	Refresh time.Duration

	// Logger receives errors the pages could not show. Default: discarded.
	Logger *slog.Logger

	// Now returns the current time, for the elapsed time of running runs.
	// Default time.Now.
	Now func() time.Time
}

// WithDefaults returns o with every zero field set to its default.
func (o Options) WithDefaults() Options {
	if o.Refresh == 0 {
		o.Refresh = DefaultRefresh
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Server is the dashboard's http.Handler.
type Server struct {
	db    *storage.DB
	opts  Options
	hosts hostRules
	csrf  *http.CrossOriginProtection
	pages map[string]*template.Template
	mux   *http.ServeMux
}

// New returns the dashboard of db. db stays owned by the caller.
func New(db *storage.DB, opts Options) (*Server, error) {
	if db == nil {
		return nil, errors.New("creating dashboard: no database")
	}
	s := &Server{db: db, opts: opts.WithDefaults(), pages: map[string]*template.Template{}}
	hosts := s.opts.AllowedHosts
	if hosts == nil {
		hosts = DefaultAllowedHosts
	}
	var err error
	if s.hosts, err = parseHosts(hosts); err != nil {
		return nil, fmt.Errorf("creating dashboard: %w", err)
	}
	if s.opts.Monitor != nil {
		if err := checkMonitorPath(s.opts.MonitoringPath); err != nil {
			return nil, fmt.Errorf("creating dashboard: %w", err)
		}
	}
	if err := s.parseTemplates(); err != nil {
		return nil, fmt.Errorf("creating dashboard: %w", err)
	}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.Handle("GET /static/", http.StripPrefix("/static/", staticFiles()))
	m.HandleFunc("GET /{$}", s.runsPage)
	m.HandleFunc("GET /runs/{id}", s.runPage)
	m.HandleFunc("GET /runs/{id}/classes", s.classesPage)
	m.HandleFunc("GET /candidates/{id...}", s.candidatePage)
	m.HandleFunc("GET /api/{$}", s.apiIndex)
	m.HandleFunc("GET /api", s.apiIndex)
	m.HandleFunc("GET /api/runs", s.apiRuns)
	m.HandleFunc("GET /api/runs/{id}", s.apiRun)
	m.HandleFunc("GET /api/runs/{id}/report", s.apiReport)
	m.HandleFunc("GET /api/candidates/{id...}", s.apiCandidate)
	m.HandleFunc("GET /metrics", s.metrics)
	s.csrf = http.NewCrossOriginProtection()
	s.csrf.SetDenyHandler(http.HandlerFunc(s.crossOrigin))
	m.Handle("POST /runs/{id}/{action}", s.csrf.Handler(http.HandlerFunc(s.actionForm)))
	m.Handle("POST /api/runs/{id}/{action}", s.csrf.Handler(http.HandlerFunc(s.actionAPI)))
	if s.opts.Monitor != nil {
		m.Handle(s.opts.MonitoringPath, s.monitor())
	}
	m.HandleFunc("/", s.notFound)
	s.mux = m
}

// staticFiles serves the embedded stylesheet and script. A name that is
// not a valid file name (invalid UTF-8 such as an overlong "%c0%ae") is not
// found, where the file server would answer 500.
func staticFiles() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name != "" && !fs.ValidPath(name) {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}

// Content security policies: the dashboard's pages load only their own
// stylesheet and script; the monitor's page runs inline scripts and styles
// (and loads web fonts), so it keeps only the rule against framing.
const (
	pagePolicy    = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"
	monitorPolicy = "frame-ancestors 'none'"
)

// ServeHTTP serves the dashboard.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	policy := pagePolicy
	if s.opts.Monitor != nil && strings.HasPrefix(r.URL.Path, s.opts.MonitoringPath) {
		policy = monitorPolicy
	}
	w.Header().Set("Content-Security-Policy", policy)
	w.Header().Set("Referrer-Policy", "same-origin")
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.opts.Logger.Error("serving dashboard: panic", "path", r.URL.Path, "panic", v)
			http.Error(w, "the dashboard failed on this request; see the server log", http.StatusInternalServerError)
		}
	}()
	if !s.hosts.allows(r) {
		s.misdirected(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// crossOrigin answers a request that would change something and comes from
// a page of another site.
func (s *Server) crossOrigin(w http.ResponseWriter, r *http.Request) {
	s.opts.Logger.Info("refused cross-origin request", "method", r.Method, "path", r.URL.Path)
	http.Error(w, "cross-origin request refused: changes must come from the dashboard's own pages", http.StatusForbidden)
}

// httpError is an error with the status code it answers with.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{code: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &httpError{code: http.StatusNotFound, msg: fmt.Sprintf(format, args...)}
}

// status returns the code and message an error answers with: its own for
// an httpError, 404 for storage.ErrNotFound, 503 for a cancelled request
// and 500 otherwise (logged; the page says only that reading failed).
func (s *Server) status(r *http.Request, err error) (int, string) {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.code, he.msg
	case errors.Is(err, storage.ErrNotFound):
		return http.StatusNotFound, "not found"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "request cancelled"
	}
	s.opts.Logger.Error("serving dashboard", "path", r.URL.Path, "err", err)
	return http.StatusInternalServerError, "reading the lineage database failed; see the server log"
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		s.writeError(w, r, notFound("no such endpoint %s", r.URL.Path))
		return
	}
	s.pageError(w, r, notFound("no page %s", r.URL.Path))
}

// writeJSON answers with v as indented JSON.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// writeError answers an API request with {"error": "..."}.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := s.status(r, err)
	writeJSON(w, code, map[string]string{"error": msg})
}

// candidatePath is the page of a candidate; each segment of its id is
// escaped, the slashes between them kept.
func candidatePath(id string) string {
	return "/candidates/" + escapeSegments(id)
}

func runPath(id string) string {
	return "/runs/" + url.PathEscape(id)
}

func escapeSegments(id string) string {
	parts := strings.Split(id, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}
