package nodeagent

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestRunRejectsBadOptions(t *testing.T) {
	for _, o := range []Options{
		{WorkDir: "/tmp", Images: map[string]string{"a": "b"}},
		{NodeName: "n", Images: map[string]string{"a": "b"}},
		{NodeName: "n", WorkDir: "/tmp"},
		{NodeName: "n", WorkDir: "/tmp", Images: map[string]string{"a": "b"}, PodIPs: netip.MustParsePrefix("169.254.0.0/24")},
		{NodeName: "n", WorkDir: "/tmp", Images: map[string]string{"a": "b"}, PodIPs: netip.MustParsePrefix("::1/120")},
	} {
		err := run(context.Background(), fake.NewClientset(), "", o)
		if !errors.Is(err, ErrOptions) {
			t.Errorf("Run(%+v) = %v, want ErrOptions", o, err)
		}
	}
	if err := Run(context.Background(), nil, Options{}); !errors.Is(err, ErrOptions) {
		t.Errorf("Run(nil config) = %v, want ErrOptions", err)
	}
}

func TestNodeRegisteredWithLease(t *testing.T) {
	// As the API server's TaintNodesByCondition admission does for a new Node.
	tainted := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-" + strings.ToLower(t.Name())},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule},
			{Key: "keep", Effect: corev1.TaintEffectNoSchedule}}}}
	e := startAgent(t, tainted)
	ctx := context.Background()
	deadline := time.After(10 * time.Second)
	for {
		n, err := e.client.CoreV1().Nodes().Get(ctx, e.node, metav1.GetOptions{})
		l, lerr := e.client.CoordinationV1().Leases("kube-node-lease").Get(ctx, e.node, metav1.GetOptions{})
		if err == nil && lerr == nil {
			ready := false
			for _, c := range n.Status.Conditions {
				ready = ready || c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue
			}
			if !ready {
				t.Errorf("node conditions %+v lack Ready=True", n.Status.Conditions)
			}
			if n.Status.Allocatable.Pods().Value() != 253 || n.Status.Capacity.Cpu().IsZero() {
				t.Errorf("node capacity %v", n.Status.Capacity)
			}
			if len(n.Spec.Taints) != 1 || n.Spec.Taints[0].Key != "keep" {
				t.Errorf("taints %v: want only the not-ready taint removed", n.Spec.Taints)
			}
			if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != e.node || l.Spec.RenewTime == nil {
				t.Errorf("lease spec %+v", l.Spec)
			}
			return
		}
		select {
		case <-deadline:
			t.Fatalf("node %v, lease %v", err, lerr)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestEnvArgsAndSecretVolume(t *testing.T) {
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tls", Namespace: "ns"},
		Data: map[string][]byte{"tls.crt": []byte("CERT"), "token": []byte("s3cret")}}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "ns"}, Data: map[string]string{"level": "debug"}}
	e := startAgent(t, sec, cm)
	e.createPod(t, "envpod", "print", func(p *corev1.Pod) {
		p.Spec.RestartPolicy = corev1.RestartPolicyNever
		p.Spec.Volumes = []corev1.Volume{{Name: "certs", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tls"}}}}
		c := &p.Spec.Containers[0]
		c.Command = []string{"/plugin", "serve"}
		c.Args = []string{"--file=/etc/tls/tls.crt", "--addr=$(LISTEN)", "$$(LISTEN)"}
		c.VolumeMounts = []corev1.VolumeMount{{Name: "certs", MountPath: "/etc/tls"}}
		sel := func(f string) *corev1.EnvVarSource {
			return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: f}}
		}
		c.Env = append(c.Env,
			corev1.EnvVar{Name: "POD_NAME", ValueFrom: sel("metadata.name")},
			corev1.EnvVar{Name: "POD_NS", ValueFrom: sel("metadata.namespace")},
			corev1.EnvVar{Name: "NODE", ValueFrom: sel("spec.nodeName")},
			corev1.EnvVar{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "tls"}, Key: "token"}}},
			corev1.EnvVar{Name: "LEVEL", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "level"}}},
			corev1.EnvVar{Name: "CERT_PATH", Value: "/etc/tls/tls.crt"},
		)
	})
	p := e.waitPod(t, "envpod", 20*time.Second, "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	ip := p.Status.PodIP
	if a, err := netip.ParseAddr(ip); err != nil || !(defaultPodIPs.Contains(a) || fallbackPodIPs.Contains(a)) || a.As4()[3] < 2 {
		t.Fatalf("podIP %q is not a pod address", ip)
	}
	log := e.log("envpod")
	root := e.workDir + "/pods/ns/envpod/root"
	for _, want := range []string{
		"arg serve",
		"arg --file=" + root + "/etc/tls/tls.crt",
		`file "CERT" <nil> -rw-------`,
		"arg --addr=" + ip + ":7000",
		"arg $(LISTEN)",
		"env POD_NAME=envpod", "env POD_NS=ns", "env NODE=" + e.node, "env TOKEN=s3cret", "env LEVEL=debug",
		"env POD_IP=" + ip, "env LISTEN=" + ip + ":7000", "env CERT_PATH=" + root + "/etc/tls/tls.crt",
		"env KUBERNETES_SERVICE_HOST=127.0.0.1", "env KUBERNETES_SERVICE_PORT=6443",
	} {
		if !slices.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, strings.Join(log, "\n"))
		}
	}
	cs := p.Status.ContainerStatuses[0]
	if cs.State.Terminated == nil || cs.State.Terminated.Reason != "Completed" || cs.RestartCount != 0 {
		t.Errorf("container status %+v", cs)
	}
}

