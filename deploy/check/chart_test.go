package check

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// chartDir is the chart under test.
var chartDir = filepath.Join("..", "helm", "approvald")

// The value sets, as `helm install -f` takes them.
const (
	cr8torValues     = "values-cr8tor.yaml"
	productionValues = "values-production.yaml"
)

// A case is one way of installing the chart: value files and --set
// overrides on a release.
type chartCase struct {
	name    string
	release string
	files   []string
	set     map[string]any
}

// keyVault is what values-cr8tor.yaml leaves to the installer: which Key
// Vault.
var keyVault = map[string]any{"secrets": map[string]any{"csi": map[string]any{"parameters": map[string]any{
	"keyvaultName": "cr8tor-kv", "tenantId": "00000000-0000-0000-0000-000000000000",
}}}}

// cases are the installations every chart test renders.
var cases = []chartCase{
	{name: "default", release: "approvald"},
	{name: "cr8tor", release: "cr8tor-approvald", files: []string{cr8torValues}, set: keyVault},
	{name: "production", release: "approvald", files: []string{productionValues}},
	{name: "production-all", release: "approvald", files: []string{productionValues}, set: map[string]any{
		"migrations":     map[string]any{"initContainer": true},
		"serviceMonitor": map[string]any{"enabled": true},
	}},
}

// values merges the case's value files and overrides, later ones winning,
// as Helm does.
func (c chartCase) values(t *testing.T) map[string]any {
	t.Helper()
	vals := map[string]any{}
	for _, f := range c.files {
		v, err := common.ReadValuesFile(filepath.Join(chartDir, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		vals = loader.MergeMaps(vals, v)
	}
	return loader.MergeMaps(vals, c.set)
}

// render renders the chart as `helm template` would (engine in strict mode:
// a template reading a value the chart does not define fails), returning the
// output by template name.
func (c chartCase) render(t *testing.T) (map[string]string, error) {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("loading the chart: %v", err)
	}
	opts := common.ReleaseOptions{Name: c.release, Namespace: "approvals", Revision: 1, IsInstall: true}
	vals, err := util.ToRenderValuesWithSchemaValidation(ch, c.values(t), opts, common.DefaultCapabilities, false)
	if err != nil {
		return nil, err
	}
	return engine.Engine{Strict: true}.Render(ch, vals)
}

// The typed objects a rendering decodes into, by kind.
type manifests struct {
	deployments     []*appsv1.Deployment
	services        []*corev1.Service
	claims          []*corev1.PersistentVolumeClaim
	accounts        []*corev1.ServiceAccount
	ingresses       []*networkingv1.Ingress
	budgets         []*policyv1.PodDisruptionBudget
	monitors        []*monitoringv1.ServiceMonitor
	secretProviders []*secretProviderClass
	kinds           []string
	notes           string
}

// secretProviderClass is the Secrets Store CSI driver's resource
// (secrets-store.csi.x-k8s.io/v1), decoded strictly: its module is not
// worth its dependencies here.
type secretProviderClass struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Provider   string            `json:"provider"`
		Parameters map[string]string `json:"parameters"`
	} `json:"spec"`
}

// scheme knows Kubernetes' own kinds and the Prometheus Operator's.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := monitoringv1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

// strict decodes YAML into the scheme's types, failing on unknown and
// duplicate fields.
var strict = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme,
	kjson.SerializerOptions{Yaml: true, Strict: true})

