package genome

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Gene names one of the five genes of a slot, in genome order.
type Gene int

// The genes of a slot. NoGene marks an error about a whole slot.
const (
	NoGene Gene = iota - 1
	GeneClass
	GeneFeatGroup
	GeneFeatStrategy
	GeneShareGroup
	GeneShareStrategy
)

var geneNames = [...]string{"class", "feat_group", "feat_strategy", "share_group", "share_strategy"}

func (g Gene) String() string {
	if g < GeneClass || int(g) >= len(geneNames) {
		return "none"
	}
	return geneNames[g]
}

// GeneError reports a wrong slot or gene of a genome: a parse error, a gene
// out of its range, or sharing that the genome's classes do not allow.
type GeneError struct {
	Slot   int    // 0-based slot index; Error prints it 1-based ("slot 1" is the first)
	Gene   Gene   // the wrong gene, or NoGene when the whole slot is wrong
	Reason string // what is wrong and, where possible, what to do
}

func (e *GeneError) Error() string {
	if e.Gene == NoGene {
		return fmt.Sprintf("slot %d: %s", e.Slot+1, e.Reason)
	}
	return fmt.Sprintf("slot %d gene %s: %s", e.Slot+1, e.Gene, e.Reason)
}

func geneErr(slot int, gene Gene, format string, args ...any) *GeneError {
	return &GeneError{Slot: slot, Gene: gene, Reason: fmt.Sprintf(format, args...)}
}

// maxGeneValue bounds the integers the parser accepts, so that no gene can
// overflow later arithmetic. Validate checks the real ranges.
const maxGeneValue = 999999

// Parse reads a genome in text form: one block per slot, blocks joined by
// '-'. A block is either 5 digits ("11111") or 5 dot-separated non-negative
// integers ("10.1.1.1.1"); the genes are class, feat_group, feat_strategy,
// share_group, share_strategy. Whitespace around the text and around each
// block is ignored. Parse checks syntax and the slot count (at most
// MaxDepth) only; Validate checks the values.
func Parse(s string) (Genome, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty genome: want one 5-gene block per slot, e.g. 11111-91111")
	}
	if n := strings.Count(s, "-") + 1; n > MaxDepth {
		return nil, fmt.Errorf("genome has %d slots, more than the limit of %d (genome.MaxDepth)", n, MaxDepth)
	}
	blocks := strings.Split(s, "-")
	g := make(Genome, len(blocks))
	for i, b := range blocks {
		slot, err := parseBlock(i, strings.TrimSpace(b))
		if err != nil {
			return nil, err
		}
		g[i] = slot
	}
	return g, nil
}

// MustParse is Parse for genome text known to be well formed; it panics on
// an error. Use it for constants and tests.
func MustParse(s string) Genome {
	g, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return g
}

func parseBlock(slot int, b string) (Slot, error) {
	if b == "" {
		return Slot{}, geneErr(slot, NoGene, "empty block (two '-' in a row, or a '-' at an end)")
	}
	var genes [5]int
	if strings.Contains(b, ".") {
		parts := strings.Split(b, ".")
		for i, p := range parts {
			if i >= len(genes) {
				return Slot{}, geneErr(slot, NoGene, "block %q has %d genes, want 5 "+
					"(class.feat_group.feat_strategy.share_group.share_strategy)", b, len(parts))
			}
			v, ok := parseNumber(p)
			if !ok {
				return Slot{}, geneErr(slot, Gene(i), "%q is not an integer in 0..%d", p, maxGeneValue)
			}
			genes[i] = v
		}
		if len(parts) < len(genes) {
			return Slot{}, geneErr(slot, Gene(len(parts)), "missing: block %q has %d genes, want 5 "+
				"(class.feat_group.feat_strategy.share_group.share_strategy)", b, len(parts))
		}
		return SlotFromGenes(genes), nil
	}
	n := 0
	for _, r := range b {
		if r < '0' || r > '9' {
			if n < len(genes) {
				return Slot{}, geneErr(slot, Gene(n), "%q is not a digit", r)
			}
			return Slot{}, geneErr(slot, NoGene, "block %q has a %q after its 5 genes", b, r)
		}
		if n < len(genes) {
			genes[n] = int(r - '0')
		}
		n++
	}
	if n < len(genes) {
		return Slot{}, geneErr(slot, Gene(n), "missing: block %q has %d digits, want 5", b, n)
	}
	if n > len(genes) {
		return Slot{}, geneErr(slot, NoGene, "block %q has %d digits, want 5 "+
			"(write 5 dot-separated integers when a gene exceeds 9)", b, n)
	}
	return SlotFromGenes(genes), nil
}

func parseNumber(s string) (int, bool) {
	if s == "" || len(s) > 12 {
		return 0, false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, v <= maxGeneValue
}

// Format writes g in text form: one block per slot joined by '-', 5 digits
// when every gene of the block is in 0..9, otherwise 5 dot-separated
// integers. Parse(Format(g)) == g for every genome with non-negative genes.
func Format(g Genome) string {
	var sb strings.Builder
	for i, s := range g {
		if i > 0 {
			sb.WriteByte('-')
		}
		genes := s.Genes()
		digits := true
		for _, v := range genes {
			if v < 0 || v > 9 {
				digits = false
			}
		}
		for j, v := range genes {
			if j > 0 && !digits {
				sb.WriteByte('.')
			}
			sb.WriteString(strconv.Itoa(v))
		}
	}
	return sb.String()
}

// String returns Format(g).
func (g Genome) String() string { return Format(g) }

// MarshalText returns Format(g).
func (g Genome) MarshalText() ([]byte, error) { return []byte(Format(g)), nil }

// UnmarshalText parses text form into g.
func (g *Genome) UnmarshalText(text []byte) error {
	v, err := Parse(string(text))
	if err != nil {
		return err
	}
	*g = v
	return nil
}

// MarshalJSON writes the canonical JSON form of a genome: its text form as a
// JSON string ("11111-92121"); an empty genome is null.
func (g Genome) MarshalJSON() ([]byte, error) {
	if len(g) == 0 {
		return []byte("null"), nil
	}
	return json.Marshal(Format(g))
}

// UnmarshalJSON reads a genome from a JSON string in text form, or from an
// object {"slots":[{"class":1,"feat_group":1,"feat_strategy":1,
// "share_group":1,"share_strategy":1},...]}. null leaves g unchanged.
func (g *Genome) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case bytes.Equal(data, []byte("null")):
		return nil
	case len(data) > 0 && data[0] == '"':
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return fmt.Errorf("decoding genome text: %w", err)
		}
		return g.UnmarshalText([]byte(s))
	case len(data) > 0 && data[0] == '{':
		var obj struct {
			Slots []Slot `json:"slots"`
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&obj); err != nil {
			return fmt.Errorf("decoding genome object: %w", err)
		}
		if len(obj.Slots) == 0 {
			return errors.New(`decoding genome object: "slots" is missing or empty`)
		}
		if len(obj.Slots) > MaxDepth {
			return fmt.Errorf("decoding genome object: %d slots, more than the limit of %d (genome.MaxDepth)", len(obj.Slots), MaxDepth)
		}
		*g = obj.Slots
		return nil
	}
	return errors.New(`decoding genome: want a string such as "11111-91111" or an object {"slots":[...]}`)
}
