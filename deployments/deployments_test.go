package deployments_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
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
