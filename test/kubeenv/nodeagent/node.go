package nodeagent

import (
	"context"
	"fmt"
	"runtime"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

// heartbeatPeriod is how often the Lease is renewed and the Node's conditions refreshed.
const heartbeatPeriod = 10 * time.Second

// leaseNamespace holds the node heartbeat Leases.
const leaseNamespace = "kube-node-lease"

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }

func metav1DeleteOptions(grace *int64, uid types.UID) metav1.DeleteOptions {
	return metav1.DeleteOptions{GracePeriodSeconds: grace, Preconditions: &metav1.Preconditions{UID: &uid}}
}

// nodeObject is the Node the agent registers.
func (a *agent) nodeObject() *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: a.opts.NodeName, Labels: map[string]string{
			"kubernetes.io/hostname": a.opts.NodeName,
			"kubernetes.io/os":       runtime.GOOS,
			"kubernetes.io/arch":     runtime.GOARCH,
			"tether.dev/nodeagent":   "true",
		}},
	}
}

// nodeStatus is the Node's status at time now: Ready, no pressure, declared capacity.
func (a *agent) nodeStatus(now metav1.Time) corev1.NodeStatus {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("16"),
		corev1.ResourceMemory: resource.MustParse("64Gi"),
		corev1.ResourcePods:   *resource.NewQuantity(int64(a.ips.size()), resource.DecimalSI),
	}
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg,
			LastHeartbeatTime: now, LastTransitionTime: now}
	}
	return corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: capacity,
		Phase:       corev1.NodeRunning,
		Conditions: []corev1.NodeCondition{
			cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "tether node agent is posting ready status"),
			cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "declared, not measured"),
			cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "declared, not measured"),
			cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "declared, not measured"),
		},
		// No Hostname address: the API server would dial it first for pods/log and the node's
		// name does not resolve.
		Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: a.kubeletPort}},
		NodeInfo: corev1.NodeSystemInfo{
			KubeletVersion:          "v1.36.3",
			OperatingSystem:         runtime.GOOS,
			Architecture:            runtime.GOARCH,
			ContainerRuntimeVersion: "tether-nodeagent://0",
		},
	}
}

// registerNode creates the Node (or takes over an existing one of that name) and posts its status.
func (a *agent) registerNode(ctx context.Context) error {
	nodes := a.client.CoreV1().Nodes()
	_, err := nodes.Create(ctx, a.nodeObject(), metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("nodeagent: register node %s: %w", a.opts.NodeName, err)
	}
	if err := a.postNodeStatus(ctx); err != nil {
		return fmt.Errorf("nodeagent: node %s status: %w", a.opts.NodeName, err)
	}
	if err := a.untaint(ctx); err != nil {
		return fmt.Errorf("nodeagent: node %s taints: %w", a.opts.NodeName, err)
	}
	if err := a.renewLease(ctx); err != nil {
		return fmt.Errorf("nodeagent: node %s lease: %w", a.opts.NodeName, err)
	}
	return nil
}

// untaint removes the not-ready and unreachable taints the API server puts on a new Node
// (admission TaintNodesByCondition): the node lifecycle controller that would remove them once
// the node is Ready is not part of the test control plane.
func (a *agent) untaint(ctx context.Context) error {
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		n, err := a.client.CoreV1().Nodes().Get(ctx, a.opts.NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		var keep []corev1.Taint
		for _, t := range n.Spec.Taints {
			if t.Key != corev1.TaintNodeNotReady && t.Key != corev1.TaintNodeUnreachable {
				keep = append(keep, t)
			}
		}
		if len(keep) == len(n.Spec.Taints) {
			return nil
		}
		n.Spec.Taints = keep
		_, err = a.client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		return err
	})
}

// postNodeStatus writes a fresh Ready status, keeping the transition times of unchanged conditions.
func (a *agent) postNodeStatus(ctx context.Context) error {
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		n, err := a.client.CoreV1().Nodes().Get(ctx, a.opts.NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		st := a.nodeStatus(metav1.Now())
		for i, c := range st.Conditions {
			for _, old := range n.Status.Conditions {
				if old.Type == c.Type && old.Status == c.Status {
					st.Conditions[i].LastTransitionTime = old.LastTransitionTime
				}
			}
		}
		n.Status = st
		_, err = a.client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	})
}

// renewLease creates or renews the node's Lease in kube-node-lease.
func (a *agent) renewLease(ctx context.Context) error {
	leases := a.client.CoordinationV1().Leases(leaseNamespace)
	now := metav1.NewMicroTime(time.Now())
	dur := int32(4 * heartbeatPeriod / time.Second)
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		l, err := leases.Get(ctx, a.opts.NodeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			l = &coordv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: a.opts.NodeName, Namespace: leaseNamespace}}
			if n, err := a.client.CoreV1().Nodes().Get(ctx, a.opts.NodeName, metav1.GetOptions{}); err == nil {
				l.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID}}
			}
			l.Spec = coordv1.LeaseSpec{HolderIdentity: &a.opts.NodeName, LeaseDurationSeconds: &dur, RenewTime: &now}
			_, err = leases.Create(ctx, l, metav1.CreateOptions{})
			return err
		}
		if err != nil {
			return err
		}
		l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds, l.Spec.RenewTime = &a.opts.NodeName, &dur, &now
		_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
		return err
	})
}

// heartbeat renews the Lease and the Node status every heartbeatPeriod until ctx ends.
func (a *agent) heartbeat(ctx context.Context) {
	t := time.NewTicker(heartbeatPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := a.renewLease(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("renew lease", "err", err)
		}
		if err := a.postNodeStatus(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("node status", "err", err)
		}
	}
}