var separator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// decode decodes every document of a rendering into its typed object.
func decode(t *testing.T, rendered map[string]string) manifests {
	t.Helper()
	var m manifests
	for _, name := range slices.Sorted(maps.Keys(rendered)) {
		text := rendered[name]
		if strings.HasSuffix(name, "NOTES.txt") {
			m.notes = text
			continue
		}
		for i, doc := range separator.Split(text, -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			where := fmt.Sprintf("%s, document %d", name, i+1)
			var head struct{ APIVersion, Kind string }
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
				t.Fatalf("%s: not YAML: %v\n%s", where, err, doc)
			}
			m.kinds = append(m.kinds, head.Kind)
			if head.Kind == "SecretProviderClass" {
				spc := new(secretProviderClass)
				if err := yaml.UnmarshalStrict([]byte(doc), spc); err != nil {
					t.Fatalf("%s: %v\n%s", where, err, doc)
				}
				m.secretProviders = append(m.secretProviders, spc)
				continue
			}
			obj, _, err := strict.Decode([]byte(doc), nil, nil)
			if err != nil {
				t.Fatalf("%s: strict decoding: %v\n%s", where, err, doc)
			}
			switch o := obj.(type) {
			case *appsv1.Deployment:
				m.deployments = append(m.deployments, o)
			case *corev1.Service:
				m.services = append(m.services, o)
			case *corev1.PersistentVolumeClaim:
				m.claims = append(m.claims, o)
			case *corev1.ServiceAccount:
				m.accounts = append(m.accounts, o)
			case *networkingv1.Ingress:
				m.ingresses = append(m.ingresses, o)
			case *policyv1.PodDisruptionBudget:
				m.budgets = append(m.budgets, o)
			case *monitoringv1.ServiceMonitor:
				m.monitors = append(m.monitors, o)
			default:
				t.Fatalf("%s: a %T the test does not check", where, obj)
			}
		}
	}
	return m
}

func stripComments(doc string) string {
	var b strings.Builder
	for line := range strings.Lines(doc) {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// renderCase renders and decodes one case, failing the test on any error.
func renderCase(t *testing.T, c chartCase) manifests {
	t.Helper()
	rendered, err := c.render(t)
	if err != nil {
		t.Fatalf("rendering: %v", err)
	}
	return decode(t, rendered)
}

// TestChartLint is `helm lint --strict` with each value set: errors and
// warnings fail.
func TestChartLint(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			linter := lint.RunAll(chartDir, c.values(t), "approvals")
			for _, msg := range linter.Messages {
				if msg.Severity >= support.WarningSev {
					t.Errorf("lint: %s", msg)
				} else {
					t.Logf("lint: %s", msg)
				}
			}
		})
	}
}

// TestChartEveryCase holds every rendering to what any installation needs:
// probes, resources, the security context, and one workload.
func TestChartEveryCase(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := renderCase(t, c)
			if len(m.deployments) != 1 || len(m.services) != 1 {
				t.Fatalf("want one Deployment and one Service, got kinds %v", m.kinds)
			}
			d := m.deployments[0]
			pod := d.Spec.Template.Spec
			app := container(t, pod.Containers, "approvald")

			psc := pod.SecurityContext
			if psc == nil || !isTrue(psc.RunAsNonRoot) || psc.RunAsUser == nil || *psc.RunAsUser != 65532 ||
				psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("pod securityContext: %+v", psc)
			}
			if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
				t.Error("the service account token is mounted")
			}
			for _, ctr := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
				checkContainerSecurity(t, ctr)
			}
			if p := app.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port.String() != "http" {
				t.Errorf("liveness probe: %+v", p)
			}
			if p := app.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" || p.HTTPGet.Port.String() != "http" {
				t.Errorf("readiness probe: %+v", p)
			}
			if len(app.Ports) != 1 || app.Ports[0].Name != "http" || app.Ports[0].ContainerPort != 8000 {
				t.Errorf("container ports: %+v", app.Ports)
			}
			if app.Resources.Requests.Cpu().IsZero() || app.Resources.Requests.Memory().IsZero() || app.Resources.Limits.Memory().IsZero() {
				t.Errorf("resources: %+v", app.Resources)
			}
			if !mounted(app, "/tmp") || !mounted(app, "/data") {
				t.Errorf("a read-only root needs writable /tmp and /data: mounts %+v", app.VolumeMounts)
			}
			// The Service, the PDB and the ServiceMonitor find the pods.
			labels := d.Spec.Template.Labels
			if !selects(m.services[0].Spec.Selector, labels) || !selects(d.Spec.Selector.MatchLabels, labels) {
				t.Errorf("selectors %v / %v do not select the pod labels %v", m.services[0].Spec.Selector, d.Spec.Selector.MatchLabels, labels)
			}
			for _, b := range m.budgets {
				if !selects(b.Spec.Selector.MatchLabels, labels) {
					t.Errorf("the PodDisruptionBudget does not select the pods")
				}
			}
			for _, sm := range m.monitors {
				if !selects(sm.Spec.Selector.MatchLabels, m.services[0].Labels) {
					t.Errorf("the ServiceMonitor does not select the Service")
				}
			}
			port := m.services[0].Spec.Ports
			if len(port) != 1 || port[0].Port != 8000 || port[0].Name != "http" || port[0].TargetPort.String() != "http" {
				t.Errorf("service ports: %+v", port)
			}
			if !strings.Contains(m.notes, m.services[0].Name) {
				t.Errorf("NOTES.txt does not name the Service %s:\n%s", m.services[0].Name, m.notes)
			}
		})
	}
}

