package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/pb/tetherv1"
)

// Scheme is the target scheme of plugins a daemon supervises:
// run://NAME, or run://NAME?socket=/abs/control.sock.
const Scheme = "run"

// EnvSocket is the environment variable naming the control socket that
// run://NAME targets without ?socket= resolve over; unset, it is
// DefaultSocket().
const EnvSocket = "TETHER_RUN_SOCKET"

// rewatchInterval is how long the run:// runtime waits before watching
// again after losing its daemon.
const rewatchInterval = 500 * time.Millisecond

func init() { tether.RegisterRuntime(builder{}) }

type builder struct{}

// Scheme is "run".
func (builder) Scheme() string { return Scheme }

// Build resolves the named instance over the daemon's control socket and
// follows it: each ready incarnation becomes the one endpoint; none while
// the instance is down.
func (builder) Build(ctx context.Context, t tether.Target, env tether.RuntimeEnv) (tether.Runtime, error) {
	name, socket, err := parseRunTarget(t)
	bad := func(detail string, err error) error {
		return &tether.PluginError{Plugin: env.Name, Kind: tether.ErrBadTarget, Detail: detail, Err: err}
	}
	if err != nil {
		return nil, bad(err.Error(), nil)
	}
	conn, err := Dial(socket)
	if err != nil {
		return nil, bad("control socket "+socket, err)
	}
	r := &runRuntime{name: name, socket: socket, env: env, conn: conn, done: make(chan struct{})}
	var runCtx context.Context
	runCtx, r.cancel = context.WithCancel(context.Background())
	first := make(chan error, 1)
	go r.follow(runCtx, first)
	select {
	case err = <-first:
	case <-ctx.Done():
		err = &tether.PluginError{Plugin: env.Name, Kind: tether.ErrStartTimeout,
			Detail: "the daemon at " + socket + " did not answer", Err: context.Cause(ctx)}
	}
	if err != nil {
		_ = r.Close(context.Background(), nil)
		return nil, err
	}
	return r, nil
}

// parseRunTarget reads run://NAME[?socket=PATH].
func parseRunTarget(t tether.Target) (name, socket string, err error) {
	u, err := url.Parse(t.Raw)
	if err != nil {
		return "", "", err
	}
	name = u.Host
	if !validName.MatchString(name) || (u.Path != "" && u.Path != "/") {
		return "", "", fmt.Errorf("want run://NAME or run://NAME?socket=/abs/control.sock, got %q", t.Raw)
	}
	q := u.Query()
	for k := range q {
		if k != "socket" {
			return "", "", fmt.Errorf("unknown parameter %q: run:// takes socket only", k)
		}
	}
	switch socket = q.Get("socket"); {
	case socket != "" && !filepath.IsAbs(socket):
		return "", "", fmt.Errorf("socket %q: want an absolute path", socket)
	case socket == "":
		socket = os.Getenv(EnvSocket)
	}
	if socket == "" {
		if socket, err = DefaultSocket(); err != nil {
			return "", "", err
		}
	}
	return name, socket, nil
}

// runRuntime follows one instance of a daemon.
type runRuntime struct {
	name, socket string
	env          tether.RuntimeEnv
	conn         *grpc.ClientConn
	cancel       context.CancelFunc
	done         chan struct{}
}

// follow watches the instance until ctx ends, watching again whenever the
// stream breaks (the daemon restarted). The first answer, or the failure
// to get one, goes to first.
func (r *runRuntime) follow(ctx context.Context, first chan<- error) {
	defer close(r.done)
	for {
		err := r.watch(ctx, func() {
			if first != nil {
				first <- nil
				first = nil
			}
		})
		if ctx.Err() != nil {
			return
		}
		if first != nil {
			first <- r.explain(err)
			return
		}
		r.env.Logger.Warn("lost the tether run daemon; watching again", "plugin", r.env.Name, "socket", r.socket, "err", err)
		r.env.Endpoints.UpdateEndpoints(nil)
		select {
		case <-ctx.Done():
			return
		case <-time.After(rewatchInterval):
		}
	}
}

// watch is one Watch call: it reports endpoints until the stream ends,
// calling answered after each message is applied.
func (r *runRuntime) watch(ctx context.Context, answered func()) error {
	stream, err := tetherv1.NewDaemonClient(r.conn).Watch(ctx, &tetherv1.WatchRequest{Name: r.name})
	if err != nil {
		return err
	}
	for {
		msg, err := stream.Recv()
		if err != nil {
			return err
		}
		eps, err := r.endpoints(msg)
		if err != nil {
			r.env.Logger.Error("the daemon's reattach config is unusable", "plugin", r.env.Name, "err", err)
		}
		r.env.Endpoints.UpdateEndpoints(eps)
		answered()
	}
}

// endpoints turns one Watch message into the client's endpoints.
func (r *runRuntime) endpoints(msg *tetherv1.WatchResponse) ([]tether.Endpoint, error) {
	if !msg.GetUp() {
		return nil, nil
	}
	var cfg tether.ReattachConfig
	if err := json.Unmarshal(msg.GetReattachConfig(), &cfg); err != nil {
		return nil, err
	}
	ep, err := tether.ReattachEndpoint(cfg)
	if err != nil {
		return nil, err
	}
	ep.Replaceable = true // the daemon starts another incarnation
	return []tether.Endpoint{ep}, nil
}

// explain turns a failed first Watch into the load's error.
func (r *runRuntime) explain(err error) error {
	pe := &tether.PluginError{Plugin: r.env.Name, Kind: tether.ErrUnavailable, Err: err}
	switch status.Code(err) {
	case codes.NotFound:
		pe.Kind, pe.Detail = tether.ErrBadTarget, fmt.Sprintf("the tether run daemon at %s supervises no plugin named %q", r.socket, r.name)
	case codes.Unavailable:
		pe.Detail = "no tether run daemon answers on " + r.socket
	default:
		pe.Detail = "the tether run daemon at " + r.socket + " refused to watch " + r.name
	}
	if errors.Is(err, context.Canceled) {
		pe.Detail = "gave up watching " + r.name
	}
	return pe
}

// Close stops following the instance; it stops no plugin.
func (r *runRuntime) Close(ctx context.Context, _ func(context.Context, tether.Endpoint) error) error {
	r.cancel()
	defer r.conn.Close()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
