package kube

import (
	"crypto/tls"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/tetherplug/tether"
)

// scheme is the target scheme of this runtime.
const scheme = "kube"

// setting is what this package's options put in tether.RuntimeEnv.Settings.
type setting struct {
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

func opt(name string, s setting) tether.Option {
	return tether.RuntimeSetting("kube."+name, s, scheme)
}

// WithDeploy deploys the plugin from spec when the target's Deployment does
// not exist yet. Without it, a kube:// target must name a Deployment that
// tether deployed earlier (one left running by WithOutlive, or by
// tether kube deploy). For kube targets only.
func WithDeploy(spec Spec) tether.Option { return opt("WithDeploy", setting{spec: &spec}) }

// WithKubeconfig reads the cluster's address and credentials from the
// kubeconfig file at path instead of $KUBECONFIG or ~/.kube/config. Inside
// a pod the service account is used unless this option is given. For kube
// targets only.
func WithKubeconfig(path string) tether.Option {
	return opt("WithKubeconfig", setting{kubeconfig: path})
}

// WithClient uses c to talk to the API server instead of a client made
// from a kubeconfig or the pod's service account. For kube targets only.
func WithClient(c kubernetes.Interface) tether.Option { return opt("WithClient", setting{client: c}) }

// WithTLSFiles secures the connections to the plugin's pods with mutual
// TLS: certFile and keyFile are the host's client certificate and its key
// (PEM), caFile the CA certificates that signed the pods' server
// certificate. For kube targets only.
func WithTLSFiles(certFile, keyFile, caFile string) tether.Option {
	return opt("WithTLSFiles", setting{tlsFiles: &[3]string{certFile, keyFile, caFile}})
}

// WithTLSConfig secures the connections to the plugin's pods with conf
// (cloned; MinVersion is raised to TLS 1.2). For kube targets only.
func WithTLSConfig(conf *tls.Config) tether.Option {
	return opt("WithTLSConfig", setting{tlsConfig: conf})
}

// WithServerName sets the name the pods' server certificate must carry;
// the default is the Service's DNS name, NAME.NAMESPACE.svc. For kube
// targets only.
func WithServerName(name string) tether.Option {
	return opt("WithServerName", setting{serverName: name})
}

// WithInsecure connects to the pods in plaintext and deploys a spec without
// a TLS Secret: anyone in the cluster network can call the plugin and read
// the calls. For kube targets only.
func WithInsecure() tether.Option { return opt("WithInsecure", setting{insecure: true}) }

// WithOutlive leaves the Deployment and Service running when the client is
// closed or killed; a later Open of the same target attaches to them. For
// kube targets only.
func WithOutlive() tether.Option { return opt("WithOutlive", setting{outlive: true}) }

// WithPinnedImages refuses to deploy an image not pinned by digest
// (name@sha256:...), as tether.WithChecksum pins a local binary. For kube
// targets only.
func WithPinnedImages() tether.Option { return opt("WithPinnedImages", setting{pinned: true}) }

// WithReadyTimeout bounds the wait for every replica to be ready; the
// default is the load's start timeout. For kube targets only.
func WithReadyTimeout(d time.Duration) tether.Option {
	return opt("WithReadyTimeout", setting{timeout: d})
}

// config is the settings of one load, merged.
type config struct {
	setting
	hasTLS bool
}

func configFrom(settings []any) config {
	var c config
	for _, v := range settings {
		s, ok := v.(setting)
		if !ok {
			continue
		}
		switch {
		case s.spec != nil:
			c.spec = s.spec
		case s.kubeconfig != "":
			c.kubeconfig = s.kubeconfig
		case s.client != nil:
			c.client = s.client
		case s.tlsFiles != nil:
			c.tlsFiles, c.hasTLS = s.tlsFiles, true
		case s.tlsConfig != nil:
			c.tlsConfig, c.hasTLS = s.tlsConfig, true
		case s.serverName != "":
			c.serverName = s.serverName
		case s.insecure:
			c.insecure = true
		case s.outlive:
			c.outlive = true
		case s.pinned:
			c.pinned = true
		case s.timeout > 0:
			c.timeout = s.timeout
		}
	}
	return c
}
