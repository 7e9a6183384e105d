package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/star-pipeline/star-pipeline/dashboard"
)

func init() { register(serveCommand()) }

// monitoringPath is where the asynq queue monitor is mounted with --redis.
const monitoringPath = "/monitoring"

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "serve the dashboard: runs, Pareto fronts, candidates, lineage, metrics",
		UsageText: "star-pipeline serve --db star.db\n" +
			"star-pipeline serve --db star.db --redis localhost:6379 --addr 127.0.0.1:8080 --allow-actions\n" +
			"star-pipeline serve --db star.db --addr 0.0.0.0:8080 --allowed-hosts dash.internal,10.0.0.5",
		Description: "Serves HTML pages at /, JSON under /api/ (GET /api/ lists the endpoints; docs/api.md describes them) " +
			"and Prometheus metrics at /metrics, until interrupted (Ctrl-C: a clean shutdown exits 0). " +
			"With --redis, /metrics adds the queue sizes and " + monitoringPath + "/ serves the asynq monitor. " +
			"Without --allow-actions the dashboard only reads the database and the monitor only shows the queues. " +
			"It answers only requests whose Host is the --addr host, localhost, 127.0.0.1 or [::1] on the bound port, " +
			"or one of --allowed-hosts (others get 421), so that pages of other sites cannot reach it through " +
			"a name that resolves to its address (DNS rebinding); binding to every interface (0.0.0.0) does not " +
			"change that: name the hosts clients use, or '*' for any.",
		Flags: []cli.Flag{
			dbFlag(),
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8080", EnvVars: []string{"STAR_ADDR"},
				Usage: "address to listen on (port 0 picks a free port); keep it on loopback unless the network is trusted"},
			&cli.StringFlag{Name: "redis", EnvVars: []string{"STAR_REDIS"},
				Usage: "Redis address of the queue (host:port, unix socket path or redis:// URL); empty: no queue metrics"},
			&cli.StringFlag{Name: "redis-password", EnvVars: []string{"STAR_REDIS_PASSWORD"},
				Usage: "Redis password (prefer the environment variable: flags show in process lists)"},
			&cli.IntFlag{Name: "redis-db", EnvVars: []string{"STAR_REDIS_DB"}, Usage: "Redis database number"},
			&cli.BoolFlag{Name: "allow-actions", EnvVars: []string{"STAR_ALLOW_ACTIONS"},
				Usage: "let the pages pause, resume and cancel runs (and the queue monitor change tasks)"},
			&cli.StringSliceFlag{Name: "allowed-hosts", EnvVars: []string{"STAR_ALLOWED_HOSTS"},
				Usage: "more Host names to answer besides the --addr host and the loopback names on its port " +
					"(comma-separated; name for any port, name:port, or '*' for any Host)"},
			&cli.DurationFlag{Name: "refresh", Value: dashboard.DefaultRefresh, EnvVars: []string{"STAR_REFRESH"},
				Usage: "how often pages of running runs reload; 0 never"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, EnvVars: []string{"STAR_VERBOSE"},
				Usage: "log requests that change runs or queues, refused requests, and queue errors, to stderr"},
		},
		Action: serve,
	}
}

