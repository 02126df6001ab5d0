package kube

import (
	"crypto/tls"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/tetherplug/tether"
)

// scheme is the target scheme of this runtime.
const scheme = "kube"

// config is the settings of one load, as this package's options set them
// (tether.RuntimeOption), applied in the order given.
type config struct {
	spec       *Spec
	kubeconfig string
	client     kubernetes.Interface
	tlsFiles   *[3]string // cert, key, CA
	tlsConfig  *tls.Config
	serverName string
	insecure   bool
	outlive    bool
	pinned     bool
	timeout    time.Duration
}

// hasTLS reports whether a TLS option was given.
func (c config) hasTLS() bool { return c.tlsFiles != nil || c.tlsConfig != nil }

func opt(name string, set func(*config)) tether.Option {
	return tether.RuntimeOption("kube."+name, set, scheme)
}

// WithDeploy deploys the plugin from spec when the target's Deployment does
// not exist yet. Without it, a kube:// target must name a Deployment that
// tether deployed earlier (one left running by WithOutlive, or by
// tether kube deploy). For kube targets only.
func WithDeploy(spec Spec) tether.Option {
	return opt("WithDeploy", func(c *config) { c.spec = &spec })
}

// WithKubeconfig reads the cluster's address and credentials from the
// kubeconfig file at path instead of $KUBECONFIG or ~/.kube/config. Inside
// a pod the service account is used unless this option is given. For kube
// targets only.
func WithKubeconfig(path string) tether.Option {
	return opt("WithKubeconfig", func(c *config) { c.kubeconfig = path })
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
	return opt("WithTLSFiles", func(c *config) { c.tlsFiles = &[3]string{certFile, keyFile, caFile} })
}

// WithTLSConfig secures the connections to the plugin's pods with conf
// (cloned; MinVersion is raised to TLS 1.2). For kube targets only.
func WithTLSConfig(conf *tls.Config) tether.Option {
	return opt("WithTLSConfig", func(c *config) { c.tlsConfig = conf })
}

// WithServerName sets the name the pods' server certificate must carry;
// the default is the Service's DNS name, NAME.NAMESPACE.svc. For kube
// targets only.
func WithServerName(name string) tether.Option {
	return opt("WithServerName", func(c *config) { c.serverName = name })
}

// WithInsecure connects to the pods in plaintext and deploys a spec without
// a TLS Secret: anyone in the cluster network can call the plugin and read
// the calls. For kube targets only.
func WithInsecure() tether.Option { return opt("WithInsecure", func(c *config) { c.insecure = true }) }

// WithOutlive leaves the Deployment and Service running when the client is
// closed or killed; a later Open of the same target attaches to them. For
// kube targets only.
func WithOutlive() tether.Option { return opt("WithOutlive", func(c *config) { c.outlive = true }) }

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
