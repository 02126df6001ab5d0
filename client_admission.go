package tether

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc/attributes"
	"google.golang.org/grpc/resolver"
)

// admission is a client's view of its plugin's instances: the endpoints
// the runtime reported, which of them answered Describe with fitting
// versions (admitted: ordinary calls go only there), which were refused and
// why. The balancer asks it who is admitted and tells it when an
// endpoint's connection is up or lost; it knows nothing of the balancer
// but the function that rebuilds its picker, and nothing of the Client
// but the hooks it was made with.
type admission struct {
	hooks admissionHooks

	mu      sync.Mutex
	members map[string]*member
	refresh func() // rebuilds the balancer's picker; never called with mu held
	lastErr error  // the latest reason an instance could not take calls
	ended   bool   // the runtime reports no more endpoints
	everUp  bool   // some endpoint's connection was up once
	gone    []goneInstance

	first     chan struct{} // closed at the first admission, or at a failure before it
	firstErr  error
	firstDone bool
}

// goneInstance is an instance whose endpoint the runtime removed lately:
// a call that failed as it went may still be explained by its exit.
type goneInstance struct {
	ep Endpoint
	at time.Time
}

// goneMemory is how long a removed instance can explain a failed call.
const goneMemory = 5 * time.Second

// member is one endpoint and what the client knows of the instance behind it.
type member struct {
	ep       Endpoint
	state    memberState
	why      error // why it was refused
	gen      int   // counts READY transitions, so a stale Describe is ignored
	stop     context.CancelFunc
	extrasOn bool // callbacks and stdio started
}

type memberState int

const (
	memberPending  memberState = iota // connecting, or connected and being described
	memberAdmitted                    // takes calls
	memberRefused                     // its versions do not fit, or it failed its handshake
)

// admissionHooks are what the admission state needs of its client.
type admissionHooks struct {
	plugin string       // the plugin's name, for errors
	log    *slog.Logger // where refusals are logged
	// describeTimeout bounds one instance's Describe.
	describeTimeout time.Duration
	// describe asks the instance of ctx's pinned endpoint what it serves
	// and checks it against what was negotiated.
	describe func(ctx context.Context, ep Endpoint) (described, error)
	// admitted starts what an instance gets besides calls once it is first
	// admitted (callbacks, stdio), until ctx ends.
	admitted func(ctx context.Context, ep Endpoint, d described)
	// changed, when set, is told after every change of who is admitted.
	changed func()
	// refused, when set, is told why an instance was refused.
	refused func(error)
}

func newAdmission(h admissionHooks) *admission {
	return &admission{hooks: h, members: map[string]*member{}, first: make(chan struct{}), refresh: func() {}}
}

// onChange sets the function that rebuilds the balancer's picker, called
// whenever an admission changes.
func (p *admission) onChange(f func()) {
	p.mu.Lock()
	p.refresh = f
	p.mu.Unlock()
}

func (p *admission) doRefresh() {
	p.mu.Lock()
	f := p.refresh
	p.mu.Unlock()
	f()
	if p.hooks.changed != nil {
		p.hooks.changed()
	}
}

// update replaces the endpoint set and returns the resolver state that
// feeds it to the connection.
func (p *admission) update(eps []Endpoint) resolver.State {
	p.mu.Lock()
	keep := map[string]bool{}
	addrs := make([]resolver.Address, 0, len(eps))
	for _, ep := range eps {
		key := ep.key()
		keep[key] = true
		if _, ok := p.members[key]; !ok {
			p.members[key] = &member{ep: ep}
		}
		name := ep.ServerName
		if name == "" {
			name = "localhost"
		}
		addrs = append(addrs, resolver.Address{Addr: key, ServerName: name,
			Attributes: attributes.New(credsKey{}, endpointCreds{ep.Creds, key}).WithValue(healthKey{}, ep.HealthChecked)})
	}
	now := time.Now()
	p.gone = slices.DeleteFunc(p.gone, func(g goneInstance) bool { return now.Sub(g.at) > goneMemory })
	for key, m := range p.members {
		if !keep[key] {
			if m.stop != nil {
				m.stop()
			}
			if m.ep.Instance != nil && m.ep.Instance.Exited() != nil {
				p.gone = append(p.gone, goneInstance{m.ep, now})
			}
			delete(p.members, key)
		}
	}
	p.mu.Unlock()
	return resolver.State{Addresses: addrs, Attributes: attributes.New(admissionKey{}, p)}
}

// end records that the runtime will report no more endpoints; err says why
// (the last instance's exit). A load still waiting fails with it.
func (p *admission) end(err error) {
	p.mu.Lock()
	p.ended = true
	if err != nil {
		p.lastErr = err
	}
	p.mu.Unlock()
	p.doRefresh() // calls, even wait-for-ready ones, now fail at once
	p.settleFirst(err)
}

func (p *admission) isAdmitted(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.members[key]
	return m != nil && m.state == memberAdmitted
}

func (p *admission) anyAdmitted() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.members {
		if m.state == memberAdmitted {
			return true
		}
	}
	return false
}

func (p *admission) hasEnded() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ended
}

// exitable lists the instances that can tell their exit: current ones and
// those removed in the last goneMemory.
func (p *admission) exitable() []Endpoint {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Endpoint
	for _, m := range p.members {
		if m.ep.Instance != nil && m.ep.Instance.Exited() != nil {
			out = append(out, m.ep)
		}
	}
	for _, g := range p.gone {
		if time.Since(g.at) <= goneMemory {
			out = append(out, g.ep)
		}
	}
	return out
}

func (p *admission) isPending(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.members[key]
	return m != nil && m.state == memberPending
}

func (p *admission) everConnected() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.everUp
}

