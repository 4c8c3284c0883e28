package runner

import (
	"fmt"

	"github.com/hashicorp/go-hclog"
)

// redactLogger masks the secrets of red in every message and value logged
// through it, before the logger under it (whose own redaction, the CLI's,
// knows only the caller's secrets) sees them. A called plan logs through
// one, so that a value secret only in the called plan (a secret param's
// default, or a value the caller did not declare secret) stays masked.
type redactLogger struct {
	hclog.Logger
	red *Redactor
}

var _ hclog.Logger = (*redactLogger)(nil)

// args redacts the values of key/value pairs; keys are names.
func (l *redactLogger) args(kv []any) []any {
	out := make([]any, len(kv))
	for i, v := range kv {
		if i%2 == 0 {
			out[i] = v
			continue
		}
		switch x := v.(type) {
		case string:
			out[i] = l.red.Redact(x)
		case error:
			out[i] = l.red.Redact(x.Error())
		case fmt.Stringer:
			out[i] = l.red.Redact(x.String())
		default:
			out[i] = l.red.redactValue(v)
		}
	}
	return out
}

func (l *redactLogger) Log(level hclog.Level, msg string, args ...any) {
	l.Logger.Log(level, l.red.Redact(msg), l.args(args)...)
}
func (l *redactLogger) Trace(msg string, args ...any) { l.Log(hclog.Trace, msg, args...) }
func (l *redactLogger) Debug(msg string, args ...any) { l.Log(hclog.Debug, msg, args...) }
func (l *redactLogger) Info(msg string, args ...any)  { l.Log(hclog.Info, msg, args...) }
func (l *redactLogger) Warn(msg string, args ...any)  { l.Log(hclog.Warn, msg, args...) }
func (l *redactLogger) Error(msg string, args ...any) { l.Log(hclog.Error, msg, args...) }

func (l *redactLogger) With(args ...any) hclog.Logger {
	return &redactLogger{Logger: l.Logger.With(l.args(args)...), red: l.red}
}

func (l *redactLogger) Named(name string) hclog.Logger {
	return &redactLogger{Logger: l.Logger.Named(name), red: l.red}
}

func (l *redactLogger) ResetNamed(name string) hclog.Logger {
	return &redactLogger{Logger: l.Logger.ResetNamed(name), red: l.red}
}
