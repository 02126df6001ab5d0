package kubeenv

import (
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

var regexpDNSLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func TestMain(m *testing.M) { Main(m, Options{}) }

// eventually polls cond every 100ms until it returns true, failing the
// test with what's last reported once timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		ok, last := cond()
		if ok {
			return
		}
		select {
		case <-deadline:
			t.Fatalf("%s: not within %v (last: %s)", what, timeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestControlPlaneComesUp(t *testing.T) {
	t.Parallel()
	env := Start(t)
	ctx := ctxT(t)
	v, err := env.Client().Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("server version: %v", err)
	}
	if v.GitVersion != Version {
		t.Errorf("server version %q, want %q", v.GitVersion, Version)
	}
	body, err := env.Client().Discovery().RESTClient().Get().AbsPath("/healthz").DoRaw(ctx)
	if err != nil || string(body) != "ok" {
		t.Fatalf("/healthz: %q, %v", body, err)
	}
	// The kubeconfig file works on its own, as kubectl-style clients use it.
	cfg, err := clientcmd.BuildConfigFromFlags("", env.Kubeconfig())
	if err != nil {
		t.Fatalf("loading %s: %v", env.Kubeconfig(), err)
	}
	c := kubernetes.NewForConfigOrDie(cfg)
	if _, err := c.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("default service account through the kubeconfig: %v", err)
	}
	// The in-cluster CA is published for pods.
	ns := env.Namespace(t)
	eventually(t, 30*time.Second, "kube-root-ca.crt in "+ns, func() (bool, string) {
		cm, err := env.Client().CoreV1().ConfigMaps(ns).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return cm.Data["ca.crt"] == string(env.CAPEM()), "ca.crt differs from the environment's CA"
	})
}

func TestDeploymentMakesReplicaSetAndPods(t *testing.T) {
	t.Parallel()
	env := Start(t)
	ns := env.Namespace(t)
	ctx := ctxT(t)
	c := env.Client()
	labels := map[string]string{"app": "web"}
	two := int32(2)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &two,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "web:1"}}},
			},
		},
	}
	d, err := c.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the deployment: %v", err)
	}
	var rsName string
	eventually(t, 30*time.Second, "a ReplicaSet owned by the deployment", func() (bool, string) {
		rss, err := c.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, rs := range rss.Items {
			if owner := metav1.GetControllerOf(&rs); owner != nil && owner.UID == d.UID && *rs.Spec.Replicas == 2 {
				rsName = rs.Name
				return true, ""
			}
		}
		return false, "none"
	})
	eventually(t, 30*time.Second, "2 pods owned by the ReplicaSet", func() (bool, string) {
		pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		n := 0
		for _, p := range pods.Items {
			if owner := metav1.GetControllerOf(&p); owner != nil && owner.Name == rsName {
				n++
			}
		}
		return n == 2, "pods: " + itoa(n)
	})
	// The garbage collector removes what the deployment owned.
	if err := c.AppsV1().Deployments(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting the deployment: %v", err)
	}
	eventually(t, 60*time.Second, "the ReplicaSet and pods collected", func() (bool, string) {
		rss, err1 := c.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
		pods, err2 := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err1 != nil || err2 != nil {
			return false, "list failed"
		}
		return len(rss.Items) == 0 && len(pods.Items) == 0, "replicasets " + itoa(len(rss.Items)) + ", pods " + itoa(len(pods.Items))
	})
}

func TestServiceAccountTokens(t *testing.T) {
	t.Parallel()
	env := Start(t)
	ns := env.Namespace(t)
	ctx := ctxT(t)
	c := env.Client()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot"}}
	if _, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the service account: %v", err)
	}
	// A token Secret is filled in by the serviceaccount-token controller.
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "robot-token", Annotations: map[string]string{corev1.ServiceAccountNameKey: "robot"}},
		Type:       corev1.SecretTypeServiceAccountToken,
	}
	if _, err := c.CoreV1().Secrets(ns).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the token secret: %v", err)
	}
	var secretToken string
	eventually(t, 30*time.Second, "the token secret filled in", func() (bool, string) {
		s, err := c.CoreV1().Secrets(ns).Get(ctx, "robot-token", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		secretToken = string(s.Data[corev1.ServiceAccountTokenKey])
		return secretToken != "" && string(s.Data[corev1.ServiceAccountRootCAKey]) == string(env.CAPEM()), "token or ca.crt missing"
	})
	// A TokenRequest works too; both authenticate as the service account.
	tr, err := c.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "robot", &authnv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest: %v", err)
	}
	want := "system:serviceaccount:" + ns + ":robot"
	for what, tok := range map[string]string{"secret token": secretToken, "requested token": tr.Status.Token} {
		rev, err := tokenClient(env, tok).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("%s: self subject review: %v", what, err)
		}
		if got := rev.Status.UserInfo.Username; got != want {
			t.Errorf("%s authenticates as %q, want %q", what, got, want)
		}
	}
}

func TestRBACDeniesServiceAccountWithoutRole(t *testing.T) {
	t.Parallel()
	env := Start(t)
	ns := env.Namespace(t)
	ctx := ctxT(t)
	c := env.Client()
	if _, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "norole"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := c.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "norole", &authnv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest: %v", err)
	}
	sac := tokenClient(env, tr.Status.Token)
	_, err = sac.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("creating a deployment without a Role: %v, want Forbidden", err)
	}
	// With a Role granting list on pods, exactly that becomes allowed.
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list"}}}}
	if _, err := c.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "pod-reader"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "norole", Namespace: ns}}}
	if _, err := c.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "listing pods with the Role", func() (bool, string) {
		_, err := sac.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		return err == nil, errString(err)
	})
	_, err = sac.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("creating a deployment with only pod-reader: %v, want Forbidden", err)
	}
}

func TestNamespaceIsDeletedAfterItsTest(t *testing.T) {
	t.Parallel()
	env := Start(t)
	var ns string
	t.Run("inner", func(t *testing.T) { ns = env.Namespace(t) })
	ctx := ctxT(t)
	got, err := env.Client().CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err == nil && got.DeletionTimestamp == nil {
		t.Fatalf("namespace %s is still there, not being deleted, after its test", ns)
	}
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("getting namespace %s: %v", ns, err)
	}
}

func tokenClient(env *Env, token string) *kubernetes.Clientset {
	cfg := &rest.Config{Host: env.Config().Host, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: env.CAPEM()}}
	return kubernetes.NewForConfigOrDie(cfg)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func itoa(n int) string { return strconv.Itoa(n) }
