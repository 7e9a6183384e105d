package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/runview"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/study"
)

func init() {
	register(runsCommand())
	register(statusCommand())
	register(paretoCommand())
	register(lineageCommand())
}

func runsCommand() *cli.Command {
	return &cli.Command{
		Name:      "runs",
		Usage:     "list the runs of the lineage database, newest first",
		UsageText: "star-pipeline runs\nstar-pipeline runs --db /data/star.db --json",
		Flags:     []cli.Flag{dbFlag(), jsonFlag()},
		Action:    runsAction,
	}
}

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "print a run's progress (the newest run's without RUN_ID): generations, candidate counts, what is training and recent events",
		ArgsUsage: "[RUN_ID]",
		UsageText: "star-pipeline status\nstar-pipeline status r20240501-1\nstar-pipeline status r20240501-1 --events 20 --json",
		Flags: []cli.Flag{dbFlag(), jsonFlag(),
			&cli.IntFlag{Name: "events", Value: 10, Usage: "number of most recent events to print (0 for none)",
				EnvVars: []string{"STAR_EVENTS"}}},
		Action: statusAction,
	}
}

func paretoCommand() *cli.Command {
	return &cli.Command{
		Name:      "pareto",
		Usage:     "print the non-dominated candidates of a run's last finished generation",
		ArgsUsage: "RUN_ID",
		UsageText: "star-pipeline pareto r20240501-1\nstar-pipeline pareto r20240501-1 --json",
		Flags:     []cli.Flag{dbFlag(), jsonFlag()},
		Action:    paretoAction,
	}
}

func lineageCommand() *cli.Command {
	return &cli.Command{
		Name:      "lineage",
		Usage:     "print a candidate's ancestry as a tree, back to the seed population",
		ArgsUsage: "CANDIDATE_ID",
		UsageText: "star-pipeline lineage r20240501-1/g005/c0003\nstar-pipeline lineage r20240501-1/g005/c0003 --json",
		Flags:     []cli.Flag{dbFlag(), jsonFlag()},
		Action:    lineageAction,
	}
}

// oneArg returns the single positional argument of c, named what in
// messages, applying flags written after it.
func oneArg(c *cli.Context, what, hint string) (string, error) {
	args, err := commandArgs(c)
	if err != nil {
		return "", err
	}
	switch len(args) {
	case 0:
		return "", badInput("missing %s; %s", what, hint)
	case 1:
		return args[0], nil
	}
	return "", badInput("want one %s, got %d arguments", what, len(args))
}

const (
	runHint       = "`star-pipeline runs` lists the runs"
	candidateHint = "candidate ids look like RUN_ID/g001/c0002; `star-pipeline pareto RUN_ID` lists some"
)

func getRun(ctx context.Context, db *storage.DB, id string) (storage.Run, error) {
	r, err := db.GetRun(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return r, fmt.Errorf("no run %s in DB %s; %s", id, db.Path(), runHint)
	}
	return r, err
}

func getCandidate(ctx context.Context, db *storage.DB, id string) (storage.Candidate, error) {
	cand, err := db.GetCandidate(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return cand, fmt.Errorf("no candidate %s in DB %s; %s", id, db.Path(), candidateHint)
	}
	return cand, err
}

// runConfig parses the configuration a run was submitted with.
func runConfig(r storage.Run) (config.Config, error) { return runview.Config(r) }

// formatObjective prints an objective value: integers in full, the rest
// with 5 significant digits.
func formatObjective(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', 5, 64)
}

