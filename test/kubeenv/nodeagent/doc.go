// Package nodeagent is a small stand-in for the kubelet in tether's Kubernetes tests.
//
// The test control plane (package kubeenv) has no kubelet and no container runtime, so this
// agent registers a Node, heartbeats it through a Lease in kube-node-lease, and runs every pod
// the scheduler binds to it as local processes. It watches its pods with a client-go informer
// (field selector spec.nodeName) and writes their status back with retry on conflict, so the
// real controllers (ReplicaSet, EndpointSlice, garbage collector) behave as in a cluster.
//
// # Images
//
// An image is a local binary: Options.Images maps an image name to a path, and Options.Resolve,
// when set, is asked for names the map lacks. A pod's image is looked up as written, then
// without its digest, then without its tag ("greeter:v1@sha256:…", "greeter:v1", "greeter").
// An image that maps to nothing leaves the container waiting with reason ErrImagePull, then
// ImagePullBackOff, and a message naming the image.
//
// The process runs the image's binary. Its arguments are command[1:] followed by args when the
// container sets a command (command[0] stands for the image's entrypoint), else args. $(VAR)
// references in env values, command and args are expanded as Kubernetes does ($$ is a literal $).
//
// # Environment
//
// A container gets PATH, HOME (its pod directory), HOSTNAME (the pod name),
// KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT (the API server the agent talks to, since
// there is no Service routing here), NODEAGENT_POD_ROOT (see Volumes), then its env and envFrom:
// literal values, fieldRef (metadata.name, metadata.namespace, metadata.uid, spec.nodeName,
// spec.serviceAccountName, status.podIP, status.hostIP), secretKeyRef and configMapKeyRef.
//
// # Pod IPs
//
// Each pod gets its own address, reported as status.podIP and status.podIPs; the process is
// expected to bind it, for example TETHER_LISTEN=$(POD_IP):8443 with POD_IP from fieldRef
// status.podIP. The API server rejects loopback addresses (127.0.0.0/8) in EndpointSlices and
// Endpoints ("may not be in the loopback range"), so by default the agent takes addresses from
// 198.51.100.0/24 (TEST-NET-2, reserved for documentation, never routed) and makes the whole
// range local to this machine with one route, as `ip route add local 198.51.100.0/24 dev lo
// table local` does (netlink; needs CAP_NET_ADMIN; the route is left in place, and
// `ip route del local 198.51.100.0/24 dev lo table local` removes it). Without that privilege
// it falls back to 127.0.0.2 to 127.0.0.254 with a warning in its log: pods run and become
// Ready, but the EndpointSlice controller cannot publish them. Options.PodIPs picks another
// range. Addresses are locked with flock(2) on files in the system temporary directory, so
// agents in different test binaries on one machine never hand out the same address.
//
// # Volumes
//
// A pod's files live in WorkDir/pods/NAMESPACE/NAME/. Volumes (secret, configMap, projected
// with serviceAccountToken, secret, configMap and downwardAPI sources, downwardAPI, emptyDir)
// are written to volumes/VOLUME/ there; files are 0600 and directories 0700 whatever modes the
// spec asks for. A volumeMount at mountPath M (with its subPath) appears at root/M in the pod
// directory, the absolute path of which is $NODEAGENT_POD_ROOT. Env values and arguments that
// are M or start with M/, and the values of flags written -name=VALUE or --name=VALUE that do,
// are rewritten to the real path, so a plugin started with --tls-dir=/etc/tls reads its
// Secret's files. Other volume types are empty directories.
// The pod directory is removed when the pod object is gone; logs are kept.
//
// The service account volume the API server adds to pods (kube-api-access-…, mounted at
// /var/run/secrets/kubernetes.io/serviceaccount) is written like any projected volume: a token
// from a TokenRequest bound to the pod, ca.crt from the kube-root-ca.crt ConfigMap, namespace.
// Since a process cannot see it at the fixed path rest.InClusterConfig reads, a host that wants
// in-cluster configuration in a pod here reads
// $NODEAGENT_POD_ROOT/var/run/secrets/kubernetes.io/serviceaccount/ instead, with
// KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT as set by the agent.
//
// # Probes
//
// Readiness, liveness and startup probes of type grpc (grpc.health.v1 Check, plaintext),
// tcpSocket and httpGet are run against the pod IP with initialDelaySeconds, periodSeconds,
// timeoutSeconds, successThreshold and failureThreshold (Kubernetes defaults when unset). exec
// probes are not supported and always fail. Readiness drives containerStatuses[].ready and the
// ContainersReady and Ready conditions; a container without a readiness probe is ready while it
// runs. A failing liveness probe stops the container (SIGTERM, then SIGKILL after the grace
// period), and restartPolicy decides what follows.
//
// # Restarts
//
// restartPolicy Always, OnFailure and Never are honoured with restartCount and
// lastState.terminated (exitCode, reason Completed or Error, 128+signal for a killed process).
// Between restarts the container waits with reason CrashLoopBackOff for 1 s, doubling to at
// most 30 s (Kubernetes uses 10 s to 5 min); the back-off starts again once a container has run
// for 60 s. Init containers are not run.
//
// # Logs
//
// A container's stdout and stderr go through one pipe to WorkDir/logs/NAMESPACE/POD/CONTAINER.log
// (LogPath), appended across restarts, each line prefixed with the time the agent read it
// (RFC3339Nano, UTC, strictly increasing within the file) and a space; LogTail reads its last
// lines without the timestamps. When terminationMessagePolicy is FallbackToLogsOnError, a failed
// container's terminated.message is the end of its log; otherwise it is the file at
// terminationMessagePath (under the pod root) if the process wrote it.
// The agent also serves the kubelet's /containerLogs endpoint on 127.0.0.1 (HTTPS, self-signed,
// published as the Node's kubelet endpoint), so the pods/log subresource (GetLogs in client-go)
// returns the same lines, with the kubelet's semantics for tailLines, limitBytes, sinceTime and
// sinceSeconds (lines stamped at or after), timestamps (each line prefixed with its RFC3339Nano
// timestamp and a space) and follow (new lines as they are printed, until the container's
// process exits); previous is not supported (the log holds every run).
//
// # Deletion
//
// When a pod gets a deletionTimestamp the agent sends SIGTERM to each container's process group,
// waits the pod's grace period (deletionGracePeriodSeconds, else terminationGracePeriodSeconds),
// sends SIGKILL, then deletes the pod object with grace 0, as the kubelet does. When Run's
// context ends every pod is stopped the same way, but the pod objects are left.
//
// Capacity (cpu, memory, pods) is declared for the scheduler, never enforced.
package nodeagent
