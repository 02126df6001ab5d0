package kube

import (
	"crypto/sha256"
	"fmt"
	"sync"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// clientsets are the clients made from kubeconfigs (or the service
// account) by Open, by configuration, for the process's lifetime: every
// load through the same configuration shares one, with its connections and
// its rate limiter, and so the namespace's EndpointSlice informer.
var clientsets = struct {
	sync.Mutex
	m map[[sha256.Size]byte]kubernetes.Interface
}{m: map[[sha256.Size]byte]kubernetes.Interface{}}

// sharedClient is NewContextClient(path, context), shared by every caller
// whose path and context resolve to the same configuration (server,
// credentials, TLS, limits).
func sharedClient(path, context string) (kubernetes.Interface, error) {
	conf, err := ContextRESTConfig(path, context)
	if err != nil {
		return nil, err
	}
	key, ok := configKey(conf)
	if !ok {
		return kubernetes.NewForConfig(conf)
	}
	clientsets.Lock()
	defer clientsets.Unlock()
	if c := clientsets.m[key]; c != nil {
		return c, nil
	}
	c, err := kubernetes.NewForConfig(conf)
	if err != nil {
		return nil, err
	}
	clientsets.m[key] = c
	return c, nil
}

// configKey identifies what a client made from conf does: false when conf
// holds functions or a transport of the caller's, which cannot be compared
// (a kubeconfig never makes those, save a proxy URL).
func configKey(conf *rest.Config) (key [sha256.Size]byte, ok bool) {
	if conf.Transport != nil || conf.WrapTransport != nil || conf.Dial != nil || conf.Proxy != nil ||
		conf.RateLimiter != nil || conf.WarningHandler != nil || conf.WarningHandlerWithContext != nil {
		return key, false
	}
	// Fields one by one: the String methods of these types redact secrets,
	// which would make different credentials look the same.
	h := sha256.New()
	t, im := conf.TLSClientConfig, conf.Impersonate
	fmt.Fprintf(h, "%q %q %q %q %q %q %q %v %d %v %v\n", conf.Host, conf.APIPath, conf.ContentType, conf.Username,
		conf.Password, conf.BearerToken, conf.BearerTokenFile, conf.QPS, conf.Burst, conf.Timeout, conf.DisableCompression)
	fmt.Fprintf(h, "tls %v %q %q %q %q %x %x %x %q\n", t.Insecure, t.ServerName, t.CertFile, t.KeyFile, t.CAFile,
		t.CertData, t.KeyData, t.CAData, t.NextProtos)
	fmt.Fprintf(h, "as %q %q %q %v ua %q\n", im.UserName, im.UID, im.Groups, im.Extra, conf.UserAgent)
	if p := conf.AuthProvider; p != nil {
		fmt.Fprintf(h, "auth %q %v\n", p.Name, p.Config)
	}
	if e := conf.ExecProvider; e != nil {
		fmt.Fprintf(h, "exec %q %q %q %v %q\n", e.Command, e.Args, e.APIVersion, e.ProvideClusterInfo, e.InteractiveMode)
		for _, v := range e.Env {
			fmt.Fprintf(h, "env %q %q\n", v.Name, v.Value)
		}
	}
	copy(key[:], h.Sum(nil))
	return key, true
}