func checkContainerSecurity(t *testing.T, c corev1.Container) {
	t.Helper()
	sc := c.SecurityContext
	if sc == nil || !isTrue(sc.RunAsNonRoot) || !isTrue(sc.ReadOnlyRootFilesystem) ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 ||
		sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("container %s securityContext: %+v", c.Name, sc)
	}
}

// TestChartSQLite: the default installation runs one replica on SQLite,
// replaced by Recreate, with its database on the chart's claim.
func TestChartSQLite(t *testing.T) {
	m := renderCase(t, cases[0])
	d := m.deployments[0]
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("replicas %v, strategy %v: want 1, Recreate", d.Spec.Replicas, d.Spec.Strategy.Type)
	}
	if len(m.claims) != 1 {
		t.Fatalf("want one PersistentVolumeClaim, got kinds %v", m.kinds)
	}
	if v := volume(t, d.Spec.Template.Spec.Volumes, "data"); v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != m.claims[0].Name {
		t.Errorf("the data volume is not the claim %s: %+v", m.claims[0].Name, v)
	}
	if m.claims[0].Annotations["helm.sh/resource-policy"] != "keep" {
		t.Error("the claim is deleted with the release")
	}
	app := container(t, d.Spec.Template.Spec.Containers, "approvald")
	if got := env(app, "APPROVALD_DATABASE"); got != "sqlite:/data/approvald.db" {
		t.Errorf("APPROVALD_DATABASE = %q", got)
	}
	if len(m.budgets)+len(m.ingresses)+len(m.monitors)+len(m.secretProviders) != 0 || len(d.Spec.Template.Spec.InitContainers) != 0 {
		t.Errorf("the default installation renders more than it needs: %v", m.kinds)
	}

	// More than one replica on SQLite is refused, not quietly reduced.
	c := chartCase{name: "sqlite-3", release: "approvald", set: map[string]any{"replicaCount": 3}}
	if _, err := c.render(t); err == nil || !strings.Contains(err.Error(), "one replica") {
		t.Errorf("3 replicas on SQLite: err = %v", err)
	}
}

