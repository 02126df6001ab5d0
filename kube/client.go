package kube

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tetherplug/tether"
)

// NewClient makes a client of the API server: from the kubeconfig file at
// path if given; otherwise, inside a pod, from its service account
// (rest.InClusterConfig); otherwise from $KUBECONFIG or ~/.kube/config.
func NewClient(path string) (kubernetes.Interface, error) {
	conf, err := RESTConfig(path)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(conf)
}

// RESTConfig is the client configuration NewClient uses.
func RESTConfig(path string) (*rest.Config, error) {
	if path == "" && os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		conf, err := inCluster()
		if err != nil {
			return nil, fmt.Errorf("in-cluster configuration: %w", err)
		}
		return conf, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules() // $KUBECONFIG, then ~/.kube/config
	if path != "" {
		rules.ExplicitPath = path
	}
	conf, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return conf, nil
}

// EnvServiceAccountDir names the directory of the pod's service account
// credentials (token, ca.crt) when they are not at the standard
// /var/run/secrets/kubernetes.io/serviceaccount: a pod whose volumes are
// mounted elsewhere, as in tether's test environment, whose pods are local
// processes.
const EnvServiceAccountDir = "TETHER_KUBE_SERVICEACCOUNT_DIR"

// inCluster is rest.InClusterConfig, reading the credentials from
// $TETHER_KUBE_SERVICEACCOUNT_DIR when it is set.
func inCluster() (*rest.Config, error) {
	dir := os.Getenv(EnvServiceAccountDir)
	if dir == "" {
		return rest.InClusterConfig()
	}
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, rest.ErrNotInCluster
	}
	token := filepath.Join(dir, "token")
	if _, err := os.Stat(token); err != nil {
		return nil, err
	}
	return &rest.Config{Host: "https://" + net.JoinHostPort(host, port), BearerTokenFile: token,
		TLSClientConfig: rest.TLSClientConfig{CAFile: filepath.Join(dir, "ca.crt")}}, nil
}

// loadTLSFiles reads the host's client certificate, its key and the pods'
// CA.
func loadTLSFiles(name string, f [3]string) (*tls.Config, error) {
	hostErr := func(detail string, err error) error {
		return &tether.PluginError{Plugin: name, Kind: tether.ErrHost, Detail: detail, Err: err}
	}
	cert, err := tls.LoadX509KeyPair(f[0], f[1])
	if err != nil {
		return nil, hostErr(fmt.Sprintf("could not load the client certificate %s and key %s", f[0], f[1]), err)
	}
	pem, err := os.ReadFile(f[2])
	if err != nil {
		return nil, hostErr("could not read the CA file", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, hostErr(fmt.Sprintf("the CA file %s holds no PEM certificate", f[2]), nil)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
