package deployments_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"go.yaml.in/yaml/v3"
)

// The files that name metrics: the rules and the Grafana dashboard.
var metricFiles = []string{"prometheus/rules.yml", "grafana/dashboards/crowdflow.json"}

// kitMetrics lists the gateway's metrics (crowdflow_*) that the kit's rules
// and dashboard name; recording rules (level:metric:operations) are not
// metrics of the gateway and are left out.
func kitMetrics(tb testing.TB) []string {
	tb.Helper()
	ident := regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
	var names []string
	for _, f := range metricFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		for _, id := range ident.FindAllString(string(b), -1) {
			if strings.HasPrefix(id, "crowdflow_") && !strings.Contains(id, ":") && !slices.Contains(names, id) {
				names = append(names, id)
			}
		}
	}
	slices.Sort(names)
	return names
}

// TestToolsAcceptTheKit runs each kit file through the tool that reads it.
// A tool that succeeds with warnings (systemd-analyze prints them and
// exits 0) fails the test too.
func TestToolsAcceptTheKit(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		tool []string // the program (the first found on PATH), then its arguments
	}{
		"promtool check rules":   {[]string{"promtool", "check", "rules", "prometheus/rules.yml"}},
		"promtool test rules":    {[]string{"promtool", "test", "rules", "prometheus/rules_test.yml"}},
		"promtool check laptop":  {[]string{"promtool", "check", "config", "prometheus/prometheus.yml"}},
		"promtool check compose": {[]string{"promtool", "check", "config", "prometheus/compose.yml"}},
		"amtool check-config":    {[]string{"amtool", "check-config", "alertmanager/alertmanager.yml"}},
		"caddy validate":         {[]string{"caddy", "validate", "--config", "caddy/Caddyfile", "--adapter", "caddyfile"}},
		"systemd-analyze verify": {[]string{"systemd-analyze", "verify", "systemd/crowdflow-gateway.service"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			bin := MustTool(t, tc.tool[0])
			args := slices.Clone(tc.tool[1:])
			if tc.tool[0] == "systemd-analyze" {
				// verify checks that ExecStart's program exists: a copy of
				// the unit runs the crowdflow just built instead of
				// /usr/local/bin/crowdflow.
				args[len(args)-1] = unitCopy(t, args[len(args)-1])
			}
			cmd := exec.Command(bin, args...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			if err != nil {
				t.Fatalf("%s %s: %v\n%s", tc.tool[0], strings.Join(args, " "), err, out.String())
			}
			if tc.tool[0] == "systemd-analyze" && strings.TrimSpace(out.String()) != "" {
				t.Fatalf("systemd-analyze verify warns:\n%s", out.String())
			}
		})
	}
}

// unitCopy copies a systemd unit into a temporary directory with the
// installed binary's path pointing at the crowdflow just built.
func unitCopy(tb testing.TB, unit string) string {
	tb.Helper()
	b, err := os.ReadFile(unit)
	if err != nil {
		tb.Fatal(err)
	}
	if !bytes.Contains(b, []byte("/usr/local/bin/crowdflow ")) {
		tb.Fatalf("%s does not run /usr/local/bin/crowdflow", unit)
	}
	b = bytes.ReplaceAll(b, []byte("/usr/local/bin/crowdflow "), []byte(MustBuild(tb)+" "))
	path := filepath.Join(tb.TempDir(), filepath.Base(unit))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// yamlDocs decodes every document of a YAML file.
func yamlDocs(tb testing.TB, path string) []map[string]any {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var docs []map[string]any
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
		docs = append(docs, d)
	}
}

// dig walks maps and lists: a string key for a map, an int for a list.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// TestComposeFile: valid YAML with the services the kit promises, every
// file it mounts from the repository exists, and its gateways sit behind
// the proxy.
func TestComposeFile(t *testing.T) {
	t.Parallel()
	docs := yamlDocs(t, "docker-compose.yml")
	if len(docs) != 1 {
		t.Fatalf("%d documents, want 1", len(docs))
	}
	services, _ := docs[0]["services"].(map[string]any)
	for _, s := range []string{"redis", "gateway-1", "gateway-2", "proxy", "prometheus", "alertmanager", "grafana"} {
		if services[s] == nil {
			t.Errorf("no service %s", s)
		}
	}
	for name, s := range services {
		vols, _ := dig(s, "volumes").([]any)
		for _, v := range vols {
			src, _, _ := strings.Cut(v.(string), ":")
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(src); err != nil {
					t.Errorf("service %s mounts %s: %v", name, src, err)
				}
			}
		}
	}
	caddy, err := os.ReadFile("caddy/Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(caddy, []byte("reverse_proxy gateway-1:8080 gateway-2:8080")) {
		t.Error("the Caddyfile does not proxy to both gateways")
	}
}

