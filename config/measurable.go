package config

import (
	"fmt"
	"strings"
)

// StaticObjectives are the objectives measured from a genome and the run's
// dims alone, without training: all that a static evaluator (the
// pipeline's --static-eval benchmark mode) can score.
var StaticObjectives = []string{Params, CacheBytes}

// CheckMeasurable reports every objective of c that is not in measurable,
// as Errors naming objectives[i], or nil. by names the evaluator in the
// messages ("--static-eval"). Commands call it before they store a run
// whose evaluator cannot measure all of its objectives: every candidate
// would fail.
func (c Config) CheckMeasurable(measurable []string, by string) error {
	var errs Errors
	for i, o := range c.Objectives {
		if !oneOf(o, measurable) {
			errs = append(errs, &FieldError{Path: fmt.Sprintf("objectives[%d]", i),
				Msg: fmt.Sprintf("%s measures only %s, not %s; drop it from objectives or run without %s",
					by, strings.Join(measurable, ", "), o, by)})
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}
