package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/urfave/cli/v2"
)

// Exit codes shared by every subcommand.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// commands holds every subcommand; each file registers its own in init.
var commands []*cli.Command

func register(c *cli.Command) {
	setUsageErrors(c)
	commands = append(commands, c)
}

// setUsageErrors makes flag errors of c and its subcommands exit with 2.
func setUsageErrors(c *cli.Command) {
	if c.OnUsageError == nil {
		c.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return usageError{err} }
	}
	for _, sub := range c.Subcommands {
		setUsageErrors(sub)
	}
}

// benchCommands holds the subcommands of "bench"; each file registers its own.
var benchCommands []*cli.Command

func registerBench(c *cli.Command) {
	setUsageErrors(c)
	benchCommands = append(benchCommands, c)
}

func benchCommand() *cli.Command {
	subs := append([]*cli.Command(nil), benchCommands...)
	sort.Slice(subs, func(i, j int) bool { return subs[i].Name < subs[j].Name })
	return &cli.Command{
		Name:        "bench",
		Usage:       "benchmarks that print figures",
		Subcommands: subs,
	}
}

// usageError marks bad usage or bad input: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// badInput wraps err (or formats a message) as a usage error.
func badInput(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

func newApp(stdout, stderr io.Writer) *cli.App {
	cmds := append([]*cli.Command(nil), commands...)
	if len(benchCommands) > 0 {
		cmds = append(cmds, benchCommand())
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name < cmds[j].Name })
	return &cli.App{
		Name:                 "star-pipeline",
		Usage:                "synthesise neural network architectures with STAR",
		Commands:             cmds,
		Writer:               stdout,
		ErrWriter:            stderr,
		EnableBashCompletion: true,
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{err}
		},
	}
}

// run builds the app, runs it and maps its error to an exit code.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := newApp(stdout, stderr)
	err := app.RunContext(ctx, args)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "star-pipeline: %v\n", err)
	var ue usageError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return exitInterrupted
	}
	return exitFailure
}