// TestKubernetesManifests: valid YAML; the gateway Deployment is ready on
// /readyz, has a PodDisruptionBudget, a Service named crowdflow (the job
// the rules expect), and is scraped (annotations and a ServiceMonitor).
func TestKubernetesManifests(t *testing.T) {
	t.Parallel()
	kinds := map[string]map[string]any{}
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	for _, f := range files {
		for _, d := range yamlDocs(t, f) {
			kind, _ := d["kind"].(string)
			if kind == "" || d["apiVersion"] == nil || dig(d, "metadata", "name") == nil {
				t.Errorf("%s: a document without kind, apiVersion or name", f)
			}
			kinds[kind] = d
		}
	}
	dep := kinds["Deployment"]
	c := dig(dep, "spec", "template", "spec", "containers", 0)
	checks := map[string]struct{ got, want any }{
		"readiness path":      {dig(c, "readinessProbe", "httpGet", "path"), "/readyz"},
		"liveness path":       {dig(c, "livenessProbe", "httpGet", "path"), "/healthz"},
		"scrape annotation":   {dig(dep, "spec", "template", "metadata", "annotations", "prometheus.io/scrape"), "true"},
		"service name":        {dig(kinds["Service"], "metadata", "name"), "crowdflow"},
		"PDB min available":   {dig(kinds["PodDisruptionBudget"], "spec", "minAvailable"), 1},
		"ServiceMonitor port": {dig(kinds["ServiceMonitor"], "spec", "endpoints", 0, "port"), "metrics"},
		"metrics port":        {dig(kinds["Service"], "spec", "ports", 1, "name"), "metrics"},
		"redis from secret":   {dig(c, "env", 0, "valueFrom", "secretKeyRef", "name"), dig(kinds["Secret"], "metadata", "name")},
	}
	for name, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: %v, want %v", name, ch.got, ch.want)
		}
	}
}

// TestGrafanaFiles: the provisioning files are valid YAML, the dashboard
// is valid JSON, and every panel queries the provisioned datasource.
func TestGrafanaFiles(t *testing.T) {
	t.Parallel()
	ds := yamlDocs(t, "grafana/provisioning/datasources/prometheus.yml")
	uid := dig(ds[0], "datasources", 0, "uid")
	if uid == nil {
		t.Fatal("the datasource has no uid")
	}
	if dig(yamlDocs(t, "grafana/provisioning/dashboards/crowdflow.yml")[0], "providers", 0, "options", "path") == nil {
		t.Error("the dashboard provider has no path")
	}
	dash := mustDashboard(t)
	if dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatalf("dashboard: uid %q, %d panels", dash.UID, len(dash.Panels))
	}
	for _, p := range dash.Panels {
		if p.Datasource.UID != uid || len(p.Targets) == 0 {
			t.Errorf("panel %q: datasource %q, %d queries; want %v and at least one", p.Title, p.Datasource.UID, len(p.Targets), uid)
		}
		for _, q := range p.Targets {
			if strings.TrimSpace(q.Expr) == "" {
				t.Errorf("panel %q: an empty query", p.Title)
			}
		}
	}
}

