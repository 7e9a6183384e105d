package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/star-pipeline/star-pipeline/arch"
	exportpkg "github.com/star-pipeline/star-pipeline/export"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/runview"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/study"
)

// pageNames are the templates in templates/, each with the layout.
var pageNames = []string{"runs", "run", "candidate", "classes", "error"}

func (s *Server) parseTemplates() error {
	funcs := template.FuncMap{
		"compact":    compact,
		"value":      formatValue,
		"time":       formatTime,
		"candidate":  candidatePath,
		"run":        runPath,
		"pct":        func(v float64) string { return fmt.Sprintf("%.0f%%", v*100) },
		"bytes":      formatBytes,
		"int":        func(v int64) string { return strconv.FormatInt(v, 10) },
		"add":        func(a, b float64) float64 { return a + b },
		"sub":        func(a, b float64) float64 { return a - b },
		"div2":       func(a float64) float64 { return a / 2 },
		"px":         func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
		"objectives": objectiveText,
	}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS,
			"templates/layout.html", "templates/charts.html", "templates/"+name+".html")
		if err != nil {
			return fmt.Errorf("parsing template %s: %w", name, err)
		}
		s.pages[name] = t
	}
	return nil
}

// page is what the layout renders around a page's body.
type page struct {
	Title        string
	Refresh      int // seconds; 0 for none
	Monitoring   string
	AllowActions bool
	Body         any
}

// render executes a page into a buffer first, so that a template error
// never sends half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, name string, p page) {
	p.Monitoring, p.AllowActions = s.opts.MonitoringPath, s.opts.AllowActions
	var buf bytes.Buffer
	if err := s.pages[name].Execute(&buf, p); err != nil {
		s.opts.Logger.Error("rendering page", "page", name, "path", r.URL.Path, "err", err)
		http.Error(w, "rendering the page failed; see the server log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = buf.WriteTo(w)
}

func (s *Server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := s.status(r, err)
	s.render(w, r, code, "error", page{Title: http.StatusText(code), Body: struct {
		Code    int
		Message string
	}{code, msg}})
}

// refresh returns the reload interval of a page about a run with status st.
func (s *Server) refresh(st storage.RunStatus) int {
	if st != storage.RunRunning || s.opts.Refresh < 0 {
		return 0
	}
	return max(1, int(s.opts.Refresh/time.Second))
}

// view runs fn on one read-only snapshot of the database.
func (s *Server) view(ctx context.Context, fn func(tx *storage.Tx) error) error {
	return s.db.View(ctx, fn)
}

// listRuns summarises every run, newest first.
func (s *Server) listRuns(ctx context.Context, statuses ...storage.RunStatus) ([]RunSummary, error) {
	out := []RunSummary{}
	err := s.view(ctx, func(tx *storage.Tx) error {
		runs, err := runview.LoadAll(ctx, tx, statuses...)
		if err != nil {
			return err
		}
		now := s.opts.Now()
		for _, d := range runs {
			out = append(out, summarise(d, now))
		}
		return nil
	})
	return out, err
}

func (s *Server) runsPage(w http.ResponseWriter, r *http.Request) {
	runs, err := s.listRuns(r.Context())
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	refresh := 0
	for _, run := range runs {
		refresh = max(refresh, s.refresh(run.Status))
	}
	s.render(w, r, http.StatusOK, "runs", page{Title: "Runs", Refresh: refresh, Body: runs})
}

// runView is the body of a run's page.
type runView struct {
	Summary    RunSummary
	Axes       []string
	X, Y       string
	Pareto     *chart
	FrontCount int
	HV         *chart
	Gens       []int
	Gen        int
	GenStatus  string
	Objectives []string
	Headers    []header
	Rows       []rowView
	Actions    []string // the actions this run's status allows
	Config     string
	Final      *finalView // nil without a final stage
	Rungs      string     // a multi-fidelity run's proxy check between rungs, "" otherwise
}

type header struct {
	Name   string
	Href   string
	Active bool
	Desc   bool
}

type rowView struct {
	ID        string
	Href      string
	Genome    string
	Operator  string
	Status    string
	Error     string
	Values    []string
	Selected  bool
	Front     bool
	Parents   []string
	Inherited bool // selected from an earlier generation
}

// runParams are the query parameters of a run's page.
type runParams struct {
	x, y, sort string
	desc       bool
	gen        int
}

func (p runParams) query(x, y, sort string, desc bool, gen int) string {
	q := url.Values{}
	q.Set("x", x)
	q.Set("y", y)
	q.Set("gen", strconv.Itoa(gen))
	if sort != "" {
		q.Set("sort", sort)
		if desc {
			q.Set("order", "desc")
		}
	}
	return "?" + q.Encode()
}

func (s *Server) runPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var v runView
	err := s.view(r.Context(), func(tx *storage.Tx) error {
		d, err := runview.Load(r.Context(), tx, id)
		if err != nil {
			return notFoundRun(err, id)
		}
		if v, err = s.buildRunView(r.Context(), tx, d, r.URL.Query()); err != nil {
			return err
		}
		if v.Final, err = loadFinal(r.Context(), tx, d); err != nil {
			return err
		}
		rungs, err := rungCorrelations(r.Context(), tx, d.Run)
		if err == nil && len(rungs) > 0 {
			v.Rungs = study.RungText(rungs, *d.Config.Fidelity.MinCorrelation)
		}
		return err
	})
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "run", page{Title: "Run " + id, Refresh: s.refresh(v.Summary.Status), Body: v})
}

