#!/usr/bin/env bash
# Installs ION Monitoring. With --test, also the test tools and the real servers the
# tests start (Redis, PostgreSQL, Prometheus, Alertmanager, VictoriaMetrics, Chromium,
# from Debian).
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0
[ "${1:-}" = "--test" ] && with_tests=1

if [ "$with_tests" = 1 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends \
      redis-server postgresql prometheus prometheus-alertmanager victoria-metrics \
      chromium >/dev/null
  else
    echo "apt-get not found: install redis-server, postgresql, prometheus," \
         "prometheus-alertmanager, victoria-metrics and chromium yourself" >&2
  fi
  python3 -m pip install -q --disable-pip-version-check -e ".[test]"
else
  python3 -m pip install -q --disable-pip-version-check -e .
fi