// objectivesText prints "name=value" for each of names that obj has, or "-".
func objectivesText(names []string, obj map[string]float64) string {
	var parts []string
	for _, n := range names {
		if v, ok := obj[n]; ok {
			parts = append(parts, n+"="+formatObjective(v))
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// formatDuration prints d to the second, with days above two days
// ("3d4h5m6s").
func formatDuration(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	d = d.Round(time.Second)
	const day = 24 * time.Hour
	if d < 2*day {
		return d.String()
	}
	return fmt.Sprintf("%dd%s", d/day, d%day)
}

func runsAction(c *cli.Context) error {
	args, err := commandArgs(c)
	if err != nil {
		return err
	}
	if len(args) != 0 {
		return badInput("runs takes no arguments, got %d", len(args))
	}
	db, err := openDB(c)
	if err != nil {
		return err
	}
	defer db.Close()
	runs, err := runview.LoadAll(c.Context, db)
	if err != nil {
		return err
	}
	now := time.Now()
	out := make([]runview.Summary, len(runs))
	for i, d := range runs {
		out[i] = runview.Summarise(d, now)
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, out)
	}
	return printRuns(c.App.Writer, db.Path(), out)
}

// printRuns prints run summaries as a table.
func printRuns(w io.Writer, dbPath string, runs []runview.Summary) error {
	if len(runs) == 0 {
		_, err := fmt.Fprintf(w, "no runs in %s; start one with `star-pipeline submit`\n", dbPath)
		return err
	}
	t := newTable(w, "ID", "STATUS", "ALGORITHM", "GENERATION", "POPULATION", "BEST", "CREATED", "ELAPSED")
	for _, s := range runs {
		t.row(s.ID, s.Status, s.Algorithm, fmt.Sprintf("%d/%d", s.CurrentGeneration, s.Generations), s.Population,
			objectivesText(s.Objectives, s.Best), formatTime(s.Created), formatDuration(s.Elapsed()))
	}
	return t.flush()
}

// newestRun returns the id of the run of db created last.
func newestRun(ctx context.Context, db *storage.DB) (string, error) {
	runs, err := db.ListRuns(ctx)
	if err != nil {
		return "", err
	}
	if len(runs) == 0 {
		return "", fmt.Errorf("no runs in %s; start one with `star-pipeline submit`", db.Path())
	}
	return runs[len(runs)-1].ID, nil // oldest first
}

func statusAction(c *cli.Context) error {
	args, err := commandArgs(c)
	if err != nil {
		return err
	}
	if len(args) > 1 {
		return badInput("want one RUN_ID, got %d arguments", len(args))
	}
	nEvents := c.Int("events")
	if nEvents < 0 {
		return badInput("--events must be >= 0, got %d", nEvents)
	}
	db, err := openDB(c)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx := c.Context
	var id string
	if len(args) == 1 {
		id = args[0]
	} else {
		if id, err = newestRun(ctx, db); err != nil {
			return err
		}
		fmt.Fprintf(c.App.ErrWriter, "status of the newest run %s (`star-pipeline runs` lists the others)\n", id)
	}
	st, err := runview.LoadStatus(ctx, db, id, nEvents, time.Now())
	if err != nil {
		return runError(err, db, id)
	}
	w := c.App.Writer
	if c.Bool("json") {
		return writeJSON(w, st)
	}
	for _, print := range []func(io.Writer, runview.Status) error{printRunHeader, printGenerations, printCandidateCounts} {
		if err := print(w, st); err != nil {
			return err
		}
	}
	if nEvents == 0 {
		return nil
	}
	return printEvents(w, st)
}

// printRunHeader prints a run's summary as name-value lines.
func printRunHeader(w io.Writer, st runview.Status) error {
	sum := st.Run
	t := newTable(w, "run", sum.ID)
	t.row("status", sum.Status)
	t.row("algorithm", fmt.Sprintf("%s (seed %d)", sum.Algorithm, sum.Seed))
	t.row("generation", fmt.Sprintf("%d/%d", sum.CurrentGeneration, sum.Generations))
	t.row("population", sum.Population)
	t.row("objectives", strings.Join(sum.Objectives, ", ")+" "+minimised)
	t.row("best", objectivesText(sum.Objectives, sum.Best))
	t.row("created", formatTime(sum.Created))
	if sum.Finished != nil {
		t.row("finished", formatTime(*sum.Finished))
	}
	t.row("elapsed", formatDuration(sum.Elapsed()))
	t.row("config hash", sum.ConfigHash)
	if sum.Error != "" {
		t.row("error", sum.Error)
	}
	return t.flush()
}

// printGenerations prints a table of a run's generations.
func printGenerations(w io.Writer, st runview.Status) error {
	fmt.Fprintln(w)
	if len(st.Generations) == 0 {
		_, err := fmt.Fprintln(w, "no generation started yet")
		return err
	}
	t := newTable(w, "GEN", "STATUS", "CANDIDATES", "EVALUATED", "FAILED", "UNFINISHED", "HYPERVOLUME", "SURVIVORS", "DURATION")
	for _, g := range st.Generations {
		hv := "-"
		if g.Hypervolume != nil {
			hv = strconv.FormatFloat(*g.Hypervolume, 'g', 6, 64)
		}
		dur := "-"
		if d, ok := g.Duration(); ok {
			dur = formatDuration(d)
		}
		t.row(g.Index, g.Status, g.Candidates, g.Evaluated, g.Failed, g.Unfinished, hv, g.Survivors, dur)
	}
	return t.flush()
}

// printCandidateCounts prints the run's candidates by status and those in
// training now.
func printCandidateCounts(w io.Writer, st runview.Status) error {
	counts := st.Candidates
	_, err := fmt.Fprintf(w, "\ncandidates: %d evaluated, %d failed, %d in training or evaluation, %d pending\n",
		counts[storage.CandEvaluated], counts[storage.CandFailed], counts[storage.CandTraining], counts[storage.CandPending])
	const maxTraining = 10
	for i, tr := range st.Training {
		if i == maxTraining {
			fmt.Fprintf(w, "training now: %d more (--json lists them all)\n", len(st.Training)-maxTraining)
			break
		}
		fmt.Fprintf(w, "training now: %s on %s since %s\n", tr.ID, orDash(tr.Worker), formatTime(tr.Started))
	}
	if len(st.Rungs) > 0 {
		fmt.Fprintln(w, study.RungText(st.Rungs, st.RungThreshold))
	}
	return err
}

// printEvents prints the run's last events.
func printEvents(w io.Writer, st runview.Status) error {
	fmt.Fprintln(w)
	if len(st.Events) == 0 {
		_, err := fmt.Fprintln(w, "no events")
		return err
	}
	fmt.Fprintf(w, "last %d events:\n", len(st.Events))
	t := newTable(w, "TIME", "KIND", "MESSAGE")
	for _, e := range st.Events {
		t.row(formatTime(e.Time), e.Kind, eventText(e.Message))
	}
	return t.flush()
}

// runError adds the hint of getRun to a read model's error about run id.
func runError(err error, db *storage.DB, id string) error {
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("no run %s in DB %s; %s", id, db.Path(), runHint)
	}
	return err
}

// minimised says which way every objective is better, for the headers of
// status and pareto.
const minimised = "(each minimised: lower is better)"

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// eventText prints an event message on one line, at most 120 characters.
func eventText(m json.RawMessage) string {
	s := string(m)
	var v any
	if json.Unmarshal(m, &v) == nil {
		if str, ok := v.(string); ok {
			s = str
		} else if b, err := json.Marshal(v); err == nil {
			s = string(b)
		}
	}
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 120 {
		s = string(r[:117]) + "..."
	}
	return s
}

// paretoEntry is one non-dominated candidate as pareto prints it.
type paretoEntry struct {
	ID         string             `json:"id"`
	Generation int                `json:"generation"`
	Index      int                `json:"index"`
	Genome     string             `json:"genome"`
	Hash       string             `json:"hash"`
	Operator   storage.Operator   `json:"operator"`
	Parents    []string           `json:"parents"`
	Objectives map[string]float64 `json:"objectives"`
	Metrics    json.RawMessage    `json:"metrics"`
	Checkpoint string             `json:"checkpoint,omitempty"`
}

// paretoFront is the non-dominated set of a run's last finished generation.
// It marshals to JSON as its entries alone.
type paretoFront struct {
	runview.ParetoSet
	Entries []paretoEntry
}

func (f paretoFront) MarshalJSON() ([]byte, error) { return json.Marshal(f.Entries) }

// paretoSet returns the non-dominated members of run id's last finished
// generation (runview.LastParetoSet) as pareto prints them.
func paretoSet(ctx context.Context, db *storage.DB, id string) (paretoFront, error) {
	front := paretoFront{Entries: []paretoEntry{}}
	d, err := runview.Load(ctx, db, id)
	if err != nil {
		return front, runError(err, db, id)
	}
	set, err := runview.LastParetoSet(d)
	if errors.Is(err, runview.ErrNoFinishedGeneration) {
		return front, fmt.Errorf("run %s has no finished generation yet (status %s); `star-pipeline status %s` shows its progress",
			id, d.Run.Status, id)
	}
	if err != nil {
		return front, err
	}
	front.ParetoSet = set
	for _, cand := range set.Members {
		front.Entries = append(front.Entries, paretoEntry{ID: cand.ID, Generation: cand.Generation, Index: cand.Index,
			Genome: cand.Genome, Hash: cand.GenomeHash, Operator: cand.Operator, Parents: nonNil(cand.Parents),
			Objectives: cand.Objectives, Metrics: cand.Metrics, Checkpoint: cand.Checkpoint})
	}
	return front, nil
}

// printParetoTable prints a Pareto set as a table (id, genome, each
// objective) and a line saying how much of the population it is.
func printParetoTable(w io.Writer, f paretoFront) error {
	t := newTable(w, append([]string{"ID", "GENOME"}, f.Objectives...)...)
	for _, e := range f.Entries {
		cells := []any{e.ID, e.Genome}
		for _, n := range f.Objectives {
			cells = append(cells, formatObjective(e.Objectives[n]))
		}
		t.row(cells...)
	}
	if err := t.flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d of %d in the population of generation %d are non-dominated; every objective is minimised (lower is better)\n",
		len(f.Entries), f.Population, f.Generation)
	return err
}

