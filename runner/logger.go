package runner

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/hibiken/asynq"
)

// Logger adapts a slog.Logger to asynq.Logger. Records carry
// component=asynq.
type Logger struct{ l *slog.Logger }

// NewLogger returns an asynq logger that writes to l.
func NewLogger(l *slog.Logger) *Logger {
	return &Logger{l: l.With("component", "asynq")}
}

var _ asynq.Logger = (*Logger)(nil)

// Debug logs at debug level.
func (a *Logger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }

// Info logs at info level.
func (a *Logger) Info(args ...any) { a.l.Info(fmt.Sprint(args...)) }

// Warn logs at warn level.
func (a *Logger) Warn(args ...any) { a.l.Warn(fmt.Sprint(args...)) }

// Error logs at error level.
func (a *Logger) Error(args ...any) { a.l.Error(fmt.Sprint(args...)) }

// Fatal logs at error level with fatal=true. Unlike asynq's default logger
// it does not exit the process: only the command decides to exit. asynq
// v0.26 never calls it.
func (a *Logger) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...), "fatal", true) }

// logLevel returns the asynq level matching what l's handler lets through,
// so asynq does not format messages that would be dropped.
func logLevel(l *slog.Logger) asynq.LogLevel {
	ctx := context.Background()
	switch {
	case l.Enabled(ctx, slog.LevelDebug):
		return asynq.DebugLevel
	case l.Enabled(ctx, slog.LevelInfo):
		return asynq.InfoLevel
	case l.Enabled(ctx, slog.LevelWarn):
		return asynq.WarnLevel
	default:
		return asynq.ErrorLevel
	}
}
