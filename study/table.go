package study

import (
	"fmt"
	"slices"
	"strings"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/storage"
)

// Table returns the report as text cells: one row per architecture
// (baselines first): name (with aliases), genome, params, cache_bytes,
// each measured objective as "mean ± sd (n)", each MAD task's accuracy,
// and against each baseline whether the row dominates it with the change
// in percent of the run's objectives.
func (rep Report) Table() (header []string, rows [][]string) {
	baselines := rep.Baselines()
	quality := rep.measuredColumns()
	mad := rep.madColumns()
	header = []string{"architecture", "genome", "params", "cache_bytes"}
	for _, q := range quality {
		header = append(header, q+" (mean ± sd)")
	}
	header = append(header, mad...)
	for _, b := range baselines {
		header = append(header, "vs "+b)
	}
	for _, r := range rep.Rows {
		name := r.Name
		if len(r.Aliases) > 0 {
			name += " (" + strings.Join(r.Aliases, ", ") + ")"
		}
		row := []string{name, r.Genome, staticCell(r, config.Params), staticCell(r, config.CacheBytes)}
		for _, q := range quality {
			row = append(row, statCell(r.Values[q], r.Failed))
		}
		for _, m := range mad {
			row = append(row, statCell(r.MAD[m], 0))
		}
		for _, b := range baselines {
			row = append(row, versusCell(r, b, rep.Objectives))
		}
		rows = append(rows, row)
	}
	return header, rows
}

// Baselines returns the names of the baseline rows, in order.
func (rep Report) Baselines() []string {
	var out []string
	for _, r := range rep.Rows {
		if r.Role == storage.RoleBaseline {
			out = append(out, r.Name)
		}
	}
	return out
}

// measuredColumns are the measured objectives any row has, in the order
// of config.Objectives.
func (rep Report) measuredColumns() []string {
	var out []string
	for _, o := range config.Objectives {
		if !IsMeasured(o) {
			continue
		}
		for _, r := range rep.Rows {
			if _, ok := r.Values[o]; ok {
				out = append(out, o)
				break
			}
		}
	}
	return out
}

// madColumns are the MAD tasks any row was scored on, sorted.
func (rep Report) madColumns() []string {
	var out []string
	for _, r := range rep.Rows {
		for k := range r.MAD {
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	slices.Sort(out)
	return out
}

func staticCell(r Row, o string) string {
	v, ok := r.Values[o]
	if !ok || v.N == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", v.Mean)
}

// statCell prints "mean ± sd (n)", with the failed seeds if any.
func statCell(s Stat, failed int) string {
	if s.N == 0 {
		if failed > 0 {
			return fmt.Sprintf("failed (%d)", failed)
		}
		return "-"
	}
	out := fmt.Sprintf("%.4g ± %.2g (n=%d)", s.Mean, s.SD, s.N)
	if failed > 0 {
		out += fmt.Sprintf(", %d failed", failed)
	}
	return out
}

// versusCell prints whether r dominates baseline b and the change against
// it on the run's objectives.
func versusCell(r Row, b string, objectives []string) string {
	if r.Name == b {
		return "-"
	}
	i := slices.IndexFunc(r.Versus, func(c Comparison) bool { return c.Baseline == b })
	if i < 0 {
		return "-"
	}
	c := r.Versus[i]
	var parts []string
	for _, o := range objectives {
		if ch, ok := c.Change[o]; ok {
			parts = append(parts, fmt.Sprintf("%s %+.1f%%", short(o), ch))
		}
	}
	verdict := "no"
	if c.Dominates {
		verdict = "DOMINATES"
	}
	if len(parts) == 0 {
		return verdict
	}
	return verdict + ": " + strings.Join(parts, ", ")
}

// short abbreviates an objective name for table cells.
func short(o string) string {
	switch o {
	case config.Perplexity:
		return "ppl"
	case config.CacheBytes:
		return "cache"
	case config.MADScore:
		return "mad"
	}
	return o
}

// Notes are the lines under the table: the stage's size and state, the
// dominance counts, hypervolume per generation, the compute spent, the
// proxy check, failed retrainings and the comparison rule.
func (rep Report) Notes() []string {
	var out []string
	note := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	status := "complete"
	if !rep.Complete {
		status = "INCOMPLETE: retrainings are still pending (run status " + rep.Status + ")"
	}
	note("final stage: %d architectures x %d seeds, %d steps each (search: %d steps); %s",
		len(rep.Rows), rep.Seeds, rep.Steps, rep.SearchStep, status)
	evolved := 0
	for _, r := range rep.Rows {
		if r.Role == storage.RoleCandidate {
			evolved++
		}
	}
	for _, b := range rep.Baselines() {
		note("evolved architectures that dominate %s on %s: %d of %d", b, strings.Join(rep.Objectives, ", "),
			rep.Dominating[b], evolved)
	}
	var hv []string
	for _, g := range rep.Hypervolume {
		v := "-"
		if g.Hypervolume != nil {
			v = fmt.Sprintf("%.4f", *g.Hypervolume)
		}
		hv = append(hv, fmt.Sprintf("%d: %s", g.Index, v))
	}
	note("hypervolume per generation: %s", strings.Join(hv, ", "))
	note("spent: search %d trainings (%d cache hits), %d train steps; final %d retrainings, %d train steps",
		rep.Search.Trainings, rep.Search.CacheHits, rep.Search.TrainSteps, rep.Final.Trainings, rep.Final.TrainSteps)
	switch {
	case rep.ProxyObjective == "":
		note("proxy check: no measured objective")
	case rep.Proxy == nil:
		note("proxy check (%s): %d architectures with a short-budget result; 3 are needed", rep.ProxyObjective, rep.ProxyN)
	default:
		note("proxy check: Spearman rank correlation %.3f between short-budget and final %s over %d architectures",
			*rep.Proxy, rep.ProxyObjective, rep.ProxyN)
	}
	if len(rep.Rungs) > 0 {
		note("%s", RungText(rep.Rungs, rep.RungThreshold))
	}
	for _, r := range rep.Rows {
		for _, e := range r.Errors {
			note("%s: a retraining failed: %s", r.Name, e)
		}
	}
	note("rule: %s", rep.Rule)
	return out
}
