package kube

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/kubernetes"
)

// progressEvery bounds how often a deploy's wait looks at the pods to
// report its progress.
const progressEvery = time.Second

// progressKey is the context key of a Deploy's progress reporter.
type progressKey struct{}

// progress reports a deploy's wait to DeployOptions.Progress when what it
// says changes.
type progress struct {
	fn   func(*NotReadyError)
	last string
	next time.Time
}

// withProgress makes waitReady (within ctx) report to fn; nil reports
// nothing.
func withProgress(ctx context.Context, fn func(*NotReadyError)) context.Context {
	if fn == nil {
		return ctx
	}
	return context.WithValue(ctx, progressKey{}, &progress{fn: fn})
}

// reportProgress tells the progress reporter of ctx, if any, how far the
// Deployment d (as last read, not ready) has got, at most once every
// progressEvery and only when that changed.
func reportProgress(ctx context.Context, c kubernetes.Interface, d *appsv1.Deployment) {
	p, _ := ctx.Value(progressKey{}).(*progress)
	if p == nil || time.Now().Before(p.next) {
		return
	}
	p.next = time.Now().Add(progressEvery)
	e := diagnose(ctx, c, d)
	e.Log = ""
	if s := e.Error(); s != p.last {
		p.last = s
		p.fn(e)
	}
}
