package kube

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Many hosts, one plugin: every host that opens a plugin with WithDeploy
// (unless WithOutliveHost) holds a coordination.k8s.io/v1 Lease of its own,
// renews it every LeaseRenewPeriod, and is listed by that Lease in the
// ownerReferences of the plugin's Deployment, so that the garbage
// collector removes the plugin (and the Service it owns) when the last
// Lease is gone. See docs/kubernetes.md, "Many hosts, one plugin".
const (
	// LeaseDuration is how long a host's claim on a plugin lasts when its
	// Lease is not renewed (the host was killed or cut off).
	LeaseDuration = 30 * time.Second
	// LeaseRenewPeriod is how often a host renews its Leases, and deletes
	// the expired Leases of tether in the namespace.
	LeaseRenewPeriod = 10 * time.Second
	// AnnotationOutlive marks a plugin's Deployment that a WithOutliveHost
	// host made permanent: it has no Lease owner, and hosts attaching to
	// it add none.
	AnnotationOutlive = "tether.dev/outlive"
	// EnvPodName, EnvPodUID and EnvPodNamespace, set from the downward API
	// (metadata.name, metadata.uid, metadata.namespace), say which pod the
	// host runs in, so that its Leases are owned by its pod.
	EnvPodName      = "POD_NAME"
	EnvPodUID       = "POD_UID"
	EnvPodNamespace = "POD_NAMESPACE"
)

// leaseKind is the apiVersion and kind of a Lease as an owner.
var leaseAPIVersion, leaseKind = coordinationv1.SchemeGroupVersion.String(), "Lease"

// claim is one host's Lease on one plugin, renewed in the background from
// its creation until release.
type claim struct {
	c          kubernetes.Interface
	ns, plugin string
	log        *slog.Logger
	stop       context.CancelFunc
	done       chan struct{}

	mu      sync.Mutex
	lease   *coordinationv1.Lease
	claimed bool // the Deployment lists the Lease as an owner
}

// newClaim creates the host's Lease on plugin and starts renewing it.
func newClaim(ctx context.Context, c kubernetes.Interface, ns, plugin string, log *slog.Logger) (*claim, error) {
	cl := &claim{c: c, ns: ns, plugin: plugin, log: log, done: make(chan struct{})}
	l, err := cl.create(ctx)
	if err != nil {
		return nil, err
	}
	cl.lease = l
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	cl.stop = cancel
	go cl.renew(rctx)
	return cl, nil
}

// create creates a new Lease of the host on the plugin, owned by the
// host's pod when it runs in one in the namespace.
func (cl *claim) create(ctx context.Context) (*coordinationv1.Lease, error) {
	host, _ := os.Hostname()
	now := metav1.NewMicroTime(time.Now())
	secs := int32(LeaseDuration / time.Second)
	holder := fmt.Sprintf("%s/%d", host, os.Getpid())
	l := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: cl.plugin + "-" + strings.ToLower(rand.Text()[:10]), Labels: managedLabels(cl.plugin)},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &secs,
			AcquireTime: &now, RenewTime: &now},
	}
	if pod := hostPod(ctx, cl.c, cl.ns); pod != nil {
		l.OwnerReferences = []metav1.OwnerReference{*pod}
	}
	var created *coordinationv1.Lease
	err := withRetry(ctx, func() (err error) {
		created, err = cl.c.CoordinationV1().Leases(cl.ns).Create(ctx, l, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return nil, apiFailure(cl.plugin, "create", "leases.coordination.k8s.io", l.Name, cl.ns, err)
	}
	return created, nil
}

// owner is the claim's Lease as an owner reference.
func (cl *claim) owner() metav1.OwnerReference {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return leaseOwner(cl.lease)
}

func leaseOwner(l *coordinationv1.Lease) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: leaseAPIVersion, Kind: leaseKind, Name: l.Name, UID: l.UID}
}

// hostPod is the host's pod as an owner reference, when the host runs in a
// pod of namespace ns: from $POD_NAME and $POD_UID, else, in a cluster, the
// pod named as the host. nil otherwise (owner references cross no
// namespace).
func hostPod(ctx context.Context, c kubernetes.Interface, ns string) *metav1.OwnerReference {
	name, uid := os.Getenv(EnvPodName), os.Getenv(EnvPodUID)
	if pns := os.Getenv(EnvPodNamespace); pns != "" && pns != ns {
		return nil
	}
	if name == "" || uid == "" {
		host, err := os.Hostname()
		if err != nil || os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
			return nil
		}
		pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + host})
		if err != nil {
			return nil
		}
		for _, p := range pods.Items {
			if p.Name == host {
				name, uid = p.Name, string(p.UID)
			}
		}
		if uid == "" {
			return nil
		}
	}
	return &metav1.OwnerReference{APIVersion: "v1", Kind: "Pod", Name: name, UID: types.UID(uid)}
}

