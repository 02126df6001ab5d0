package kube

import (
	"crypto/tls"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/remote"
)

// scheme is the target scheme of this runtime.
const scheme = "kube"

// tlsOptions are this package's TLS options and their rules: a kube target
// requires TLS or WithInsecure.
var tlsOptions = remote.Options{Package: "kube", Schemes: []string{scheme}}

// config is the settings of one load that are this package's own (the TLS
// options are remote's), as its options set them (tether.RuntimeOption),
// applied in the order given.
type config struct {
	spec       *Spec
	kubeconfig string
	context    string
	client     kubernetes.Interface
	outlive    bool
	pinned     bool
	timeout    time.Duration
	podLogs    bool // WithPodLogs

	portForward bool // WithPortForward (portforward.go)
}

func opt(name string, set func(*config)) tether.Option {
	return tether.RuntimeOption("kube."+name, set, scheme)
}

// WithDeploy deploys the plugin from spec when the target's Deployment does
// not exist yet, and makes the host one of the plugin's holders: hosts
// that deploy one target share one Deployment, removed when the last of
// them closes or, killed, stops renewing its Lease (docs/kubernetes.md,
// "Many hosts, one plugin"). Without it, a kube:// target must name a
// Deployment that tether deployed earlier (one left running by
// WithOutliveHost, or by tether kube deploy). For kube targets only.
func WithDeploy(spec Spec) tether.Option {
	return opt("WithDeploy", func(c *config) { c.spec = &spec })
}

// WithKubeconfig reads the cluster's address and credentials from the
// kubeconfig file at path instead of $KUBECONFIG or ~/.kube/config. Inside
// a pod the service account is used unless this option is given. Loads
// through the same configuration share one client, and one EndpointSlice
// watch per namespace. For kube targets only.
func WithKubeconfig(path string) tether.Option {
	return opt("WithKubeconfig", func(c *config) { c.kubeconfig = path })
}

// WithContext uses the kubeconfig's context name instead of its
// current-context (the kubeconfig is then read even inside a pod). For kube
// targets only.
func WithContext(name string) tether.Option {
	return opt("WithContext", func(c *config) { c.context = name })
}

// WithClient uses c to talk to the API server instead of a client made
// from a kubeconfig or the pod's service account. For kube targets only.
func WithClient(c kubernetes.Interface) tether.Option {
	return opt("WithClient", func(cfg *config) { cfg.client = c })
}

// WithTLSFiles secures the connections to the plugin's pods with mutual
// TLS: certFile and keyFile are the host's client certificate and its key
// (PEM), caFile the CA certificates that signed the pods' server
// certificate. For kube targets only.
func WithTLSFiles(certFile, keyFile, caFile string) tether.Option {
	return tlsOptions.WithTLSFiles(certFile, keyFile, caFile)
}

// WithTLSConfig secures the connections to the plugin's pods with conf
// (cloned; MinVersion is raised to TLS 1.2; nil is refused). For kube
// targets only.
func WithTLSConfig(conf *tls.Config) tether.Option { return tlsOptions.WithTLSConfig(conf) }

// WithServerName sets the name the pods' server certificate must carry;
// the default is conf.ServerName of WithTLSConfig, else the Service's DNS
// name, NAME.NAMESPACE.svc (ServerName). For kube targets only.
func WithServerName(name string) tether.Option { return tlsOptions.WithServerName(name) }

// WithInsecure connects to the pods in plaintext (logged as a warning) and
// deploys a spec without a TLS Secret: anyone in the cluster network can
// call the plugin and read the calls. For kube targets only.
func WithInsecure() tether.Option { return tlsOptions.WithInsecure() }

// WithOutliveHost leaves the Deployment and Service running when the client
// is closed or killed, as tether.WithOutliveHost leaves a launched process
// running; a later Open of the same target attaches to them. Attached to a
// plugin other hosts share, it makes it permanent (AnnotationOutlive, no
// Lease owner). For kube targets only.
func WithOutliveHost() tether.Option {
	return opt("WithOutliveHost", func(c *config) { c.outlive = true })
}

// WithPinnedImages refuses to deploy an image not pinned by digest
// (name@sha256:...), as tether.WithChecksum pins a local binary. For kube
// targets only.
func WithPinnedImages() tether.Option {
	return opt("WithPinnedImages", func(c *config) { c.pinned = true })
}

// WithReadyTimeout bounds the wait for every replica to be ready; the
// default is the load's start timeout. For kube targets only.
func WithReadyTimeout(d time.Duration) tether.Option {
	return opt("WithReadyTimeout", func(c *config) { c.timeout = d })
}