// TestChartCR8TOR: values-cr8tor.yaml gives approvald what the CR8TOR
// chart gives its Approval Service.
func TestChartCR8TOR(t *testing.T) {
	m := renderCase(t, cases[1])
	d := m.deployments[0]
	app := container(t, d.Spec.Template.Spec.Containers, "approvald")

	svc := m.services[0]
	if svc.Name != "cr8tor-publisher-approval" || svc.Spec.Ports[0].Port != 8000 || svc.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Errorf("service %s %+v: want cr8tor-publisher-approval, ClusterIP, port 8000", svc.Name, svc.Spec.Ports)
	}
	for name, want := range map[string]string{
		"METADATA_CONTAINER_NAME":    "cr8tor-publisher-metadata",
		"METADATA_CONTAINER_PORT":    "8002",
		"PUBLISH_CONTAINER_NAME":     "cr8tor-publisher-publish",
		"PUBLISH_CONTAINER_PORT":     "8003",
		"SECRETS_MNT_PATH":           "/secrets",
		"APPROVALD_GATEWAY_APPROVAL": "off",
		"APPROVALD_GATEWAY_TIMEOUT":  "1h",
		"APPROVALD_DATABASE":         "sqlite:/data/approvald.db",
	} {
		if got := env(app, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if *d.Spec.Replicas != 1 || len(m.claims) != 1 {
		t.Errorf("replicas %d, claims %d: want SQLite's 1 and 1", *d.Spec.Replicas, len(m.claims))
	}

	// The Key Vault secrets through the CSI driver, mounted at SECRETS_MNT_PATH.
	if len(m.secretProviders) != 1 {
		t.Fatalf("want one SecretProviderClass, got kinds %v", m.kinds)
	}
	spc := m.secretProviders[0]
	if spc.APIVersion != "secrets-store.csi.x-k8s.io/v1" || spc.Spec.Provider != "azure" {
		t.Errorf("SecretProviderClass %s, provider %s", spc.APIVersion, spc.Spec.Provider)
	}
	if got := keyVaultObjects(t, spc.Spec.Parameters["objects"]); !slices.Equal(got, []string{"approvalserviceapikey", "metadataserviceapikey", "publishserviceapikey"}) {
		t.Errorf("Key Vault objects %v", got)
	}
	for p, want := range map[string]string{"keyvaultName": "cr8tor-kv", "tenantId": "00000000-0000-0000-0000-000000000000",
		"userAssignedIdentityID": "", "useVMManagedIdentity": "true", "usePodIdentity": "false"} {
		if got, ok := spc.Spec.Parameters[p]; !ok || got != want {
			t.Errorf("SecretProviderClass parameter %s = %q, want %q", p, got, want)
		}
	}
	v := volume(t, d.Spec.Template.Spec.Volumes, "secrets")
	if v.CSI == nil || v.CSI.Driver != "secrets-store.csi.k8s.io" || !isTrue(v.CSI.ReadOnly) || v.CSI.VolumeAttributes["secretProviderClass"] != spc.Metadata.Name {
		t.Errorf("secrets volume %+v does not use SecretProviderClass %s", v.VolumeSource, spc.Metadata.Name)
	}
	if !mounted(app, "/secrets") {
		t.Errorf("the secrets are not mounted at /secrets: %+v", app.VolumeMounts)
	}

	// The ingress: the CR8TOR annotations, to the Service's port.
	if len(m.ingresses) != 1 {
		t.Fatalf("want one Ingress, got kinds %v", m.kinds)
	}
	ing := m.ingresses[0]
	for k, want := range map[string]string{
		"nginx.ingress.kubernetes.io/proxy-body-size":    "64m",
		"nginx.ingress.kubernetes.io/proxy-read-timeout": "1800",
		"nginx.ingress.kubernetes.io/proxy-send-timeout": "1800",
		"nginx.ingress.kubernetes.io/ssl-redirect":       "true",
	} {
		if got := ing.Annotations[k]; got != want {
			t.Errorf("ingress annotation %s = %q, want %q", k, got, want)
		}
	}
	if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "nginx" || len(ing.Spec.TLS) != 1 {
		t.Errorf("ingress class %v, TLS %+v", ing.Spec.IngressClassName, ing.Spec.TLS)
	}
	backend := ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service
	if backend.Name != svc.Name || backend.Port.Name != "http" {
		t.Errorf("ingress backend %+v, want the Service %s port http", backend, svc.Name)
	}

	// The approval step switches on.
	c := chartCase{name: "cr8tor-publish", release: "cr8tor-approvald", files: []string{cr8torValues},
		set: loader.MergeMaps(keyVault, map[string]any{"cr8tor": map[string]any{"approval": "publish", "policy": "publications"}})}
	app = container(t, renderCase(t, c).deployments[0].Spec.Template.Spec.Containers, "approvald")
	if env(app, "APPROVALD_GATEWAY_APPROVAL") != "publish" || env(app, "APPROVALD_GATEWAY_POLICY") != "publications" {
		t.Errorf("approval step: %q, policy %q", env(app, "APPROVALD_GATEWAY_APPROVAL"), env(app, "APPROVALD_GATEWAY_POLICY"))
	}
	c.set = loader.MergeMaps(keyVault, map[string]any{"cr8tor": map[string]any{"approval": "always"}})
	if _, err := c.render(t); err == nil || !strings.Contains(err.Error(), "cr8tor.approval") {
		t.Errorf("approval always: err = %v", err)
	}

	// Which Key Vault is the installer's to say.
	c = chartCase{name: "cr8tor-no-vault", release: "cr8tor-approvald", files: []string{cr8torValues}}
	if _, err := c.render(t); err == nil || !strings.Contains(err.Error(), "keyvaultName") {
		t.Errorf("no Key Vault named: err = %v", err)
	}
}

// keyVaultObjects reads the objectNames of the Azure provider's "objects"
// parameter: a YAML document whose array holds YAML documents.
func keyVaultObjects(t *testing.T, objects string) []string {
	t.Helper()
	var outer struct {
		Array []string `json:"array"`
	}
	if err := yaml.UnmarshalStrict([]byte(objects), &outer); err != nil {
		t.Fatalf("objects: %v\n%s", err, objects)
	}
	var names []string
	for _, doc := range outer.Array {
		var o struct {
			ObjectName string `json:"objectName"`
			ObjectType string `json:"objectType"`
		}
		if err := yaml.UnmarshalStrict([]byte(doc), &o); err != nil {
			t.Fatalf("object %q: %v", doc, err)
		}
		if o.ObjectType != "secret" {
			t.Errorf("object %s has type %q", o.ObjectName, o.ObjectType)
		}
		names = append(names, o.ObjectName)
	}
	return names
}

// TestChartProduction: values-production.yaml runs several replicas on
// PostgreSQL, rolling, behind a PodDisruptionBudget.
func TestChartProduction(t *testing.T) {
	m := renderCase(t, cases[2])
	d := m.deployments[0]
	app := container(t, d.Spec.Template.Spec.Containers, "approvald")
	if *d.Spec.Replicas < 2 || d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		t.Errorf("replicas %d, strategy %s: want 2 or more, RollingUpdate", *d.Spec.Replicas, d.Spec.Strategy.Type)
	}
	if len(m.claims) != 0 {
		t.Error("a PersistentVolumeClaim on PostgreSQL")
	}
	db := envVar(app, "APPROVALD_DATABASE")
	if db == nil || db.Value != "" || db.ValueFrom == nil || db.ValueFrom.SecretKeyRef == nil ||
		db.ValueFrom.SecretKeyRef.Name != "approvald-db" || db.ValueFrom.SecretKeyRef.Key != "database-url" {
		t.Errorf("APPROVALD_DATABASE: %+v, want from Secret approvald-db", db)
	}
	if k := envVar(app, "APPROVALD_ADMIN_KEY"); k == nil || k.ValueFrom == nil || k.ValueFrom.SecretKeyRef == nil {
		t.Errorf("APPROVALD_ADMIN_KEY: %+v, want from a Secret", k)
	}
	for name, prefix := range map[string]string{
		"APPROVALD_NATS_URL":     "nats://",
		"APPROVALD_OIDC_ISSUER":  "https://",
		"APPROVALD_UI_BASE_URL":  "https://",
		"APPROVALD_DB_MAX_CONNS": "16",
	} {
		if got := env(app, name); !strings.HasPrefix(got, prefix) {
			t.Errorf("%s = %q", name, got)
		}
	}
	if len(m.budgets) != 1 || m.budgets[0].Spec.MinAvailable == nil || m.budgets[0].Spec.MinAvailable.IntValue() >= int(*d.Spec.Replicas) {
		t.Errorf("want a PodDisruptionBudget that lets a pod go: %+v", m.budgets)
	}
	if len(m.monitors) != 0 || len(d.Spec.Template.Spec.InitContainers) != 0 {
		t.Error("the ServiceMonitor or the migration init container is on by default")
	}
	tsc := d.Spec.Template.Spec.TopologySpreadConstraints
	if len(tsc) != 1 || !selects(tsc[0].LabelSelector.MatchLabels, d.Spec.Template.Labels) {
		t.Errorf("topology spread %+v does not select the pods", tsc)
	}

	// With the ServiceMonitor and the migration init container.
	m = renderCase(t, cases[3])
	d = m.deployments[0]
	inits := d.Spec.Template.Spec.InitContainers
	if len(inits) != 1 || !slices.Equal(inits[0].Args, []string{"migrate"}) || inits[0].Image != app.Image {
		t.Fatalf("init containers %+v: want approvald migrate on the same image", inits)
	}
	if envVar(inits[0], "APPROVALD_DATABASE") == nil {
		t.Error("the migration does not get the database")
	}
	if len(m.monitors) != 1 {
		t.Fatalf("want a ServiceMonitor, got kinds %v", m.kinds)
	}
	ep := m.monitors[0].Spec.Endpoints
	if len(ep) != 1 || ep[0].Port != "http" || ep[0].Path != "/metrics" || ep[0].Authorization == nil ||
		ep[0].Authorization.Credentials == nil || ep[0].Authorization.Credentials.Name != "approvald-metrics" {
		t.Errorf("ServiceMonitor endpoints %+v", ep)
	}

	// PostgreSQL without the Secret of its URL is refused.
	c := chartCase{name: "postgres-no-secret", release: "approvald", set: map[string]any{"database": map[string]any{"type": "postgres"}}}
	if _, err := c.render(t); err == nil || !strings.Contains(err.Error(), "existingSecret") {
		t.Errorf("postgres without a Secret: err = %v", err)
	}
}

