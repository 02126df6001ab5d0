package daemon

import (
	"context"
	"log/slog"
	"strings"
)

// manifestWords turns the Go options that the network runtime's messages
// name into the manifest fields that stand for them: a tether run user
// writes insecure: true, not network.WithInsecure().
var manifestWords = strings.NewReplacer(
	// At one place the longest phrase wins: they come first.
	"give network.WithTLSFiles(cert, key, ca) or network.WithTLSConfig, or network.WithInsecure() to connect in plaintext",
	"give tls: {cert, key, ca}, or insecure: true to connect in plaintext",
	"give the host network.WithTLSFiles or network.WithTLSConfig, not network.WithInsecure", "give tls: {cert, key, ca}, not insecure: true",
	"network.WithInsecure contradicts the TLS option also given", "insecure: true contradicts tls: give one",
	"network.WithTLSFiles", "tls: {cert, key, ca}",
	"network.WithInsecure()", "insecure: true",
	"network.WithInsecure", "insecure: true", // "connecting to the plugin in plaintext (network.WithInsecure)"
)

// manifestWording is a log handler that names the manifest's fields where
// a record's message or error names the Go options they stand for.
type manifestWording struct{ slog.Handler }

// Handle rewrites the record's message and its error attributes.
func (h manifestWording) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, manifestWords.Replace(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(worded(a))
		return true
	})
	return h.Handler.Handle(ctx, out)
}

// WithAttrs words the attributes too.
func (h manifestWording) WithAttrs(as []slog.Attr) slog.Handler {
	ws := make([]slog.Attr, len(as))
	for i, a := range as {
		ws[i] = worded(a)
	}
	return manifestWording{h.Handler.WithAttrs(ws)}
}

// WithGroup keeps the wording inside the group.
func (h manifestWording) WithGroup(name string) slog.Handler {
	return manifestWording{h.Handler.WithGroup(name)}
}

// worded is a with a string or error value in the manifest's words.
func worded(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindString {
		return slog.String(a.Key, manifestWords.Replace(v.String()))
	}
	if err, ok := v.Any().(error); ok && err != nil {
		return slog.String(a.Key, manifestWords.Replace(err.Error()))
	}
	return a
}

// wordedLogger is log with manifestWording.
func wordedLogger(log *slog.Logger) *slog.Logger {
	return slog.New(manifestWording{log.Handler()})
}
