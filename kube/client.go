package kube

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
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