func container(t *testing.T, cs []corev1.Container, name string) corev1.Container {
	t.Helper()
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %s", name)
	return corev1.Container{}
}

func volume(t *testing.T, vs []corev1.Volume, name string) corev1.Volume {
	t.Helper()
	for _, v := range vs {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no volume %s", name)
	return corev1.Volume{}
}

func envVar(c corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

func env(c corev1.Container, name string) string {
	if e := envVar(c, name); e != nil {
		return e.Value
	}
	return ""
}

func mounted(c corev1.Container, path string) bool {
	return slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == path })
}

// selects reports whether a selector matches labels; an empty one does not.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func isTrue(b *bool) bool { return b != nil && *b }

// TestChartPrint prints a case's rendering, as `helm template` would, when
// APPROVALD_CHART_PRINT names it (default, cr8tor, production,
// production-all):
//
//	APPROVALD_CHART_PRINT=cr8tor go test -run TestChartPrint -v
func TestChartPrint(t *testing.T) {
	name := os.Getenv("APPROVALD_CHART_PRINT")
	if name == "" {
		t.Skip("APPROVALD_CHART_PRINT names no case")
	}
	for _, c := range cases {
		if c.name != name {
			continue
		}
		rendered, err := c.render(t)
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range slices.Sorted(maps.Keys(rendered)) {
			if strings.TrimSpace(rendered[file]) != "" {
				fmt.Printf("---\n# Source: %s\n%s\n", file, strings.TrimSpace(rendered[file]))
			}
		}
		return
	}
	t.Fatalf("no case %q", name)
}
