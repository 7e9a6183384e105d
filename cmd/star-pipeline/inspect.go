package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/evolve"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/tasks"
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
func runConfig(r storage.Run) (config.Config, error) {
	cfg, err := config.Parse([]byte(r.Config))
	if err != nil {
		return cfg, fmt.Errorf("parsing the config of run %s: %w", r.ID, err)
	}
	return cfg, nil
}

// runObjectives returns a run's objective names in config order or, when
// its config does not parse, the names its candidates report, sorted.
func runObjectives(r storage.Run, cands []storage.Candidate) []string {
	if cfg, err := runConfig(r); err == nil {
		return cfg.Objectives
	}
	seen := map[string]bool{}
	var names []string
	for _, c := range cands {
		for k := range c.Objectives {
			if !seen[k] {
				seen[k] = true
				names = append(names, k)
			}
		}
	}
	sort.Strings(names)
	return names
}

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

// runSummary is one run as runs and status print it.
type runSummary struct {
	ID                string             `json:"id"`
	Status            storage.RunStatus  `json:"status"`
	Algorithm         string             `json:"algorithm"`
	Seed              uint64             `json:"seed"`
	Population        int                `json:"population"`
	Generations       int                `json:"generations"`
	CurrentGeneration int                `json:"current_generation"`
	Objectives        []string           `json:"objectives"`
	Best              map[string]float64 `json:"best"` // min per objective over evaluated candidates
	Candidates        int                `json:"candidates"`
	Evaluated         int                `json:"evaluated"`
	Created           time.Time          `json:"created"`
	Updated           time.Time          `json:"updated"`
	Finished          *time.Time         `json:"finished,omitempty"`
	ElapsedSeconds    float64            `json:"elapsed_seconds"`
	ConfigHash        string             `json:"config_hash"`
	Error             string             `json:"error,omitempty"`
}

func summariseRun(r storage.Run, cands []storage.Candidate, now time.Time) runSummary {
	s := runSummary{ID: r.ID, Status: r.Status, Algorithm: r.Algorithm, Seed: r.Seed, Population: r.Population,
		Generations: r.Generations, CurrentGeneration: r.CurrentGeneration, Objectives: runObjectives(r, cands),
		Best: map[string]float64{}, Candidates: len(cands), Created: r.Created, Updated: r.Updated,
		ConfigHash: r.ConfigHash, Error: r.Error}
	for _, c := range cands {
		if c.Status != storage.CandEvaluated {
			continue
		}
		s.Evaluated++
		for _, n := range s.Objectives {
			if v, ok := c.Objectives[n]; ok {
				if best, seen := s.Best[n]; !seen || v < best {
					s.Best[n] = v
				}
			}
		}
	}
	end := now
	switch {
	case !r.Finished.IsZero():
		f := r.Finished
		s.Finished, end = &f, f
	case r.Status.Terminal() || r.Status == storage.RunPaused:
		end = r.Updated
	}
	s.ElapsedSeconds = end.Sub(r.Created).Seconds()
	return s
}