// renew renews the Lease every LeaseRenewPeriod and deletes the expired
// Leases of the namespace, until ctx ends.
func (cl *claim) renew(ctx context.Context) {
	defer close(cl.done)
	t := time.NewTicker(LeaseRenewPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := cl.renewOnce(ctx); err != nil && ctx.Err() == nil {
			cl.log.Warn("could not renew the host's Lease on the plugin", "plugin", cl.plugin, "namespace", cl.ns, "error", err)
		}
		if _, err := sweepExpired(ctx, cl.c, cl.ns, time.Now()); err != nil && ctx.Err() == nil {
			cl.log.Debug("could not delete expired Leases", "namespace", cl.ns, "error", err)
		}
	}
}

// renewOnce moves the Lease's renewTime to now. A Lease deleted meanwhile
// (another host found it expired) is created anew, and listed again as an
// owner of the plugin if the host had claimed it and the plugin is left.
func (cl *claim) renewOnce(ctx context.Context) error {
	cl.mu.Lock()
	l := cl.lease.DeepCopy()
	claimed := cl.claimed
	cl.mu.Unlock()
	leases := cl.c.CoordinationV1().Leases(cl.ns)
	var updated *coordinationv1.Lease
	err := withRetry(ctx, func() (err error) {
		now := metav1.NewMicroTime(time.Now())
		l.Spec.RenewTime = &now
		if updated, err = leases.Update(ctx, l, metav1.UpdateOptions{}); apierrors.IsConflict(err) {
			// Changed by someone else (its owners): renew the current one.
			if cur, gerr := leases.Get(ctx, l.Name, metav1.GetOptions{}); gerr == nil {
				l = cur
			}
		}
		return err
	})
	if isNotFound(err) {
		cl.log.Warn("the host's Lease on the plugin was deleted (it expired); taking a new one", "plugin", cl.plugin, "namespace", cl.ns)
		if updated, err = cl.create(ctx); err != nil {
			return err
		}
		cl.mu.Lock()
		cl.lease = updated
		cl.mu.Unlock()
		if claimed {
			_, _, err = cl.join(ctx)
			return err
		}
		return nil
	}
	if err != nil {
		return apiFailure(cl.plugin, "update", "leases.coordination.k8s.io", l.Name, cl.ns, err)
	}
	cl.mu.Lock()
	cl.lease = updated
	cl.mu.Unlock()
	return nil
}

// stopRenewing stops the renewal and waits until it has stopped.
func (cl *claim) stopRenewing() {
	cl.stop()
	<-cl.done
}

// deleteLease deletes the claim's own Lease (already gone is no error).
func (cl *claim) deleteLease(ctx context.Context) error {
	cl.mu.Lock()
	l := cl.lease
	cl.mu.Unlock()
	err := withRetry(ctx, func() error {
		return cl.c.CoordinationV1().Leases(cl.ns).Delete(ctx, l.Name,
			metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &l.UID}})
	})
	if err != nil && !isNotFound(err) {
		return apiFailure(cl.plugin, "delete", "leases.coordination.k8s.io", l.Name, cl.ns, err)
	}
	return nil
}

// expired reports whether a Lease was last renewed more than its duration
// before now.
func expired(l *coordinationv1.Lease, now time.Time) bool {
	last := l.CreationTimestamp.Time
	switch {
	case l.Spec.RenewTime != nil:
		last = l.Spec.RenewTime.Time
	case l.Spec.AcquireTime != nil:
		last = l.Spec.AcquireTime.Time
	}
	d := LeaseDuration
	if l.Spec.LeaseDurationSeconds != nil {
		d = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
	}
	return now.After(last.Add(d))
}

// sweepExpired deletes tether's Leases in namespace ns that expired before
// now (their hosts were killed or cut off), so that the garbage collector
// removes the plugins no live host holds; it returns how many it deleted.
// A Lease renewed meanwhile is left (the delete's preconditions fail).
func sweepExpired(ctx context.Context, c kubernetes.Interface, ns string, now time.Time) (int, error) {
	leases, err := c.CoordinationV1().Leases(ns).List(ctx, metav1.ListOptions{LabelSelector: ManagedSelector("")})
	if err != nil {
		return 0, apiFailure(ns, "list", "leases.coordination.k8s.io", "", ns, err)
	}
	n := 0
	for i := range leases.Items {
		l := &leases.Items[i]
		if !expired(l, now) {
			continue
		}
		pre := &metav1.Preconditions{UID: &l.UID, ResourceVersion: &l.ResourceVersion}
		if err := c.CoordinationV1().Leases(ns).Delete(ctx, l.Name, metav1.DeleteOptions{Preconditions: pre}); err == nil {
			n++
		}
	}
	return n, nil
}

// liveLeases counts the unexpired Leases held on plugin.
func liveLeases(ctx context.Context, c kubernetes.Interface, ns, plugin string, now time.Time) (int, error) {
	var n int
	err := withRetry(ctx, func() error {
		leases, err := c.CoordinationV1().Leases(ns).List(ctx, metav1.ListOptions{LabelSelector: ManagedSelector(plugin)})
		if err != nil {
			return err
		}
		n = 0
		for i := range leases.Items {
			if !expired(&leases.Items[i], now) {
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, apiFailure(plugin, "list", "leases.coordination.k8s.io", "", ns, err)
	}
	return n, nil
}
