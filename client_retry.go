package tether

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
)

// RetryPolicy is gRPC's retry policy for the methods of a plugin that are
// safe to repeat (idempotent ones): a call that fails with one of
// RetryableCodes is made again, on whichever instance the balancer picks
// next, until MaxAttempts calls were made. Calls to an instance that dies
// under them then succeed on another one. It becomes the "retryPolicy" of
// the connection's gRPC service config; see WithRetry.
type RetryPolicy struct {
	// MaxAttempts counts the first call: 2 to 5 (gRPC makes at most 5).
	// Zero means 3.
	MaxAttempts int
	// InitialBackoff and MaxBackoff bound the randomised wait before each
	// attempt; BackoffMultiplier grows it. Zero values mean 50 ms, 1 s and
	// 2.
	InitialBackoff, MaxBackoff time.Duration
	BackoffMultiplier          float64
	// RetryableCodes are the status codes worth another attempt. Empty
	// means Unavailable alone: the call did not reach a working plugin.
	RetryableCodes []codes.Code
}

// WithRetry retries the calls to the given methods under the policy. Each
// name is a service ("greeter.v1.Greeter": all its methods) or a method
// ("greeter.v1.Greeter/Hello"); name only methods whose repetition is
// harmless. It may be given several times; a method's most specific entry
// applies. A bad policy or name fails Open with ErrBadTarget.
func WithRetry(p RetryPolicy, names ...string) Option {
	return hostOption(func(o *options) { o.retries = append(o.retries, retryRule{p, names}) })
}

type retryRule struct {
	policy RetryPolicy
	names  []string
}

// methodName is a gRPC service config method name.
type methodName struct {
	Service string `json:"service"`
	Method  string `json:"method,omitempty"`
}

type retryJSON struct {
	MaxAttempts          int      `json:"maxAttempts"`
	InitialBackoff       string   `json:"initialBackoff"`
	MaxBackoff           string   `json:"maxBackoff"`
	BackoffMultiplier    float64  `json:"backoffMultiplier"`
	RetryableStatusCodes []uint32 `json:"retryableStatusCodes"`
}

type methodConfig struct {
	Name        []methodName `json:"name"`
	RetryPolicy retryJSON    `json:"retryPolicy"`
}

type serviceConfig struct {
	LoadBalancingConfig []map[string]struct{} `json:"loadBalancingConfig"`
	HealthCheckConfig   struct {
		ServiceName string `json:"serviceName"`
	} `json:"healthCheckConfig"`
	MethodConfig []methodConfig `json:"methodConfig,omitempty"`
}

// serviceConfigJSON is the gRPC service config of a client's connection:
// tether's balancer, client-side health checking (for the endpoints that
// ask for it, see Endpoint.HealthChecked) on the server's overall status,
// and the host's retry policies.
func serviceConfigJSON(rules []retryRule) (string, error) {
	sc := serviceConfig{LoadBalancingConfig: []map[string]struct{}{{balancerName: {}}}}
	for _, r := range rules {
		mc, err := r.methodConfig()
		if err != nil {
			return "", err
		}
		sc.MethodConfig = append(sc.MethodConfig, mc)
	}
	b, err := json.Marshal(sc)
	return string(b), err
}

func (r retryRule) methodConfig() (methodConfig, error) {
	p := r.policy
	if len(r.names) == 0 {
		return methodConfig{}, fmt.Errorf("WithRetry names no method")
	}
	mc := methodConfig{}
	for _, n := range r.names {
		svc, method, _ := strings.Cut(strings.TrimPrefix(n, "/"), "/")
		if svc == "" || strings.ContainsAny(svc, " /") || strings.Contains(method, "/") {
			return mc, fmt.Errorf("WithRetry: %q is not a service (pkg.Service) or method (pkg.Service/Method)", n)
		}
		mc.Name = append(mc.Name, methodName{Service: svc, Method: method})
	}
	if p.MaxAttempts == 0 {
		p.MaxAttempts = 3
	}
	if p.MaxAttempts < 2 || p.MaxAttempts > 5 {
		return mc, fmt.Errorf("WithRetry: MaxAttempts %d is not between 2 and 5", p.MaxAttempts)
	}
	p.InitialBackoff = or(p.InitialBackoff, 50*time.Millisecond)
	p.MaxBackoff = or(p.MaxBackoff, time.Second)
	if p.BackoffMultiplier == 0 {
		p.BackoffMultiplier = 2
	}
	if p.InitialBackoff < 0 || p.MaxBackoff < p.InitialBackoff || p.BackoffMultiplier < 1 {
		return mc, fmt.Errorf("WithRetry: backoff %v to %v, multiplier %v: want 0 < initial <= max, multiplier >= 1",
			p.InitialBackoff, p.MaxBackoff, p.BackoffMultiplier)
	}
	if len(p.RetryableCodes) == 0 {
		p.RetryableCodes = []codes.Code{codes.Unavailable}
	}
	rj := retryJSON{MaxAttempts: p.MaxAttempts, InitialBackoff: seconds(p.InitialBackoff),
		MaxBackoff: seconds(p.MaxBackoff), BackoffMultiplier: p.BackoffMultiplier}
	for _, c := range p.RetryableCodes {
		if c == codes.OK || c > codes.Unauthenticated {
			return mc, fmt.Errorf("WithRetry: %v is not a retryable status code", c)
		}
		rj.RetryableStatusCodes = append(rj.RetryableStatusCodes, uint32(c))
	}
	mc.RetryPolicy = rj
	return mc, nil
}

func or(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// seconds writes d as a service config duration ("0.05s").
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}