// dashboard is the part of the Grafana dashboard the tests read.
type dashboard struct {
	UID    string `json:"uid"`
	Panels []struct {
		Title      string `json:"title"`
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

func mustDashboard(tb testing.TB) dashboard {
	tb.Helper()
	b, err := os.ReadFile("grafana/dashboards/crowdflow.json")
	if err != nil {
		tb.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		tb.Fatalf("dashboard: %v", err)
	}
	return d
}

// dashboardQueries are the dashboard's PromQL queries, with its variables
// replaced so that Prometheus can parse them.
func dashboardQueries(tb testing.TB) []string {
	tb.Helper()
	var qs []string
	for _, p := range mustDashboard(tb).Panels {
		for _, q := range p.Targets {
			qs = append(qs, strings.ReplaceAll(q.Expr, "$zone", ".*"))
		}
	}
	return qs
}

// crowdflowCommands are the crowdflow command lines of the kit: compose's
// commands for the crowdflow image, the Kubernetes containers' args and
// environment, and the systemd units' Exec lines.
func crowdflowCommands(tb testing.TB) map[string][]string {
	tb.Helper()
	cmds := map[string][]string{}
	strs := func(v any) []string {
		l, _ := v.([]any)
		var out []string
		for _, s := range l {
			out = append(out, s.(string))
		}
		return out
	}
	compose := yamlDocs(tb, "docker-compose.yml")[0]
	services, _ := compose["services"].(map[string]any)
	for name, s := range services {
		if img, _ := dig(s, "image").(string); strings.HasPrefix(img, "crowdflow") {
			cmds["compose "+name] = strs(dig(s, "command"))
		}
	}
	for _, d := range yamlDocs(tb, "k8s/gateway.yaml") {
		cs, _ := dig(d, "spec", "template", "spec", "containers").([]any)
		for _, c := range cs {
			args := strs(dig(c, "args"))
			envs, _ := dig(c, "env").([]any)
			for _, e := range envs {
				if n, _ := dig(e, "name").(string); strings.HasPrefix(n, "CROWDFLOW_") {
					// CONTRACT §1: CROWDFLOW_<FLAG>, upper case, - as _.
					args = append(args, "--"+strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(n, "CROWDFLOW_")), "_", "-"), "ENV")
				}
			}
			cmds["k8s "+dig(c, "name").(string)] = args
		}
	}
	units, _ := filepath.Glob("systemd/*.service")
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			tb.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			key, val, ok := strings.Cut(line, "=")
			if ok && strings.HasPrefix(key, "Exec") && strings.Contains(val, "crowdflow ") {
				f := strings.Fields(val)
				cmds[u+" "+key] = f[1:]
			}
		}
	}
	return cmds
}

// TestKitUsesRealFlags: every crowdflow command in the kit names a
// subcommand and flags the binary has (`crowdflow SUB -h`).
func TestKitUsesRealFlags(t *testing.T) {
	t.Parallel()
	bin := MustBuild(t)
	cmds := crowdflowCommands(t)
	for _, want := range []string{"compose gateway-1", "compose keys", "k8s gateway", "systemd/crowdflow-gateway.service ExecStart"} {
		if cmds[want] == nil {
			t.Errorf("no crowdflow command found for %s", want)
		}
	}
	flagLine := regexp.MustCompile(`(?m)^\s+-([a-z][a-z0-9-]*)`)
	help := map[string][]string{}
	for where, args := range cmds {
		if len(args) == 0 || strings.HasPrefix(args[0], "-") {
			t.Errorf("%s: no subcommand in %q", where, args)
			continue
		}
		sub := args[0]
		if help[sub] == nil {
			out, _ := exec.Command(bin, sub, "-h").CombinedOutput()
			for _, m := range flagLine.FindAllStringSubmatch(string(out), -1) {
				help[sub] = append(help[sub], m[1])
			}
			if len(help[sub]) == 0 {
				t.Errorf("%s: crowdflow %s -h lists no flags:\n%s", where, sub, out)
				continue
			}
		}
		for _, a := range args[1:] {
			if !strings.HasPrefix(a, "-") {
				continue
			}
			name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if !slices.Contains(help[sub], name) {
				t.Errorf("%s: crowdflow %s has no flag %s (it has %v)", where, sub, a, help[sub])
			}
		}
	}
}