// notFoundRun turns storage.ErrNotFound into a 404 that names the run.
func notFoundRun(err error, id string) error {
	if errors.Is(err, storage.ErrNotFound) {
		return notFound("no run %q; the runs page lists them", id)
	}
	return err
}

func (s *Server) buildRunView(ctx context.Context, src runview.Source, d runData, q url.Values) (runView, error) {
	v := runView{Summary: summarise(d, s.opts.Now()), Axes: runview.Axes(d.Run), Objectives: d.Objectives,
		Gens: runview.GenerationIndices(d), Actions: allowedActions(d.Run)}
	sortKeys := append([]string{"id", "operator", "status"}, d.Objectives...)
	p, err := parseRunParams(q, d.Run, v.Axes, sortKeys, v.Gens)
	if err != nil {
		return v, err
	}
	v.X, v.Y, v.Gen = p.x, p.y, p.gen
	if y, err := d.Config.YAML(); err == nil && d.Run.Config != "" {
		v.Config = string(y)
	} else {
		v.Config = d.Run.Config
	}
	pd, err := runview.Pareto(ctx, src, d.Run.ID, p.x, p.y)
	if err != nil {
		return v, err
	}
	v.Pareto = paretoChart(pd)
	v.FrontCount = len(pd.Front())
	hv, err := runview.Hypervolume(ctx, src, d.Run.ID)
	if err != nil {
		return v, err
	}
	v.HV = hypervolumeChart(hv)
	v.GenStatus, v.Rows = populationRows(d, p)
	v.Headers = sortHeaders(sortKeys, p)
	return v, nil
}

// parseRunParams reads the run page's query: the chart's axes, the
// table's sort key and order, and the generation shown (the last by
// default).
func parseRunParams(q url.Values, r storage.Run, axes, sortKeys []string, gens []int) (runParams, error) {
	var p runParams
	var err error
	p.x, p.y = runview.DefaultAxes(r)
	if p.x, err = choice(q, "x", p.x, axes); err != nil {
		return p, err
	}
	if p.y, err = choice(q, "y", p.y, axes); err != nil {
		return p, err
	}
	if p.sort, err = choice(q, "sort", "", append(slices.Clone(sortKeys), "")); err != nil {
		return p, err
	}
	order, err := choice(q, "order", "asc", []string{"asc", "desc"})
	if err != nil {
		return p, err
	}
	p.desc = order == "desc"
	p.gen = -1
	if len(gens) > 0 {
		p.gen = gens[len(gens)-1]
	}
	p.gen, err = generationParam(q, p.gen, gens)
	return p, err
}

// populationRows is the run page's table: the generation's new candidates
// and what its selection kept from earlier generations, sorted as asked,
// with the generation's status.
func populationRows(d runData, p runParams) (string, []rowView) {
	m := runview.Members(d, p.gen)
	front := map[string]bool{}
	for _, c := range runview.Front(m.Candidates, d.Objectives) {
		front[c.ID] = true
	}
	sortCandidates(m.Candidates, p.sort, p.desc)
	var rows []rowView
	for _, c := range m.Candidates {
		row := rowView{ID: c.ID, Href: candidatePath(c.ID), Genome: c.Genome, Operator: string(c.Operator),
			Status: string(c.Status), Error: c.Error, Selected: m.Selected[c.ID], Front: front[c.ID],
			Parents: c.Parents, Inherited: c.Generation != p.gen}
		for _, o := range d.Objectives {
			if val, ok := c.Objectives[o]; ok {
				row.Values = append(row.Values, formatValue(val))
			} else {
				row.Values = append(row.Values, "")
			}
		}
		rows = append(rows, row)
	}
	status := "no candidates yet"
	if m.Status != "" {
		status = string(m.Status)
	}
	return status, rows
}

