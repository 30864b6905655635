#!/usr/bin/env bash
# Installs the real components the tests run against, when they are missing:
# redis-server (and redis-benchmark, for make bench; redis-cli, which forms the
# test Clusters; redis-sentinel, for the Sentinel tests), and Chromium, which the
# dashboard's browser tests drive headless (and crowdflow report --format pdf
# prints with); poppler-utils, which reads the report PDFs back; for the
# deployment kit's tests (deployments/): Prometheus and promtool, Alertmanager
# and amtool, Caddy (caddy validate) and systemd-analyze. Debian packages, through apt-get
# when run as root; otherwise it says what to install and fails.
set -euo pipefail

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-benchmark >/dev/null && command -v redis-cli >/dev/null || need+=(redis-tools)
command -v redis-sentinel >/dev/null || need+=(redis-sentinel)
command -v chromium >/dev/null || command -v chromium-browser >/dev/null ||
  command -v google-chrome >/dev/null || need+=(chromium)
command -v prometheus >/dev/null && command -v promtool >/dev/null || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null || command -v alertmanager >/dev/null ||
  need+=(prometheus-alertmanager)
command -v amtool >/dev/null || need+=(prometheus-alertmanager)
command -v caddy >/dev/null || need+=(caddy)
command -v systemd-analyze >/dev/null || need+=(systemd)
# The reports' PDF tests read the PDFs back with poppler's pdftotext and pdftoppm.
command -v pdftotext >/dev/null && command -v pdftoppm >/dev/null || need+=(poppler-utils)

# Each package once (amtool and alertmanager come in the same one).
mapfile -t need < <(printf '%s\n' "${need[@]}" | awk 'NF && !seen[$0]++')
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "missing: ${need[*]}; install these Debian packages (as root: apt-get install ${need[*]})" >&2
  exit 1
fi
echo "installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