// TestRedisConf: a real redis-server started with the kit's redis.conf
// (port, directory and address moved to the test's) runs with the
// durability the kit promises.
func TestRedisConf(t *testing.T) {
	t.Parallel()
	bin := MustTool(t, "redis-server")
	conf, err := filepath.Abs("redis/redis.conf")
	if err != nil {
		t.Fatal(err)
	}
	addr := FreeAddr(t)
	_, port, _ := strings.Cut(addr, ":")
	dir := t.TempDir()
	srv := MustStart(t, "redis-server", bin, conf, "--port", port, "--bind", "127.0.0.1", "--dir", dir)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	Eventually(t, "redis-server answers", func() bool {
		select {
		case <-srv.done:
			t.Fatalf("redis-server exited: %s", srv.Output())
		default:
		}
		return rdb.Ping(ctx).Err() == nil
	})
	for key, want := range map[string]string{
		"appendonly":       "yes",
		"appendfsync":      "always",
		"maxmemory-policy": "noeviction",
		"save":             "",
	} {
		got, err := rdb.ConfigGet(ctx, key).Result()
		if err != nil || got[key] != want {
			t.Errorf("CONFIG GET %s: %v %v, want %q", key, got, err, want)
		}
	}
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	aofs, _ := filepath.Glob(filepath.Join(dir, "*", "crowdflow.aof*"))
	if len(aofs) == 0 {
		t.Errorf("no append-only file in %s", dir)
	}
}

// kitAlert is an alerting rule of rules.yml.
type kitAlert struct {
	Alert         string            `yaml:"alert"`
	For           string            `yaml:"for"`
	KeepFiringFor string            `yaml:"keep_firing_for"`
	Labels        map[string]string `yaml:"labels"`
	Annotations   map[string]string `yaml:"annotations"`
}

func kitAlerts(tb testing.TB) []kitAlert {
	tb.Helper()
	var rules struct {
		Groups []struct {
			Rules []kitAlert `yaml:"rules"`
		} `yaml:"groups"`
	}
	mustYAML(tb, "prometheus/rules.yml", &rules)
	var as []kitAlert
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				as = append(as, r)
			}
		}
	}
	return as
}

// TestEveryAlert: the alerts the issue lists are all there; each has a
// severity, a summary, a description and a runbook entry that exists in
// RUNBOOK.md; Alertmanager routes it to the receiver of its category
// (amtool config routes test); and a unit test in rules_test.yml.
func TestEveryAlert(t *testing.T) {
	t.Parallel()
	amtool := MustTool(t, "amtool")
	runbook, err := os.ReadFile("RUNBOOK.md")
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile("prometheus/rules_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	alerts := kitAlerts(t)
	var names []string
	for _, a := range alerts {
		names = append(names, a.Alert)
	}
	for _, want := range []string{"ZoneOccupancyWarning", "ZoneOccupancyCritical", "ZoneFull", "ZoneFillingFast",
		"GateSilent", "GatewayDown", "StoreUnavailable", "HighRefusalRate", "OfflineOverrides"} {
		if !slices.Contains(names, want) {
			t.Errorf("no alert %s in rules.yml", want)
		}
	}
	for _, a := range alerts {
		t.Run(a.Alert, func(t *testing.T) {
			t.Parallel()
			if a.Labels["severity"] == "" || a.Labels["category"] == "" || a.For == "" {
				t.Errorf("labels %v, for %q: want a severity, a category and a for", a.Labels, a.For)
			}
			for _, k := range []string{"summary", "description", "runbook"} {
				if a.Annotations[k] == "" {
					t.Errorf("no %s annotation", k)
				}
			}
			anchor := "#" + strings.ToLower(a.Alert)
			if a.Annotations["runbook"] != "deployments/RUNBOOK.md"+anchor || !bytes.Contains(runbook, []byte("\n## "+a.Alert+"\n")) {
				t.Errorf("runbook %q: want deployments/RUNBOOK.md%s and a section ## %s in RUNBOOK.md", a.Annotations["runbook"], anchor, a.Alert)
			}
			if !bytes.Contains(tests, []byte("alertname: "+a.Alert+"\n")) {
				t.Errorf("no unit test for %s in rules_test.yml", a.Alert)
			}
			args := []string{"config", "routes", "test", "--config.file", "alertmanager/alertmanager.yml",
				"--verify.receivers=" + a.Labels["category"], "alertname=" + a.Alert}
			for k, v := range a.Labels {
				args = append(args, k+"="+v)
			}
			if out, err := exec.Command(amtool, args...).CombinedOutput(); err != nil {
				t.Errorf("amtool %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
}