func TestMissingSecretIsConfigError(t *testing.T) {
	e := startAgent(t)
	e.createPod(t, "nosecret", "print", func(p *corev1.Pod) {
		p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Key: "k"}}})
	})
	p := e.waitPod(t, "nosecret", 10*time.Second, "waiting CreateContainerConfigError", func(p *corev1.Pod) bool {
		w := waiting(p)
		return w != nil && w.Reason == "CreateContainerConfigError"
	})
	if msg := waiting(p).Message; !strings.Contains(msg, "gone") || !strings.Contains(msg, "env X") {
		t.Errorf("message %q does not name the secret and the variable", msg)
	}
}

func TestUnknownImage(t *testing.T) {
	e := startAgent(t)
	e.createPod(t, "noimage", "print", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "registry.example/nothing:v9" })
	seen := map[string]bool{}
	p := e.waitPod(t, "noimage", 10*time.Second, "ErrImagePull then ImagePullBackOff", func(p *corev1.Pod) bool {
		if w := waiting(p); w != nil {
			seen[w.Reason] = true
		}
		return seen["ErrImagePull"] && seen["ImagePullBackOff"]
	})
	if msg := waiting(p).Message; !strings.Contains(msg, `"registry.example/nothing:v9"`) {
		t.Errorf("message %q does not name the image", msg)
	}
	if p.Status.Phase != corev1.PodPending {
		t.Errorf("phase %s, want Pending", p.Status.Phase)
	}
}

func waiting(p *corev1.Pod) *corev1.ContainerStateWaiting {
	if len(p.Status.ContainerStatuses) == 0 {
		return nil
	}
	return p.Status.ContainerStatuses[0].State.Waiting
}

func TestImagePathStripsTagAndDigest(t *testing.T) {
	a := &agent{opts: Options{Images: map[string]string{"greeter": "/bin/g", "other:v2": "/bin/o2"}}}
	for img, want := range map[string]string{
		"greeter": "/bin/g", "greeter:v1": "/bin/g", "greeter@sha256:abcd": "/bin/g",
		"greeter:v1@sha256:abcd": "/bin/g", "other:v2@sha256:ab": "/bin/o2", "other:v3": "",
		"localhost:5000/greeter": "",
	} {
		if got, _ := a.imagePath(img); got != want {
			t.Errorf("imagePath(%q) = %q, want %q", img, got, want)
		}
	}
}

func TestExpand(t *testing.T) {
	vals := map[string]string{"A": "x", "IP": "127.0.0.3"}
	for in, want := range map[string]string{
		"$(IP):80": "127.0.0.3:80", "$$(IP)": "$(IP)", "$(NOPE)": "$(NOPE)", "a$b": "a$b",
		"$(A)$(A)": "xx", "$(A": "$(A", "$": "$", "$$$(A)": "$x",
	} {
		if got := expand(in, vals); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}
