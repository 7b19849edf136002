package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// regions are the overlays there must be (regions/local.yaml's names).
var regions = []string{"us-east1", "europe-west1", "asia-south1"}

// rendered is one overlay's objects, decoded into their API types.
type rendered struct {
	deployments  []*appsv1.Deployment
	statefulSets []*appsv1.StatefulSet
	pdbs         []*policyv1.PodDisruptionBudget
	hpas         []*autoscalingv2.HorizontalPodAutoscaler
	netpols      []*networkingv1.NetworkPolicy
	services     []*corev1.Service
	configMaps   []*corev1.ConfigMap
	accounts     []*corev1.ServiceAccount
	jobs         []*batchv1.Job
}

// newObject maps a kind to its API type; a kind not listed fails the check.
func (r *rendered) add(kind string, raw []byte) error {
	var err error
	decode := func(obj any) { err = yaml.UnmarshalStrict(raw, obj) }
	switch kind {
	case "Deployment":
		o := &appsv1.Deployment{}
		decode(o)
		r.deployments = append(r.deployments, o)
	case "StatefulSet":
		o := &appsv1.StatefulSet{}
		decode(o)
		r.statefulSets = append(r.statefulSets, o)
	case "PodDisruptionBudget":
		o := &policyv1.PodDisruptionBudget{}
		decode(o)
		r.pdbs = append(r.pdbs, o)
	case "HorizontalPodAutoscaler":
		o := &autoscalingv2.HorizontalPodAutoscaler{}
		decode(o)
		r.hpas = append(r.hpas, o)
	case "NetworkPolicy":
		o := &networkingv1.NetworkPolicy{}
		decode(o)
		r.netpols = append(r.netpols, o)
	case "Service":
		o := &corev1.Service{}
		decode(o)
		r.services = append(r.services, o)
	case "ConfigMap":
		o := &corev1.ConfigMap{}
		decode(o)
		r.configMaps = append(r.configMaps, o)
	case "ServiceAccount":
		o := &corev1.ServiceAccount{}
		decode(o)
		r.accounts = append(r.accounts, o)
	case "Job":
		o := &batchv1.Job{}
		decode(o)
		r.jobs = append(r.jobs, o)
	case "Namespace":
		decode(&corev1.Namespace{})
	case "PrometheusRule", "ServiceMonitor", "PodMonitor":
		// Prometheus Operator objects (k8s/monitoring) are not in
		// k8s.io/api; they are checked where they are written.
		var obj map[string]any
		decode(&obj)
	default:
		return fmt.Errorf("kind %s has no check: add it to deploy/k8s_test.go", kind)
	}
	return err
}

// build runs kustomize on an overlay and decodes every object strictly.
func build(t *testing.T, dir string) *rendered {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	r := &rendered{}
	for _, res := range m.Resources() {
		raw, err := res.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		if err := r.add(res.GetKind(), raw); err != nil {
			t.Errorf("%s: %s %s: %v", dir, res.GetKind(), res.GetName(), err)
		}
	}
	return r
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func TestOverlaysBuildAndDecodeStrictly(t *testing.T) {
	root := repoRoot(t)
	entries, err := os.ReadDir(filepath.Join(root, "k8s", "overlays"))
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, e := range entries {
		found = append(found, e.Name())
	}
	for _, want := range regions {
		if !slices.Contains(found, want) {
			t.Errorf("no overlay for %s (have %v)", want, found)
		}
	}
	for _, region := range found {
		t.Run(region, func(t *testing.T) {
			r := build(t, filepath.Join(root, "k8s", "overlays", region))
			checkOverlay(t, region, r)
		})
	}
}

// The strict decoding really refuses unknown fields.
func TestStrictDecodingRefusesUnknownFields(t *testing.T) {
	r := &rendered{}
	bad := []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 3\n")
	if err := r.add("Deployment", bad); err == nil {
		t.Fatal("a Deployment with spec.replica (a typo) decoded")
	}
	if err := r.add("CronJob", []byte("kind: CronJob")); err == nil {
		t.Fatal("an unchecked kind passed")
	}
}

func checkOverlay(t *testing.T, region string, r *rendered) {
	if len(r.deployments) == 0 {
		t.Fatal("no Deployment")
	}
	for _, d := range r.deployments {
		checkDeployment(t, region, d, r)
	}
	for _, s := range r.statefulSets {
		checkPodSecurity(t, "StatefulSet "+s.Name, &s.Spec.Template.Spec)
	}
	for _, j := range r.jobs {
		checkPodSecurity(t, "Job "+j.Name, &j.Spec.Template.Spec)
	}
	if region == "us-east1" && len(r.jobs) != 1 {
		t.Errorf("the primary region has %d migration Jobs, want 1", len(r.jobs))
	}
	if region != "us-east1" && len(r.jobs) != 0 {
		t.Errorf("%s runs a migration Job; only the primary does", region)
	}
	// The regions file is there and names this region.
	var regionsFile string
	for _, cm := range r.configMaps {
		if v, ok := cm.Data["regions.yaml"]; ok {
			regionsFile = v
		}
		if v, ok := cm.Data["GATEHOUSE_REGION"]; ok && v != region {
			t.Errorf("GATEHOUSE_REGION is %q", v)
		}
	}
	if !strings.Contains(regionsFile, "name: "+region) {
		t.Error("no regions ConfigMap naming this region")
	}
	if len(r.accounts) == 0 {
		t.Error("no ServiceAccount")
	}
	for _, np := range r.netpols {
		if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
			t.Errorf("NetworkPolicy %s does not restrict both directions", np.Name)
		}
	}
}