func (p *admission) lastError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}

// unavailable says why no instance takes calls.
func (p *admission) unavailable() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.members {
		if m.why != nil {
			return m.why
		}
	}
	if p.lastErr != nil {
		return p.lastErr
	}
	return errors.New("the runtime reports no endpoint")
}

// subConnReady starts describing the instance behind a connection that is
// up: after every reconnection, since another process may now answer there.
func (p *admission) subConnReady(key string) {
	p.mu.Lock()
	m := p.members[key]
	if m == nil {
		p.mu.Unlock()
		return
	}
	m.gen++
	gen := m.gen
	p.everUp = true
	if m.state != memberRefused {
		m.state = memberPending
	}
	p.mu.Unlock()
	go p.describe(key, gen)
}

// subConnLost takes an instance out of rotation until its connection is up
// and it has been described again. A launched plugin's first connection
// that fails refuses it at once: it listens before it prints its handshake.
func (p *admission) subConnLost(key string, err error) {
	p.mu.Lock()
	m := p.members[key]
	if m == nil {
		p.mu.Unlock()
		return
	}
	if err != nil {
		p.lastErr = fmt.Errorf("%s: %w", m.ep.Address, err)
	}
	firstTry := !m.extrasOn && err != nil && m.state == memberPending
	tlsFailed := firstTry && isTLSFailure(err)
	failFast := firstTry && (m.ep.FailFast || tlsFailed)
	if m.state == memberAdmitted {
		m.state = memberPending
	}
	switch {
	case tlsFailed:
		// Retrying will not mend it: the load fails now, saying why.
		m.state = memberRefused
		m.why = &PluginError{Plugin: p.hooks.plugin, Kind: ErrTLS, Detail: "with " + m.ep.Address, Err: err}
	case failFast:
		m.state = memberRefused
		m.why = &PluginError{Plugin: p.hooks.plugin, Kind: ErrNotPlugin, Detail: "it accepted no gRPC connection", Err: err}
	}
	why := m.why
	p.mu.Unlock()
	p.doRefresh()
	if failFast {
		p.noteRefused(why)
		p.settleFirst(why)
	}
}

// isTLSFailure reports a connection error that is a TLS handshake failing
// for good: a certificate that does not verify or names another host, an
// alert from the peer (a refused client certificate), a record that is not
// TLS (a plaintext port).
func isTLSFailure(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		alert    tls.AlertError
		header   tls.RecordHeaderError
		hostname x509.HostnameError
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
	)
	var op *net.OpError // crypto/tls reports an alert it received so
	return errors.As(err, &verify) || errors.As(err, &alert) || errors.As(err, &header) ||
		errors.As(err, &hostname) || errors.As(err, &unknown) || errors.As(err, &invalid) ||
		errors.As(err, &op) && op.Op == "remote error"
}

// describe asks one instance what it serves and admits or refuses it.
func (p *admission) describe(key string, gen int) {
	ctx, cancel := context.WithTimeout(context.Background(), p.hooks.describeTimeout)
	defer cancel()
	p.mu.Lock()
	m := p.members[key]
	p.mu.Unlock()
	if m == nil {
		return
	}
	v, err := p.hooks.describe(pinTo(ctx, key), m.ep)
	p.mu.Lock()
	if p.members[key] != m || m.gen != gen {
		p.mu.Unlock()
		return // gone, or reconnected since: a newer describe decides
	}
	if err != nil {
		m.state, m.why = memberRefused, err
		p.lastErr = err
		p.mu.Unlock()
		p.hooks.log.Warn("plugin instance refused: it receives no calls", "endpoint", m.ep.Address, "error", err)
		p.noteRefused(err)
		p.doRefresh()
		p.settleFirst(err)
		return
	}
	m.state, m.why = memberAdmitted, nil
	startExtras := !m.extrasOn
	if startExtras {
		m.extrasOn = true
		var mctx context.Context
		mctx, m.stop = context.WithCancel(context.Background())
		p.mu.Unlock()
		p.hooks.admitted(mctx, m.ep, v)
	} else {
		p.mu.Unlock()
	}
	p.doRefresh()
	p.settleFirst(nil)
}

// settleFirst ends the wait of the load: at the first admission, or at the
// first failure while nothing else can still be admitted.
func (p *admission) settleFirst(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.firstDone {
		return
	}
	if err != nil && !p.ended {
		for _, m := range p.members {
			if m.state != memberRefused {
				return // another instance may still come up
			}
		}
	}
	p.firstDone, p.firstErr = true, err
	close(p.first)
}

// stopAll stops every member's callbacks and stdio.
func (p *admission) stopAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.members {
		if m.stop != nil {
			m.stop()
		}
	}
}

// instances lists the members, for Client.Instances.
func (p *admission) instances() []InstanceInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]InstanceInfo, 0, len(p.members))
	for _, m := range p.members {
		out = append(out, InstanceInfo{Network: m.ep.Network, Address: m.ep.Address,
			Admitted: m.state == memberAdmitted, Refused: m.why, Instance: m.ep.Instance})
	}
	return out
}

// InstanceInfo is what a client knows of one instance of its plugin.
type InstanceInfo struct {
	Network, Address string
	// Admitted: the instance answered Describe with versions that fit and
	// takes calls.
	Admitted bool
	// Refused says why the instance takes no calls (versions that do not
	// fit, a failed handshake); nil otherwise.
	Refused error
	// Instance is the runtime's handle, nil for a remote address.
	Instance Instance
}

// noteRefused tells the refused hook, if any, why an instance was refused.
func (p *admission) noteRefused(err error) {
	if p.hooks.refused != nil {
		p.hooks.refused(err)
	}
}