func serve(c *cli.Context) error {
	args, err := commandArgs(c)
	if err != nil {
		return err
	}
	if len(args) != 0 {
		return badInput("serve takes no arguments, got %q", args)
	}
	if err := checkQueueFlags(c); err != nil {
		return err
	}
	log := serveLogger(c)
	refresh, err := refreshOf(c)
	if err != nil {
		return err
	}
	opener := openDB // the dashboard only reads, unless it may change runs
	if c.Bool("allow-actions") {
		opener = openDBToChange
	}
	db, err := opener(c)
	if err != nil {
		return err
	}
	defer db.Close()

	ln, err := net.Listen("tcp", c.String("addr"))
	if err != nil {
		return badInput("listening on --addr %q: %w", c.String("addr"), err)
	}
	defer ln.Close()
	extra := extraHosts(c)
	opts := dashboard.Options{AllowActions: c.Bool("allow-actions"), Refresh: refresh, Logger: log,
		AllowedHosts: allowedHosts(c.String("addr"), ln.Addr(), extra)}
	if c.String("redis") != "" {
		b, err := openQueue(c, queueOptions(c, log),
			"check --redis and --redis-password, or omit --redis to serve without queue metrics")
		if err != nil {
			return err
		}
		defer b.Close()
		opts.Queues = b
		mon := b.Monitor(monitoringPath, !opts.AllowActions)
		defer mon.Close()
		opts.Monitor, opts.MonitoringPath = mon, monitoringPath+"/"
	}
	dash, err := dashboard.New(db, opts)
	if errors.Is(err, dashboard.ErrInvalidOptions) {
		return badInput("--allowed-hosts: %w", err)
	}
	if err != nil {
		return err
	}
	warnExposure(log, ln.Addr(), opts.AllowActions, len(extra) > 0)
	fmt.Fprintf(c.App.Writer, "dashboard at http://%s/\n", ln.Addr())
	return serveUntilInterrupted(c.Context, ln, dash, log)
}

// serveLogger logs warnings to stderr, and with --verbose every request
// that changes runs or queues.
func serveLogger(c *cli.Context) *slog.Logger {
	level := slog.LevelWarn
	if c.Bool("verbose") {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: level}))
}

// refreshOf returns --refresh as the dashboard takes it: 0 means never,
// which the dashboard spells -1.
func refreshOf(c *cli.Context) (time.Duration, error) {
	refresh := c.Duration("refresh")
	switch {
	case refresh < 0:
		return 0, badInput("--refresh %v is negative; give a duration such as 5s, or 0 to never reload", refresh)
	case refresh == 0:
		return -1, nil
	}
	return refresh, nil
}

// extraHosts returns the non-empty entries of --allowed-hosts.
func extraHosts(c *cli.Context) []string {
	var extra []string
	for _, h := range c.StringSlice("allowed-hosts") {
		if h = strings.TrimSpace(h); h != "" {
			extra = append(extra, h)
		}
	}
	return extra
}

// warnExposure warns when run actions are reachable beyond loopback, and
// when every interface is bound but only loopback names are answered.
func warnExposure(log *slog.Logger, addr net.Addr, actions, extraHosts bool) {
	host, _, _ := net.SplitHostPort(addr.String())
	if actions && !isLoopback(host) {
		log.Warn("run actions are enabled on a non-loopback address: anyone who reaches it can pause and cancel runs",
			"addr", addr.String())
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() && !extraHosts {
		log.Warn("listening on every interface, but answering only requests for localhost, 127.0.0.1 and [::1]: "+
			"give the names clients use with --allowed-hosts, or '*' for any", "addr", addr.String())
	}
}

// serveUntilInterrupted serves h on ln until ctx ends (Ctrl-C), then shuts
// down cleanly, giving requests in flight 5 seconds. Interrupting is how a
// dashboard is stopped, so it then returns nil.
func serveUntilInterrupted(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serving the dashboard: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting the dashboard down: %w", err)
	}
	return nil
}

// allowedHosts are the Hosts the dashboard answers when it listens on
// bound, from --addr flagAddr, and extra from --allowed-hosts: the loopback
// names and the --addr host (unless it means every interface), on the
// bound port, then extra.
func allowedHosts(flagAddr string, bound net.Addr, extra []string) []string {
	_, port, _ := net.SplitHostPort(bound.String())
	hosts := []string{net.JoinHostPort("localhost", port), net.JoinHostPort("127.0.0.1", port), net.JoinHostPort("::1", port)}
	if host, _, err := net.SplitHostPort(flagAddr); err == nil && host != "" {
		bound := net.JoinHostPort(host, port)
		if ip := net.ParseIP(host); (ip == nil || !ip.IsUnspecified()) && !slices.Contains(hosts, bound) {
			hosts = append(hosts, bound)
		}
	}
	return append(hosts, extra...)
}

// isLoopback reports whether host is a loopback address or localhost.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
