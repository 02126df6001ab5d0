package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tetherplug/tether/internal/pb/tetherv1"
	"github.com/tetherplug/tether/supervise"
)

// control serves tether.v1.Daemon for one daemon.
type control struct {
	tetherv1.UnimplementedDaemonServer
	d *Daemon
}

// Status reports the daemon and every instance.
func (c *control) Status(context.Context, *tetherv1.StatusRequest) (*tetherv1.StatusResponse, error) {
	d := c.d
	d.mu.Lock()
	resp := &tetherv1.StatusResponse{Manifest: d.file, Pid: int32(os.Getpid())}
	if d.reloadErr != nil {
		resp.LastReloadError = d.reloadErr.Error()
	}
	d.mu.Unlock()
	resp.Applies = int64(d.sup.Applies())
	for _, st := range d.sup.Status() {
		resp.Instances = append(resp.Instances, d.instanceStatus(st))
	}
	return resp, nil
}

// instanceStatus is st as the control socket reports it, with the
// latest reload's error when it is about st's entry.
func (d *Daemon) instanceStatus(st supervise.Status) *tetherv1.InstanceStatus {
	is := &tetherv1.InstanceStatus{Name: st.Name, Target: st.Target, State: string(st.State), Pid: int32(st.Pid),
		Restarts: int32(st.Restarts), SinceUnixNano: st.Since.UnixNano(), Adopted: st.Adopted,
		LastError: manifestWords.Replace(st.LastErr), Endpoint: st.Endpoint}
	if st.LastExit != nil {
		is.LastExit = st.LastExit.String()
	}
	if f := st.LogFailure; f != nil {
		is.LogError, is.LogFailingSinceUnixNano, is.LogLinesDropped = f.Err, f.Since.UnixNano(), f.Dropped
	}
	d.mu.Lock()
	var me *ManifestError
	if errors.As(d.reloadErr, &me) && me.Plugin == strconv.Quote(st.Name) {
		is.ReloadError = d.reloadErr.Error()
	}
	d.mu.Unlock()
	if len(st.Versions) > 0 {
		is.Versions = map[string]int32{}
		for k, v := range st.Versions {
			is.Versions[k] = int32(v)
		}
	}
	return is
}

// known reports whether the supervisor has an instance called name.
func (d *Daemon) known(name string) bool {
	return slices.ContainsFunc(d.sup.Status(), func(s supervise.Status) bool { return s.Name == name })
}

func notFound(name string) error {
	return status.Errorf(codes.NotFound, "no plugin named %q in the manifest", name)
}

// Watch streams the instance's reachability: its reattach config each
// time an incarnation is ready, up false when it is down.
func (c *control) Watch(req *tetherv1.WatchRequest, stream tetherv1.Daemon_WatchServer) error {
	d, name := c.d, req.GetName()
	kick := d.hub.sub(name)
	defer d.hub.unsub(name, kick)
	if !d.known(name) {
		return notFound(name)
	}
	last := ""
	for {
		msg, key := d.reach(name)
		if key != last {
			if err := stream.Send(msg); err != nil {
				return err
			}
			last = key
		}
		select {
		case <-kick:
		case <-stream.Context().Done():
			return nil
		case <-d.closing:
			return status.Error(codes.Unavailable, "tether run is stopping")
		}
	}
}

// reach is the instance's current reachability as Watch sends it, and a
// key that changes whenever it does.
func (d *Daemon) reach(name string) (*tetherv1.WatchResponse, string) {
	cfg, err := d.sup.ReattachConfig(name)
	if err == nil {
		if b, jerr := json.Marshal(cfg); jerr == nil {
			return &tetherv1.WatchResponse{Up: true, ReattachConfig: b, State: string(supervise.StateRunning)},
				fmt.Sprintf("up %s %s %d %d", cfg.Network, cfg.Address, cfg.Pid, cfg.StartTime)
		}
	}
	state := "removed"
	for _, st := range d.sup.Status() {
		if st.Name == name {
			state = string(st.State)
		}
	}
	return &tetherv1.WatchResponse{State: state}, "down"
}

// hub wakes the Watch streams of an instance when something happens to it.
type hub struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]bool
}

func newHub() *hub { return &hub{subs: map[string]map[chan struct{}]bool{}} }

func (h *hub) sub(name string) chan struct{} {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs[name] == nil {
		h.subs[name] = map[chan struct{}]bool{}
	}
	h.subs[name][ch] = true
	return ch
}

func (h *hub) unsub(name string, ch chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs[name], ch)
	if len(h.subs[name]) == 0 {
		delete(h.subs, name)
	}
}

// notify wakes the instance's watchers without blocking: a watcher already
// woken reads the latest state anyway.
func (h *hub) notify(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs[name] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
