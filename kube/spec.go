package kube

import (
	"maps"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/tetherplug/tether"
)

// Labels every object tether creates carries, so that discovery and
// removal find them.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "tether"
	LabelPlugin    = "tether.dev/plugin"
	// labelServiceName is set by Kubernetes on a Service's EndpointSlices.
	labelServiceName = "kubernetes.io/service-name"
)

// Where a TLS Secret is mounted in a plugin's pods, and the keys it must
// hold (those of a kubernetes.io/tls Secret, with the CA of the clients'
// certificates as ca.crt).
const (
	TLSMountPath = "/etc/tether/tls"
	SecretCert   = "tls.crt"
	SecretKey    = "tls.key"
	SecretCA     = "ca.crt"
)

// Spec describes a plugin to deploy as a Deployment and a Service: either
// from the small set of fields here, or from Deployment and Service objects
// the caller wrote (then only Port, if the Service does not say it, and
// TLSSecret, to be checked, are read from the rest).
type Spec struct {
	// Name of the Deployment and the Service; empty: the target's name.
	Name string
	// Image is the plugin's container image; pin it by digest
	// (name@sha256:...) to run exactly the build you tested.
	Image string
	// Replicas is the number of pods: nil means 1, and 0 means none (the
	// Deployment and Service exist, and Deploy does not wait for a ready
	// replica). new(int32(3)) is three.
	Replicas *int32
	// Port is the port the plugin serves on, in each pod.
	Port int32
	// Args are the container's arguments.
	Args []string
	// Env is extra environment of the plugin; the TETHER_ variables the
	// runtime sets cannot be overridden. TETHER_TRACING (tether.EnvTracing)
	// may be set: a host that traces (tether.WithTracing) deploys with
	// TETHER_TRACING=1 unless Env says otherwise.
	Env map[string]string
	// Resources are the container's requests and limits.
	Resources corev1.ResourceRequirements
	// ServiceAccount is the pods' service account; empty: the
	// namespace's default.
	ServiceAccount string
	// ImagePullSecrets name Secrets in the namespace with the credentials
	// of the image's registry.
	ImagePullSecrets []string
	// NodeSelector restricts the pods to nodes with these labels.
	NodeSelector map[string]string
	// Tolerations let the pods run on nodes with matching taints.
	Tolerations []corev1.Toleration
	// TLSSecret names a Secret in the namespace with tls.crt, tls.key and
	// ca.crt: the pods' server certificate and key, and the CA of the
	// clients' certificates (mutual TLS). Required unless the host gives
	// WithInsecure.
	TLSSecret string
	// Labels are added to every object (and the pods).
	Labels map[string]string

	// Deployment and Service, when set, are deployed as given (with
	// tether's labels added) instead of objects made from the fields above.
	Deployment *appsv1.Deployment
	Service    *corev1.Service
}

// managedLabels are the labels of everything deployed for plugin name.
func managedLabels(name string) map[string]string {
	return map[string]string{LabelManagedBy: ManagedBy, LabelPlugin: name}
}

// ManagedSelector is the label selector of every object tether manages,
// for one plugin or (name "") all of them.
func ManagedSelector(name string) string {
	s := LabelManagedBy + "=" + ManagedBy
	if name != "" {
		s += "," + LabelPlugin + "=" + name
	}
	return s
}

// objects makes the Deployment and Service of a validated spec.
func (s *Spec) objects(ns string, insecure bool) (*appsv1.Deployment, *corev1.Service) {
	if s.Deployment != nil {
		return s.userObjects(ns)
	}
	labels := maps.Clone(s.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, managedLabels(s.Name))
	replicas := s.replicas()
	meta := metav1.ObjectMeta{Name: s.Name, Namespace: ns, Labels: labels}
	d := &appsv1.Deployment{
		ObjectMeta: meta,
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: managedLabels(s.Name)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       s.podSpec(insecure),
			},
		},
	}
	svc := &corev1.Service{
		ObjectMeta: *meta.DeepCopy(),
		Spec: corev1.ServiceSpec{
			Selector: managedLabels(s.Name),
			Ports: []corev1.ServicePort{{Name: "grpc", Port: s.Port,
				TargetPort: intstr.FromInt32(s.Port), Protocol: corev1.ProtocolTCP}},
		},
	}
	return d, svc
}

// podSpec is the pod of a spec: the plugin listens on its pod IP (downward
// API) with the mounted TLS Secret's files.
func (s *Spec) podSpec(insecure bool) corev1.PodSpec {
	port := strconv.Itoa(int(s.Port))
	env := []corev1.EnvVar{
		{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
		{Name: "TETHER_LISTEN", Value: "$(POD_IP):" + port},
	}
	for _, k := range sortedKeys(s.Env) {
		env = append(env, corev1.EnvVar{Name: k, Value: s.Env[k]})
	}
	c := corev1.Container{
		Name:      "plugin",
		Image:     s.Image,
		Args:      s.Args,
		Ports:     []corev1.ContainerPort{{Name: "grpc", ContainerPort: s.Port, Protocol: corev1.ProtocolTCP}},
		Resources: s.Resources,
		// A TCP probe, not gRPC's: the kubelet's gRPC probe speaks
		// plaintext, which a mutual-TLS plugin refuses.
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(s.Port)}},
			PeriodSeconds: 2, FailureThreshold: 3,
		},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	pod := corev1.PodSpec{Containers: []corev1.Container{c}}
	s.scheduling(&pod)
	if insecure {
		pod.Containers[0].Env = append(env, corev1.EnvVar{Name: "TETHER_INSECURE", Value: "1"})
		return pod
	}
	pod.Containers[0].Env = append(env,
		corev1.EnvVar{Name: "TETHER_TLS_CERT", Value: TLSMountPath + "/" + SecretCert},
		corev1.EnvVar{Name: "TETHER_TLS_KEY", Value: TLSMountPath + "/" + SecretKey},
		corev1.EnvVar{Name: "TETHER_TLS_CLIENT_CA", Value: TLSMountPath + "/" + SecretCA})
	pod.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "tether-tls", MountPath: TLSMountPath, ReadOnly: true}}
	pod.Volumes = []corev1.Volume{{Name: "tether-tls", VolumeSource: corev1.VolumeSource{
		Secret: &corev1.SecretVolumeSource{SecretName: s.TLSSecret}}}}
	return pod
}

// userObjects are the caller's objects, copied, in the namespace, with
// tether's labels on them and on the pods.
func (s *Spec) userObjects(ns string) (*appsv1.Deployment, *corev1.Service) {
	d, svc := s.Deployment.DeepCopy(), s.Service.DeepCopy()
	d.Namespace, svc.Namespace = ns, ns
	d.Name, svc.Name = s.Name, s.Name
	for _, m := range []*map[string]string{&d.Labels, &svc.Labels, &d.Spec.Template.Labels} {
		if *m == nil {
			*m = map[string]string{}
		}
		maps.Copy(*m, managedLabels(s.Name))
	}
	return d, svc
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// tracingEnv is env with tether.EnvTracing=1 added, unless env sets it:
// the pods of a plugin that a tracing host deploys pass the trace context
// on to their callbacks, exporter or not, as a launched plugin does. env
// is the caller's and is not changed.
func tracingEnv(env map[string]string) map[string]string {
	if _, set := env[tether.EnvTracing]; set {
		return env
	}
	out := maps.Clone(env)
	if out == nil {
		out = map[string]string{}
	}
	out[tether.EnvTracing] = "1"
	return out
}