// sortHeaders are the table's column headers, each a link that sorts by
// it (the active one reversing its order).
func sortHeaders(sortKeys []string, p runParams) []header {
	var out []header
	for _, key := range sortKeys {
		h := header{Name: key, Active: key == p.sort || (key == "id" && p.sort == "")}
		desc := false
		if h.Active {
			h.Desc = p.desc
			desc = !p.desc
		}
		h.Href = p.query(p.x, p.y, key, desc, p.gen) + "#population"
		out = append(out, h)
	}
	return out
}

// choice returns query parameter name, def when absent, or a 400 error when
// it is not one of allowed.
func choice(q url.Values, name, def string, allowed []string) (string, error) {
	if !q.Has(name) {
		return def, nil
	}
	v := q.Get(name)
	if !slices.Contains(allowed, v) {
		var shown []string
		for _, a := range allowed {
			if a != "" {
				shown = append(shown, a)
			}
		}
		return "", badRequest("bad %s %q: want one of %s", name, v, strings.Join(shown, ", "))
	}
	return v, nil
}

// generationParam returns the gen query parameter, def when absent, or a
// 400 error when it is not one of gens.
func generationParam(q url.Values, def int, gens []int) (int, error) {
	if !q.Has("gen") {
		return def, nil
	}
	g, err := strconv.Atoi(q.Get("gen"))
	if err != nil || !slices.Contains(gens, g) {
		if len(gens) == 0 {
			return 0, badRequest("bad gen %q: the run has no generations yet", q.Get("gen"))
		}
		return 0, badRequest("bad gen %q: want a generation from %d to %d", q.Get("gen"), gens[0], gens[len(gens)-1])
	}
	return g, nil
}

// candidateView is the body of a candidate's page.
type candidateView struct {
	C          storage.Candidate
	Run        RunSummary
	Objectives []namedValue
	Strip      *strip
	GenomeErr  string
	Slots      []slotRow
	Costs      *arch.CostReport
	CostErr    string
	Dims       arch.Config
	Metrics    string
	Loss       *chart
	Parents    []lineageLink
	Children   []lineageLink
	Export     string
	API        string
}

type slotRow struct {
	Index      int
	Name       string
	Family     string
	Colour     string
	Genes      string
	FeatOwner  int
	BSource    int
	CSource    int
	Params     int64
	CacheBytes int64
	HasCost    bool
}

type lineageLink struct {
	ID       string
	Href     string
	Operator string
	Genome   string
	Status   string
}

// candidateData is a candidate with its run, parents and children.
type candidateData struct {
	c        storage.Candidate
	run      runData
	parents  []storage.Candidate
	children []storage.Candidate
}

func (s *Server) loadCandidate(ctx context.Context, id string) (candidateData, error) {
	var cd candidateData
	err := s.view(ctx, func(tx *storage.Tx) error {
		c, err := tx.GetCandidate(ctx, id)
		if errors.Is(err, storage.ErrNotFound) {
			return notFound("no candidate %q; candidate ids look like RUN_ID/g001/c0002", id)
		}
		if err != nil {
			return err
		}
		d, err := runview.Load(ctx, tx, c.RunID)
		if err != nil {
			return err
		}
		cd = candidateData{c: c, run: d}
		byID := map[string]storage.Candidate{}
		for _, o := range d.Candidates {
			byID[o.ID] = o
			if slices.Contains(o.Parents, c.ID) {
				cd.children = append(cd.children, o)
			}
		}
		for _, pid := range c.Parents {
			p, ok := byID[pid]
			if !ok { // a parent in another run
				if p, err = tx.GetCandidate(ctx, pid); err != nil {
					p = storage.Candidate{ID: pid}
				}
			}
			cd.parents = append(cd.parents, p)
		}
		return nil
	})
	return cd, err
}

