// Package deployments holds no code: it is the deployment kit (Redis,
// Prometheus rules and config, Alertmanager, Grafana, docker-compose,
// Kubernetes, systemd) and the tests that check every file of it with the
// tool that reads it, and that run the alerts end to end through a real
// Prometheus and a real Alertmanager.
package deployments