func paretoAction(c *cli.Context) error {
	id, err := oneArg(c, "RUN_ID", runHint)
	if err != nil {
		return err
	}
	db, err := openDB(c)
	if err != nil {
		return err
	}
	defer db.Close()
	front, err := paretoSet(c.Context, db, id)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, front)
	}
	return printParetoTable(c.App.Writer, front)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func lineageAction(c *cli.Context) error {
	id, err := oneArg(c, "CANDIDATE_ID", candidateHint)
	if err != nil {
		return err
	}
	db, err := openDB(c)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx := c.Context
	root, err := getCandidate(ctx, db, id)
	if err != nil {
		return err
	}
	var objs []string
	if r, err := db.GetRun(ctx, root.RunID); err == nil {
		objs = runview.ReportedObjectives(r, []storage.Candidate{root})
	}
	var tree *runview.LineageNode
	err = db.View(ctx, func(tx *storage.Tx) error {
		var err error
		tree, err = runview.Lineage(ctx, tx, root)
		return err
	})
	if err != nil {
		return err
	}
	w := c.App.Writer
	if c.Bool("json") {
		return writeJSON(w, tree)
	}
	return printLineage(w, tree, objs, "", "")
}

// printLineage prints n on one line after first, then its parents as
// branches, each line of them prefixed by rest.
func printLineage(w io.Writer, n *runview.LineageNode, objs []string, first, rest string) error {
	op := string(n.Operator)
	if op == "" {
		op = "-"
	}
	line := fmt.Sprintf("%s%s  %s  %s", first, n.ID, op, n.Genome)
	switch n.Status {
	case storage.CandEvaluated:
		line += "  " + objectivesText(objs, n.Objectives)
	case storage.CandFailed:
		line += "  failed"
		if n.Error != "" {
			line += ": " + strings.Join(strings.Fields(n.Error), " ")
		}
	default:
		line += "  " + string(n.Status)
	}
	if n.Steps > 0 {
		line += fmt.Sprintf("  (rung %d, %d steps)", n.Rung, n.Steps)
	}
	if n.Repeated {
		line += "  (ancestry shown above)"
	}
	if _, err := fmt.Fprintln(w, line); err != nil {
		return err
	}
	for i, p := range n.Parents {
		branch, next := "├── ", "│   "
		if i == len(n.Parents)-1 {
			branch, next = "└── ", "    "
		}
		if err := printLineage(w, p, objs, rest+branch, rest+next); err != nil {
			return err
		}
	}
	return nil
}