func (s runSummary) elapsed() string {
	return formatDuration(time.Duration(s.ElapsedSeconds * float64(time.Second)))
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
	ctx := c.Context
	runs, err := db.ListRuns(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	out := make([]runSummary, 0, len(runs))
	for i := len(runs) - 1; i >= 0; i-- { // newest first
		cands, err := db.ListCandidates(ctx, runs[i].ID, -1)
		if err != nil {
			return err
		}
		out = append(out, summariseRun(runs[i], cands, now))
	}
	w := c.App.Writer
	if c.Bool("json") {
		return writeJSON(w, out)
	}
	if len(out) == 0 {
		_, err := fmt.Fprintf(w, "no runs in %s; start one with `star-pipeline submit`\n", db.Path())
		return err
	}
	t := newTable(w, "ID", "STATUS", "ALGORITHM", "GENERATION", "POPULATION", "BEST", "CREATED", "ELAPSED")
	for _, s := range out {
		t.row(s.ID, s.Status, s.Algorithm, fmt.Sprintf("%d/%d", s.CurrentGeneration, s.Generations), s.Population,
			objectivesText(s.Objectives, s.Best), formatTime(s.Created), s.elapsed())
	}
	return t.flush()
}

// generationSummary is one generation as status prints it.
type generationSummary struct {
	Index       int                      `json:"index"`
	Status      storage.GenerationStatus `json:"status"`
	Candidates  int                      `json:"candidates"`
	Evaluated   int                      `json:"evaluated"`
	Failed      int                      `json:"failed"`
	Unfinished  int                      `json:"unfinished"` // pending or training
	Hypervolume *float64                 `json:"hypervolume"`
	Survivors   int                      `json:"survivors"`
	Started     *time.Time               `json:"started,omitempty"`
	Finished    *time.Time               `json:"finished,omitempty"`
}

type eventJSON struct {
	ID      int64           `json:"id"`
	Time    time.Time       `json:"time"`
	Kind    string          `json:"kind"`
	Message json.RawMessage `json:"message"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// trainingJSON is a candidate a worker is training or evaluating.
type trainingJSON struct {
	ID      string    `json:"id"`
	Genome  string    `json:"genome"`
	Worker  string    `json:"worker"`
	Started time.Time `json:"started"`
}

// trainingNow lists the candidates of run id whose training a worker has
// started and not ended (their train node is running), in candidate
// order.
func trainingNow(ctx context.Context, db *storage.DB, id string, cands []storage.Candidate) ([]trainingJSON, error) {
	nodes, err := db.ListTaskStates(ctx, id, storage.TaskRunning)
	if err != nil {
		return nil, err
	}
	running := map[string]bool{}
	for _, ts := range nodes {
		if ts.Stage == string(tasks.StageTrain) {
			running[storage.CandidateID(id, ts.Generation, ts.Index)] = true
		}
	}
	out := []trainingJSON{}
	for _, c := range cands {
		if running[c.ID] {
			out = append(out, trainingJSON{ID: c.ID, Genome: c.Genome, Worker: c.Worker, Started: c.Started})
		}
	}
	return out, nil
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
	r, err := getRun(ctx, db, id)
	if err != nil {
		return err
	}
	cands, err := db.ListCandidates(ctx, id, -1)
	if err != nil {
		return err
	}
	gens, err := db.ListGenerations(ctx, id)
	if err != nil {
		return err
	}
	var events []storage.Event
	if nEvents > 0 {
		if events, err = db.ListEvents(ctx, id, 0, 0); err != nil {
			return err
		}
		if len(events) > nEvents {
			events = events[len(events)-nEvents:]
		}
	}

	sum := summariseRun(r, cands, time.Now())
	counts := map[storage.CandidateStatus]int{storage.CandPending: 0, storage.CandTraining: 0,
		storage.CandEvaluated: 0, storage.CandFailed: 0}
	perGen := map[int]*generationSummary{}
	gsums := make([]generationSummary, len(gens))
	for i, g := range gens {
		gsums[i] = generationSummary{Index: g.Index, Status: g.Status, Hypervolume: g.Hypervolume,
			Survivors: len(g.Population), Started: timePtr(g.Started), Finished: timePtr(g.Finished)}
		perGen[g.Index] = &gsums[i]
	}
	training, err := trainingNow(ctx, db, id, cands)
	if err != nil {
		return err
	}
	for _, cand := range cands {
		counts[cand.Status]++
		g := perGen[cand.Generation]
		if g == nil {
			continue
		}
		g.Candidates++
		switch cand.Status {
		case storage.CandEvaluated:
			g.Evaluated++
		case storage.CandFailed:
			g.Failed++
		default:
			g.Unfinished++
		}
	}
	evs := make([]eventJSON, len(events))
	for i, e := range events {
		evs[i] = eventJSON{ID: e.ID, Time: e.Time, Kind: e.Kind, Message: e.Message}
	}

	w := c.App.Writer
	if c.Bool("json") {
		return writeJSON(w, struct {
			Run         runSummary                      `json:"run"`
			Generations []generationSummary             `json:"generations"`
			Candidates  map[storage.CandidateStatus]int `json:"candidates"`
			Training    []trainingJSON                  `json:"training"`
			Events      []eventJSON                     `json:"events"`
		}{sum, gsums, counts, training, evs})
	}

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
	t.row("elapsed", sum.elapsed())
	t.row("config hash", sum.ConfigHash)
	if sum.Error != "" {
		t.row("error", sum.Error)
	}
	if err := t.flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	if len(gsums) == 0 {
		fmt.Fprintln(w, "no generation started yet")
	} else {
		t = newTable(w, "GEN", "STATUS", "CANDIDATES", "EVALUATED", "FAILED", "UNFINISHED", "HYPERVOLUME", "SURVIVORS", "DURATION")
		for _, g := range gsums {
			hv := "-"
			if g.Hypervolume != nil {
				hv = strconv.FormatFloat(*g.Hypervolume, 'g', 6, 64)
			}
			dur := "-"
			if g.Started != nil && g.Finished != nil {
				dur = formatDuration(g.Finished.Sub(*g.Started))
			}
			t.row(g.Index, g.Status, g.Candidates, g.Evaluated, g.Failed, g.Unfinished, hv, g.Survivors, dur)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}

	fmt.Fprintf(w, "\ncandidates: %d evaluated, %d failed, %d in training or evaluation, %d pending\n",
		counts[storage.CandEvaluated], counts[storage.CandFailed], counts[storage.CandTraining], counts[storage.CandPending])
	const maxTraining = 10
	for i, tr := range training {
		if i == maxTraining {
			fmt.Fprintf(w, "training now: %d more (--json lists them all)\n", len(training)-maxTraining)
			break
		}
		fmt.Fprintf(w, "training now: %s on %s since %s\n", tr.ID, orDash(tr.Worker), formatTime(tr.Started))
	}

	if nEvents == 0 {
		return nil
	}
	fmt.Fprintln(w)
	if len(evs) == 0 {
		_, err := fmt.Fprintln(w, "no events")
		return err
	}
	fmt.Fprintf(w, "last %d events:\n", len(evs))
	t = newTable(w, "TIME", "KIND", "MESSAGE")
	for _, e := range evs {
		t.row(formatTime(e.Time), e.Kind, eventText(e.Message))
	}
	return t.flush()
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
	RunID      string
	Generation int      // index of the last finished generation
	Objectives []string // the run's objectives, config order
	Population int      // candidates in that generation's population
	Entries    []paretoEntry
}

func (f paretoFront) MarshalJSON() ([]byte, error) { return json.Marshal(f.Entries) }

// paretoSet returns the population of the last finished generation of run
// id filtered to its non-dominated members (failed ones excluded), in
// population order.
func paretoSet(ctx context.Context, db *storage.DB, id string) (paretoFront, error) {
	front := paretoFront{RunID: id, Entries: []paretoEntry{}}
	r, err := getRun(ctx, db, id)
	if err != nil {
		return front, err
	}
	cfg, err := runConfig(r)
	if err != nil {
		return front, err
	}
	front.Objectives = cfg.Objectives
	gens, err := db.ListGenerations(ctx, id)
	if err != nil {
		return front, err
	}
	var last *storage.Generation
	for i := len(gens) - 1; i >= 0; i-- {
		if gens[i].Status == storage.GenDone {
			last = &gens[i]
			break
		}
	}
	if last == nil {
		return front, fmt.Errorf("run %s has no finished generation yet (status %s); `star-pipeline status %s` shows its progress",
			id, r.Status, id)
	}
	front.Generation = last.Index
	objs := cfg.Objectives
	pop := make([]evolve.Individual[storage.Candidate], 0, len(last.Population))
	seen := map[string]bool{}
	for _, cid := range last.Population {
		if seen[cid] {
			continue
		}
		seen[cid] = true
		cand, err := db.GetCandidate(ctx, cid)
		if err != nil {
			return front, fmt.Errorf("reading candidate %s of generation %d's population: %w", cid, last.Index, err)
		}
		ind := evolve.Individual[storage.Candidate]{X: cand, Failed: cand.Status != storage.CandEvaluated}
		if !ind.Failed {
			ind.F = make([]float64, len(objs))
			for i, n := range objs {
				v, ok := cand.Objectives[n]
				if !ok {
					ind.Failed, ind.F = true, nil
					break
				}
				ind.F[i] = v
			}
		}
		pop = append(pop, ind)
	}
	front.Population = len(pop)
	for _, ind := range evolve.ParetoSet(pop) {
		cand := ind.X
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

// lineageNode is one candidate of an ancestry tree. A candidate reached a
// second time (two parents sharing an ancestor) is marked Repeated and its
// parents are not listed again.
type lineageNode struct {
	ID         string                  `json:"id"`
	Generation int                     `json:"generation"`
	Operator   storage.Operator        `json:"operator"`
	Genome     string                  `json:"genome"`
	Status     storage.CandidateStatus `json:"status"`
	Objectives map[string]float64      `json:"objectives,omitempty"`
	Error      string                  `json:"error,omitempty"`
	Repeated   bool                    `json:"repeated,omitempty"`
	Parents    []*lineageNode          `json:"parents,omitempty"`
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
		objs = runObjectives(r, []storage.Candidate{root})
	}
	var tree *lineageNode
	err = db.View(ctx, func(tx *storage.Tx) error {
		var err error
		tree, err = buildLineage(ctx, tx, root, map[string]bool{})
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

// buildLineage returns the ancestry tree of cand, expanding each candidate
// once (shown records those expanded).
func buildLineage(ctx context.Context, tx *storage.Tx, cand storage.Candidate, shown map[string]bool) (*lineageNode, error) {
	n := &lineageNode{ID: cand.ID, Generation: cand.Generation, Operator: cand.Operator, Genome: cand.Genome,
		Status: cand.Status, Objectives: cand.Objectives, Error: cand.Error}
	if shown[cand.ID] {
		n.Repeated = len(cand.Parents) > 0
		return n, nil
	}
	shown[cand.ID] = true
	for _, pid := range cand.Parents {
		p, err := tx.GetCandidate(ctx, pid)
		if err != nil {
			return nil, fmt.Errorf("reading parent %s of %s: %w", pid, cand.ID, err)
		}
		pn, err := buildLineage(ctx, tx, p, shown)
		if err != nil {
			return nil, err
		}
		n.Parents = append(n.Parents, pn)
	}
	return n, nil
}

// printLineage prints n on one line after first, then its parents as
// branches, each line of them prefixed by rest.
func printLineage(w io.Writer, n *lineageNode, objs []string, first, rest string) error {
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
