package kube

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// NewClient makes a client of the API server: from the kubeconfig file at
// path if given; otherwise, inside a pod, from its service account
// (rest.InClusterConfig); otherwise from $KUBECONFIG or ~/.kube/config.
func NewClient(path string) (kubernetes.Interface, error) { return NewContextClient(path, "") }

// NewContextClient is NewClient with the kubeconfig's context named
// context instead of its current-context ("": the current one). Given a
// context, the kubeconfig is read even inside a pod.
func NewContextClient(path, context string) (kubernetes.Interface, error) {
	conf, err := ContextRESTConfig(path, context)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(conf)
}

// RESTConfig is the client configuration NewClient uses.
func RESTConfig(path string) (*rest.Config, error) { return ContextRESTConfig(path, "") }

// ContextRESTConfig is the client configuration NewContextClient uses.
func ContextRESTConfig(path, context string) (*rest.Config, error) {
	if inClusterDefault(path, context) {
		conf, err := inCluster()
		if err != nil {
			return nil, fmt.Errorf("in-cluster configuration: %w", err)
		}
		return conf, nil
	}
	conf, err := kubeconfig(path, context).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return conf, nil
}

// DefaultNamespace is the namespace kubectl would use with the same
// kubeconfig and context: the context's namespace, or "default" when it
// names none or there is no kubeconfig at all; inside a pod (no path, no
// context), the pod's own namespace.
func DefaultNamespace(path, context string) (string, error) {
	if inClusterDefault(path, context) {
		return podNamespace(), nil
	}
	ns, _, err := kubeconfig(path, context).Namespace()
	if clientcmd.IsEmptyConfig(err) {
		return "default", nil // no kubeconfig at all: making the client will say so
	}
	if err != nil {
		return "", fmt.Errorf("kubeconfig: %w", err)
	}
	return ns, nil
}

// inClusterDefault reports whether the client configuration is the pod's
// service account: inside a pod, when no kubeconfig or context is named.
func inClusterDefault(path, context string) bool {
	return path == "" && context == "" && os.Getenv("KUBERNETES_SERVICE_HOST") != ""
}

// kubeconfig loads the kubeconfig as kubectl does: the file at path, else
// $KUBECONFIG, else ~/.kube/config; the context named, else its
// current-context.
func kubeconfig(path, context string) clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules() // $KUBECONFIG, then ~/.kube/config
	rules.ExplicitPath = path
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context})
}

// podNamespace is the namespace of the pod this process runs in, from its
// service account's namespace file ("default" when it cannot be read).
func podNamespace() string {
	dir := os.Getenv(EnvServiceAccountDir)
	if dir == "" {
		dir = "/var/run/secrets/kubernetes.io/serviceaccount"
	}
	if b, err := os.ReadFile(filepath.Join(dir, "namespace")); err == nil && strings.TrimSpace(string(b)) != "" {
		return strings.TrimSpace(string(b))
	}
	return "default"
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
