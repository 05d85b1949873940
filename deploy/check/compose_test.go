package check

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// TestCompose loads deploy/compose.yaml as `docker compose config` would
// (compose-go: the Compose Specification's schema, interpolation,
// consistency) and checks that approvald waits for a healthy PostgreSQL
// and NATS, runs locked down, and keeps its data in a volume.
func TestCompose(t *testing.T) {
	opts, err := cli.NewProjectOptions([]string{filepath.Join("..", "compose.yaml")},
		cli.WithEnv([]string{}), cli.WithInterpolation(true), cli.WithConsistency(true), cli.WithResolvedPaths(true))
	if err != nil {
		t.Fatal(err)
	}
	project, err := opts.LoadProject(t.Context())
	if err != nil {
		t.Fatalf("loading compose.yaml: %v", err)
	}
	if project.Name != "approvald" {
		t.Errorf("project name %q", project.Name)
	}
	if got := slices.Sorted(func(yield func(string) bool) {
		for name := range project.Services {
			if !yield(name) {
				return
			}
		}
	}); !slices.Equal(got, []string{"approvald", "nats", "postgres"}) {
		t.Fatalf("services %v", got)
	}
	app := project.Services["approvald"]

	// Built from this repository with deploy/Dockerfile.
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	if app.Build == nil || app.Build.Context != root || app.Build.Dockerfile != "deploy/Dockerfile" {
		t.Errorf("build %+v: want context %s, deploy/Dockerfile", app.Build, root)
	} else if _, err := os.Stat(filepath.Join(root, app.Build.Dockerfile)); err != nil {
		t.Error(err)
	}

	// PostgreSQL and NATS have health checks, and approvald waits for them.
	for _, dep := range []string{"postgres", "nats"} {
		hc := project.Services[dep].HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) < 2 || hc.Interval == nil || hc.Retries == nil {
			t.Errorf("%s: health check %+v", dep, hc)
		}
		if d, ok := app.DependsOn[dep]; !ok || d.Condition != types.ServiceConditionHealthy {
			t.Errorf("approvald does not wait for a healthy %s: %+v", dep, app.DependsOn)
		}
	}
	if cmd := project.Services["nats"].Command; !slices.Contains(cmd, "--jetstream") {
		t.Errorf("NATS without JetStream: %v", cmd)
	}

	environment := func(name string) string {
		if v := app.Environment[name]; v != nil {
			return *v
		}
		return ""
	}
	if db := environment("APPROVALD_DATABASE"); !strings.HasPrefix(db, "postgres://approvald:approvald@postgres:5432/approvald") {
		t.Errorf("APPROVALD_DATABASE = %q", db)
	}
	if got := environment("APPROVALD_NATS_URL"); got != "nats://nats:4222" {
		t.Errorf("APPROVALD_NATS_URL = %q", got)
	}

	// Locked down: read-only root, uid 65532, no capabilities.
	if !app.ReadOnly || app.User != "65532:65532" || !slices.Equal(app.CapDrop, []string{"ALL"}) ||
		!slices.Contains(app.SecurityOpt, "no-new-privileges:true") || !slices.Contains(app.Tmpfs, "/tmp") {
		t.Errorf("approvald is not locked down: read_only %v, user %q, cap_drop %v, security_opt %v, tmpfs %v",
			app.ReadOnly, app.User, app.CapDrop, app.SecurityOpt, app.Tmpfs)
	}

	// The data volume, and the port.
	if !slices.ContainsFunc(app.Volumes, func(v types.ServiceVolumeConfig) bool {
		return v.Type == types.VolumeTypeVolume && v.Source == "approvald-data" && v.Target == "/data"
	}) {
		t.Errorf("no approvald-data volume on /data: %+v", app.Volumes)
	}
	if _, ok := project.Volumes["approvald-data"]; !ok {
		t.Error("the approvald-data volume is not declared")
	}
	if len(app.Ports) != 1 || app.Ports[0].Target != 8000 || app.Ports[0].Published != "8000" {
		t.Errorf("ports %+v", app.Ports)
	}
}
