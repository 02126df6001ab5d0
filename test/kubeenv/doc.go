// Package kubeenv runs a real Kubernetes control plane on loopback for
// tests: etcd, kube-apiserver, kube-controller-manager and kube-scheduler,
// built from Go modules (k8s.io/kubernetes at Version) once into the user
// cache directory and started per test binary.
//
// A package's tests use it like this:
//
//	func TestMain(m *testing.M) { kubeenv.Main(m, kubeenv.Options{}) }
//
//	func TestDeploy(t *testing.T) {
//		t.Parallel()
//		env := kubeenv.Start(t)   // the test binary's one control plane
//		ns := env.Namespace(t)    // a fresh namespace, deleted at the end
//		env.Client().AppsV1().Deployments(ns).Create(...)
//	}
//
// The processes are in their own process groups with a parent-death
// signal, so they die with the test binary even when Main cannot stop
// them. There is no kubelet: pods are scheduled but stay Pending unless
// Options.Agent runs a node agent.
package kubeenv