func (s *Server) candidatePage(w http.ResponseWriter, r *http.Request) {
	cd, err := s.loadCandidate(r.Context(), r.PathValue("id"))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	c := cd.c
	v := candidateView{C: c, Run: summarise(cd.run, s.opts.Now()), Export: "/api" + candidatePath(c.ID) + "/export",
		API: "/api" + candidatePath(c.ID), Dims: cd.run.Config.Search.Dims.WithDefaults()}
	for _, o := range cd.run.Objectives {
		if val, ok := c.Objectives[o]; ok {
			v.Objectives = append(v.Objectives, namedValue{o, val})
		}
	}
	for _, k := range sortedKeys(c.Objectives) {
		if !slices.Contains(cd.run.Objectives, k) {
			v.Objectives = append(v.Objectives, namedValue{k, c.Objectives[k]})
		}
	}
	if ex, err := exportpkg.Build(c, cd.run.Run, cd.run.Config); err != nil {
		v.GenomeErr = err.Error()
	} else {
		g := genome.Genome(ex.Slots)
		v.Strip = backboneStrip(g)
		v.Costs = ex.Costs
		if ex.CostErr != nil {
			v.CostErr = ex.CostErr.Error()
		}
		wiring := g.Wiring()
		for i, sl := range g {
			ci := classOf(sl.Class)
			row := slotRow{Index: i, Name: ci.Name, Family: ci.Family, Colour: classColour(sl.Class), Genes: slotText(sl),
				FeatOwner: i, BSource: i, CSource: i}
			if i < len(wiring) {
				row.FeatOwner, row.BSource, row.CSource = wiring[i].FeatOwner, wiring[i].BSource, wiring[i].CSource
			}
			if v.Costs != nil && i < len(v.Costs.PerSlot) {
				row.Params, row.CacheBytes, row.HasCost = v.Costs.PerSlot[i].Params, v.Costs.PerSlot[i].CacheBytes, true
			}
			v.Slots = append(v.Slots, row)
		}
	}
	if len(c.Metrics) > 0 {
		var buf bytes.Buffer
		if json.Indent(&buf, c.Metrics, "", "  ") == nil {
			v.Metrics = buf.String()
		} else {
			v.Metrics = string(c.Metrics)
		}
		if l := losses(c.Metrics); l != nil {
			v.Loss = lossChart(l)
		}
	}
	for _, p := range cd.parents {
		v.Parents = append(v.Parents, link(p))
	}
	for _, ch := range cd.children {
		v.Children = append(v.Children, link(ch))
	}
	s.render(w, r, http.StatusOK, "candidate", page{Title: "Candidate " + c.ID, Refresh: s.refresh(cd.run.Run.Status),
		Body: v})
}

func link(c storage.Candidate) lineageLink {
	return lineageLink{ID: c.ID, Href: candidatePath(c.ID), Operator: string(c.Operator), Genome: c.Genome,
		Status: string(c.Status)}
}

func sortedKeys(m map[string]float64) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// classesView is the body of a run's classes page.
type classesView struct {
	Summary RunSummary
	Gens    []int
	Gen     int
	Chart   *classBars
	Current runview.GenerationClasses
	Columns []int
	Table   []classRow
}

type classRow struct {
	Name   string
	Family string
	Colour string
	Cells  []classCell
}

type classCell struct {
	Population, Front string
	Over              bool // the class is more common on the front than in the population
}

func (s *Server) classesPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var v classesView
	err := s.view(r.Context(), func(tx *storage.Tx) error {
		d, err := runview.Load(r.Context(), tx, id)
		if err != nil {
			return notFoundRun(err, id)
		}
		cd, err := runview.Classes(r.Context(), tx, id)
		if err != nil {
			return err
		}
		v = classesView{Summary: summarise(d, s.opts.Now())}
		for _, g := range cd.Generations {
			v.Gens = append(v.Gens, g.Generation)
		}
		def := -1
		if len(v.Gens) > 0 {
			def = v.Gens[len(v.Gens)-1]
		}
		if v.Gen, err = generationParam(r.URL.Query(), def, v.Gens); err != nil {
			return err
		}
		for _, g := range cd.Generations {
			if g.Generation == v.Gen {
				v.Current = g
				v.Chart = classChart(cd, g)
			}
			v.Columns = append(v.Columns, g.Generation)
		}
		for _, c := range cd.Classes {
			row := classRow{Name: c.Name, Family: c.Family, Colour: classColour(c.ID)}
			for _, g := range cd.Generations {
				ps, fs := g.PopulationShare(c.ID), g.FrontShare(c.ID)
				row.Cells = append(row.Cells, classCell{Population: fmt.Sprintf("%.0f%%", ps*100),
					Front: fmt.Sprintf("%.0f%%", fs*100), Over: fs > ps})
			}
			v.Table = append(v.Table, row)
		}
		return nil
	})
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "classes", page{Title: "Classes of " + id, Refresh: s.refresh(v.Summary.Status),
		Body: v})
}

// formatValue prints an objective value: integers in full, the rest with 5
// significant digits.
func formatValue(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', 5, 64)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// formatBytes prints a byte count with a binary unit.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// objectiveText prints "name=value ..." for a run summary's best values.
func objectiveText(s RunSummary) string {
	var parts []string
	for _, nv := range s.BestList() {
		parts = append(parts, nv.Name+"="+formatValue(nv.Value))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}
