package kube

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/tetherplug/tether"
	"github.com/tetherplug/tether/internal/certs"
	"github.com/tetherplug/tether/internal/pb/echov1"
	"github.com/tetherplug/tether/internal/plugintest"
	"github.com/tetherplug/tether/internal/plugintest/inproc"
	"github.com/tetherplug/tether/network"
)

// podPKI is a CA, the pods' certificate for the Service's DNS name
// greeter.plugins.svc, and the host's client certificate as files.
type podPKI struct {
	pool              *x509.CertPool
	server, client    tls.Certificate
	certFile, keyFile string
	caFile            string
}

func newPodPKI(t *testing.T) *podPKI {
	t.Helper()
	ca, err := certs.NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.IssueServer("greeter", []string{ServerName("greeter", testNS)}, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := ca.IssueClient("host", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir, p := t.TempDir(), &podPKI{pool: x509.NewCertPool()}
	p.pool.AddCert(ca.Cert)
	p.certFile, p.keyFile, p.caFile = filepath.Join(dir, "host.crt"), filepath.Join(dir, "host.key"), filepath.Join(dir, "ca.crt")
	if err := cli.WriteFiles(p.certFile, p.keyFile, false); err != nil {
		t.Fatal(err)
	}
	if err := certs.WriteFile(p.caFile, ca.CertPEM(), 0o600, false); err != nil {
		t.Fatal(err)
	}
	p.server, p.client = tlsCert(t, srv), tlsCert(t, cli)
	return p
}

func tlsCert(t *testing.T, p *certs.Pair) tls.Certificate {
	t.Helper()
	key, err := p.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.X509KeyPair(p.CertPEM(), key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// clientTLS is the host's side of mutual TLS, without a server name.
func (p *podPKI) clientTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.client}, RootCAs: p.pool}
}

// tlsPod serves the echo plugin on 127.0.0.1 with mutual TLS, as a pod
// would, until the test ends; it returns the port.
func tlsPod(t *testing.T, p *podPKI) int32 {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conf := &tls.Config{Certificates: []tls.Certificate{p.server}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: p.pool, MinVersion: tls.VersionTLS12}
	inproc.ServeEcho(t, lis, plugintest.EchoServer{}, grpc.Creds(credentials.NewTLS(conf)))
	return int32(lis.Addr().(*net.TCPAddr).Port)
}

// deployed is a cluster where the greeter was deployed earlier with a TLS
// Secret: its Deployment is ready, with one pod at 127.0.0.1:port.
func deployed(t *testing.T, port int32) *fake.Clientset {
	t.Helper()
	c := fake.NewClientset()
	spec := goodSpec()
	spec.Port, spec.Replicas = port, new(int32(1))
	d, svc := spec.objects(testNS, false)
	ctx := context.Background()
	if _, err := c.AppsV1().Deployments(testNS).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().Services(testNS).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	markReady(t, c, "greeter")
	s := slice("greeter-1", "greeter", port, map[string]bool{"127.0.0.1": true})
	if _, err := c.DiscoveryV1().EndpointSlices(testNS).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "greeter-1", Namespace: testNS, Labels: d.Spec.Template.Labels},
		Spec: d.Spec.Template.Spec,
		Status: corev1.PodStatus{PodIP: "127.0.0.1",
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
	if _, err := c.CoreV1().Pods(testNS).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return c
}

// callEcho makes one echo call through c (a tagged echo answers
// "TAG:hi").
func callEcho(t *testing.T, c *tether.Client) {
	t.Helper()
	echo, err := tether.Dispense(c, "echo", echov1.NewEchoClient)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if m, err := echo.Unary(ctx, &echov1.Message{Text: "hi"}); err != nil || !strings.HasSuffix(m.GetText(), "hi") {
		t.Fatalf("echo: %q, %v", m.GetText(), err)
	}
}

// The host reaches pods over mutual TLS with its files, checking the
// pods' certificate against the Service's DNS name by default.
func TestMutualTLSToPods(t *testing.T) {
	p := newPodPKI(t)
	c := deployed(t, tlsPod(t, p))
	client, err := tetherOpen("kube://plugins/greeter", WithClient(c), WithTLSFiles(p.certFile, p.keyFile, p.caFile),
		tether.WithInterface("echo", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	callEcho(t, client)
}

// WithServerName is the name the pods' certificate is checked against,
// even when the host's TLS configuration names another.
func TestServerNameOverridesConfig(t *testing.T) {
	p := newPodPKI(t)
	c := deployed(t, tlsPod(t, p))
	conf := p.clientTLS()
	conf.ServerName = "elsewhere.example"
	client, err := tetherOpen("kube://plugins/greeter", WithClient(c), WithTLSConfig(conf),
		WithServerName(ServerName("greeter", testNS)), tether.WithInterface("echo", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	callEcho(t, client)
	if conf.ServerName != "elsewhere.example" {
		t.Errorf("the host's configuration was changed: ServerName %q", conf.ServerName)
	}
}

// List describes a plugin's ready pod over mutual TLS, checking the
// Service's DNS name.
func TestListDescribesOverTLS(t *testing.T) {
	p := newPodPKI(t)
	c := deployed(t, tlsPod(t, p))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	plugins, err := List(ctx, c, testNS, DescribeTLS(p.clientTLS()), DescribeTimeout(5*time.Second),
		DescribeWith(tether.WithLogger(quietLogger())))
	if err != nil {
		t.Fatal(err)
	}
	if len(plugins) != 1 || plugins[0].DescribeError != "" || len(plugins[0].Interfaces["echo"]) != 1 {
		t.Fatalf("List = %+v, want the greeter described, serving echo", plugins)
	}
	// A certificate for another name is refused, and the error says so.
	conf := p.clientTLS()
	conf.ServerName = "elsewhere.example"
	plugins, err = List(ctx, c, testNS, DescribeTLS(conf), DescribeTimeout(5*time.Second),
		DescribeWith(tether.WithLogger(quietLogger())))
	if err != nil {
		t.Fatal(err)
	}
	if len(plugins) != 1 || !strings.Contains(plugins[0].DescribeError, "elsewhere.example") {
		t.Fatalf("List = %+v, want a describe error naming elsewhere.example", plugins)
	}
}

// Open refuses kube options for network targets and network options for
// kube targets, naming the option: both share their TLS settings' type.
func TestOtherRuntimesOptionsRefused(t *testing.T) {
	for _, tc := range []struct {
		target string
		opt    tether.Option
		want   string
	}{
		{"tcp://127.0.0.1:1", WithTLSFiles("c", "k", "a"), "option kube.WithTLSFiles applies to kube targets only"},
		{"tcp://127.0.0.1:1", WithInsecure(), "option kube.WithInsecure applies to kube targets only"},
		{"unix:///tmp/x.sock", WithOutliveHost(), "option kube.WithOutliveHost applies to kube targets only"},
		{"kube://plugins/greeter", network.WithInsecure(), "option network.WithInsecure applies to tcp, unix, dns targets only"},
		{"kube://plugins/greeter", network.WithServerName("x"), "option network.WithServerName applies"},
	} {
		_, err := tetherOpen(tc.target, tc.opt)
		if !isBadTarget(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want ErrBadTarget saying %q, got %v", tc.target, tc.want, err)
		}
	}
}

// A kube target without TLS options is refused with the message
// docs/kubernetes.md quotes; WithInsecure connects in plaintext and says so
// in the log.
func TestPlaintextOnlyWhenAsked(t *testing.T) {
	c := deployed(t, echoPlugin(t, "127.0.0.1", 0))
	_, err := tetherOpen("kube://plugins/greeter", WithClient(c))
	want := "a kube target requires TLS: give kube.WithTLSFiles(cert, key, ca) or kube.WithTLSConfig, " +
		"or kube.WithInsecure() to connect in plaintext"
	if !isBadTarget(err) || !strings.Contains(err.Error(), want) {
		t.Fatalf("want ErrBadTarget saying %q, got %v", want, err)
	}
	var logged plugintest.SyncBuffer
	client, err := tetherOpen("kube://plugins/greeter", WithClient(c), WithInsecure(), tether.WithInterface("echo", 1),
		tether.WithLogger(slog.New(slog.NewTextHandler(&logged, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	callEcho(t, client)
	if want := "connecting to the plugin in plaintext (kube.WithInsecure)"; !strings.Contains(logged.String(), want) {
		t.Errorf("logged %q, want a warning saying %q", logged.String(), want)
	}
}