func checkDeployment(t *testing.T, region string, d *appsv1.Deployment, r *rendered) {
	name := "Deployment " + d.Name
	pod := &d.Spec.Template.Spec
	checkPodSecurity(t, name, pod)
	sel := d.Spec.Selector.MatchLabels
	matches := func(m map[string]string) bool {
		for k, v := range m {
			if d.Spec.Template.Labels[k] != v {
				return false
			}
		}
		return len(m) > 0
	}
	for _, c := range pod.Containers {
		if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
			t.Errorf("%s/%s: readiness probe must GET /readyz", name, c.Name)
		}
		if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
			t.Errorf("%s/%s: liveness probe must GET /healthz", name, c.Name)
		}
		if c.Lifecycle == nil || c.Lifecycle.PreStop == nil {
			t.Errorf("%s/%s: no preStop hook", name, c.Name)
		}
		// The grace period outlasts the preStop sleep plus the server's
		// shutdown timeout.
		shutdown := 25 * time.Second
		for _, e := range c.Env {
			if e.Name == "GATEHOUSE_HTTP_SHUTDOWN_TIMEOUT" {
				shutdown, _ = time.ParseDuration(e.Value)
			}
		}
		for _, cm := range r.configMaps {
			if v, ok := cm.Data["GATEHOUSE_HTTP_SHUTDOWN_TIMEOUT"]; ok {
				shutdown, _ = time.ParseDuration(v)
			}
		}
		var preStop time.Duration
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
			preStop = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
		}
		grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
		if pod.TerminationGracePeriodSeconds == nil || grace <= preStop+shutdown {
			t.Errorf("%s: grace period %v is not longer than preStop %v + shutdown timeout %v", name, grace, preStop, shutdown)
		}
	}
	// Memory covers the Argon2id workers: one per CPU of the limit, m each.
	c := pod.Containers[0]
	memKiB := int64(65536)
	for _, cm := range r.configMaps {
		if v, ok := cm.Data["GATEHOUSE_ARGON2_MEMORY_KIB"]; ok {
			fmt.Sscan(v, &memKiB)
		}
	}
	cpus := c.Resources.Limits.Cpu().Value()
	if limit := c.Resources.Limits.Memory().Value(); limit < cpus*memKiB*1024+256<<20 {
		t.Errorf("%s: memory limit %d B < %d workers × %d KiB + 256 MiB", name, limit, cpus, memKiB)
	}
	// Zones.
	zonal := false
	for _, tsc := range pod.TopologySpreadConstraints {
		zonal = zonal || tsc.TopologyKey == "topology.kubernetes.io/zone"
	}
	if !zonal {
		t.Errorf("%s: not spread over zones", name)
	}
	// A PDB and an HPA point at it.
	pdb := false
	for _, p := range r.pdbs {
		pdb = pdb || (p.Spec.Selector != nil && matches(p.Spec.Selector.MatchLabels))
	}
	if !pdb {
		t.Errorf("%s: no PodDisruptionBudget selects it", name)
	}
	hpa := false
	for _, h := range r.hpas {
		if h.Spec.ScaleTargetRef.Kind != "Deployment" || h.Spec.ScaleTargetRef.Name != d.Name {
			continue
		}
		hpa = true
		var cpu, hashing bool
		for _, m := range h.Spec.Metrics {
			cpu = cpu || (m.Resource != nil && m.Resource.Name == corev1.ResourceCPU)
			hashing = hashing || (m.Pods != nil && m.Pods.Metric.Name == "gatehouse_password_hash_inflight")
		}
		if !cpu || !hashing {
			t.Errorf("%s: HPA scales on cpu=%v hashing=%v, want both", name, cpu, hashing)
		}
	}
	if !hpa {
		t.Errorf("%s: no HorizontalPodAutoscaler", name)
	}
	np := false
	for _, p := range r.netpols {
		np = np || matches(p.Spec.PodSelector.MatchLabels)
	}
	if !np {
		t.Errorf("%s: no NetworkPolicy selects it", name)
	}
	svc := false
	for _, s := range r.services {
		svc = svc || (len(s.Spec.Selector) > 0 && matches(s.Spec.Selector))
	}
	if !svc || !matches(sel) {
		t.Errorf("%s: no Service selects it, or its selector misses its pods", name)
	}
}

// checkPodSecurity: non-root, read-only root, no capabilities, seccomp
// RuntimeDefault, requests and limits on every container.
func checkPodSecurity(t *testing.T, name string, pod *corev1.PodSpec) {
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Errorf("%s: pod not runAsNonRoot", name)
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: seccomp is not RuntimeDefault", name)
	}
	for _, c := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("%s/%s: root filesystem not read-only", name, c.Name)
		}
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s/%s: privilege escalation allowed", name, c.Name)
		}
		if sc == nil || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("%s/%s: capabilities not dropped", name, c.Name)
		}
		if c.Resources.Limits.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() ||
			c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
			t.Errorf("%s/%s: requests and limits of cpu and memory are required", name, c.Name)
		}
	}
}
