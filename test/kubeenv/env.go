package kubeenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Config returns a copy of the admin client configuration (a bearer token
// in group system:masters, the control plane's CA).
func (e *Env) Config() *rest.Config { return rest.CopyConfig(e.cfg) }

// Kubeconfig returns the path of a kubeconfig file for the admin user, for
// clients and tools that read one.
func (e *Env) Kubeconfig() string { return e.kubeconfig }

// Client returns a clientset with the admin configuration.
func (e *Env) Client() *kubernetes.Clientset { return e.client }

// CAPEM returns the PEM certificate of the CA the API server's serving
// certificate chains to (also published in each namespace's
// kube-root-ca.crt ConfigMap).
func (e *Env) CAPEM() []byte { return append([]byte(nil), e.secrets.caPEM...) }

// writeKubeconfig writes a kubeconfig for cfg into dir and returns its path.
func writeKubeconfig(dir string, cfg *rest.Config) (string, error) {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["kubeenv"] = &clientcmdapi.Cluster{
		Server:                   cfg.Host,
		CertificateAuthorityData: cfg.CAData,
	}
	kc.AuthInfos["kubeenv-admin"] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts["kubeenv"] = &clientcmdapi.Context{Cluster: "kubeenv", AuthInfo: "kubeenv-admin", Namespace: "default"}
	kc.CurrentContext = "kubeenv"
	path := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return "", fmt.Errorf("kubeenv: kubeconfig: %w", err)
	}
	return path, nil
}

// StartError reports that the control plane did not become ready: which
// step failed and the tail of every process's log.
type StartError struct {
	Step string
	Err  error
	Logs string
}

func (e *StartError) Error() string {
	return fmt.Sprintf("kubeenv: %s: %v\n%s", e.Step, e.Err, e.Logs)
}

func (e *StartError) Unwrap() error { return e.Err }

// pollInterval is how often readiness is checked while the control plane
// starts.
const pollInterval = 100 * time.Millisecond

// waitHTTP polls url until it answers 200, p exits, or ctx ends.
func waitHTTP(ctx context.Context, p *proc, url string, hdr http.Header) error {
	c := &http.Client{Timeout: 2 * time.Second}
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("%s: %s", url, resp.Status)
		} else {
			last = err
		}
		select {
		case <-p.done:
			return p.exitError()
		case <-ctx.Done():
			return &StartError{Step: "waiting for " + p.name, Err: errors.Join(ctx.Err(), last), Logs: tailFile(p.logPath, 30)}
		case <-time.After(pollInterval):
		}
	}
}

// waitAPI waits for the apiserver's /readyz with the admin token.
func (e *Env) waitAPI(ctx context.Context) error {
	p := e.procs[len(e.procs)-1]
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(e.secrets.caPEM)
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer c.CloseIdleConnections()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.cfg.Host+"/readyz", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+e.secrets.adminToken)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("/readyz: %s", resp.Status)
		} else {
			last = err
		}
		select {
		case <-p.done:
			return p.exitError()
		case <-ctx.Done():
			return &StartError{Step: "waiting for kube-apiserver", Err: errors.Join(ctx.Err(), last), Logs: e.Logs(30)}
		case <-time.After(pollInterval):
		}
	}
}

// waitServiceAccount waits for the "default" service account of namespace
// ns, which the serviceaccount controller makes; pods cannot be created in
// a namespace before it exists.
func (e *Env) waitServiceAccount(ctx context.Context, ns string) error {
	var last error
	for {
		_, err := e.client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			return nil
		}
		if !apierrors.IsNotFound(err) {
			last = err
		}
		if err := e.checkRunning(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return &StartError{Step: "waiting for service account " + ns + "/default",
				Err: errors.Join(ctx.Err(), last), Logs: e.Logs(30)}
		case <-time.After(pollInterval):
		}
	}
}

// checkRunning reports the first control-plane process that has exited.
func (e *Env) checkRunning() error {
	for _, p := range e.procs {
		if p.exited() {
			return p.exitError()
		}
	}
	return nil
}
