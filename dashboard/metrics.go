package dashboard

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// metricFamily is one metric of the Prometheus text format.
type metricFamily struct {
	name, help, typ string
	samples         []sample
}

type sample struct {
	labels [][2]string
	value  float64
}

func (m *metricFamily) add(v float64, labels ...string) {
	var ls [][2]string
	for i := 0; i+1 < len(labels); i += 2 {
		ls = append(ls, [2]string{labels[i], labels[i+1]})
	}
	m.samples = append(m.samples, sample{labels: ls, value: v})
}

func (m *metricFamily) write(w io.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", m.name, m.help, m.name, m.typ)
	for _, s := range m.samples {
		w.Write([]byte(m.name))
		if len(s.labels) > 0 {
			var parts []string
			for _, l := range s.labels {
				parts = append(parts, l[0]+`="`+escapeLabel(l[1])+`"`)
			}
			fmt.Fprintf(w, "{%s}", strings.Join(parts, ","))
		}
		fmt.Fprintf(w, " %s\n", strconv.FormatFloat(s.value, 'g', -1, 64))
	}
}

// escapeLabel escapes a label value for the text format.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// metrics serves Prometheus text-format metrics: per run its status,
// generation, candidates by outcome, hypervolume and training throughput;
// with Options.Queues, the queues' job counts.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	runs, err := s.listRuns(r.Context())
	if err != nil {
		code, msg := s.status(r, err)
		http.Error(w, msg, code)
		return
	}
	fam := func(name, typ, help string) *metricFamily {
		return &metricFamily{name: "star_" + name, typ: typ, help: help}
	}
	info := fam("run_status", "gauge", "1 for the run's current status.")
	gen := fam("run_generation", "gauge", "Generation the run is working on.")
	gens := fam("run_generations", "gauge", "Generations the run is configured for, after the seed population.")
	evaluated := fam("candidates_evaluated", "gauge", "Candidates of the run with objectives recorded.")
	failed := fam("candidates_failed", "gauge", "Candidates of the run that failed permanently.")
	training := fam("candidates_training", "gauge", "Candidates of the run a worker is training or evaluating.")
	pending := fam("candidates_pending", "gauge", "Candidates of the run not yet started.")
	hv := fam("run_hypervolume", "gauge", "Hypervolume of the run's last selected generation.")
	tps := fam("train_tokens_per_second", "gauge", "Mean training throughput the run's candidates report.")
	elapsed := fam("run_elapsed_seconds", "gauge", "Seconds since the run was created, up to its end.")
	for _, run := range runs {
		info.add(1, "run", run.ID, "status", string(run.Status))
		gen.add(float64(run.CurrentGeneration), "run", run.ID)
		gens.add(float64(run.Generations), "run", run.ID)
		evaluated.add(float64(run.Evaluated), "run", run.ID)
		failed.add(float64(run.Failed), "run", run.ID)
		training.add(float64(run.Training), "run", run.ID)
		pending.add(float64(run.Pending), "run", run.ID)
		elapsed.add(run.ElapsedSeconds, "run", run.ID)
		if run.Hypervolume != nil {
			hv.add(*run.Hypervolume, "run", run.ID)
		}
		if run.TokensPerSecond != nil {
			tps.add(*run.TokensPerSecond, "run", run.ID)
		}
	}
	families := []*metricFamily{info, gen, gens, evaluated, failed, training, pending, hv, tps, elapsed}
	families = append(families, s.queueMetrics(r.Context())...)

	var buf bytes.Buffer
	for _, f := range families {
		f.write(&buf)
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = buf.WriteTo(w)
}

// queueMetrics reads the queues through Options.Queues, if set. A
// Redis that does not answer reports star_queue_up 0 instead of failing the
// scrape.
func (s *Server) queueMetrics(ctx context.Context) []*metricFamily {
	in := s.opts.Queues
	if in == nil {
		return nil
	}
	up := &metricFamily{name: "star_queue_up", typ: "gauge", help: "1 when the queue's Redis answered this scrape."}
	tasks := &metricFamily{name: "star_queue_tasks", typ: "gauge", help: "Tasks in an asynq queue by state."}
	latency := &metricFamily{name: "star_queue_latency_seconds", typ: "gauge",
		help: "Age of the oldest pending task of an asynq queue."}
	queues, err := in.QueueStats(ctx)
	if err != nil {
		s.opts.Logger.Warn("reading queue metrics", "err", err)
		up.add(0)
		return []*metricFamily{up}
	}
	for _, qi := range queues {
		q := qi.Queue
		for _, st := range []struct {
			state string
			n     int
		}{{"pending", qi.Pending}, {"active", qi.Active}, {"scheduled", qi.Scheduled}, {"retry", qi.Retry},
			{"archived", qi.Archived}, {"completed", qi.Completed}, {"aggregating", qi.Aggregating}} {
			tasks.add(float64(st.n), "queue", q, "state", st.state)
		}
		latency.add(qi.Latency.Seconds(), "queue", q)
	}
	up.add(1)
	return []*metricFamily{up, tasks, latency}
}
