#!/usr/bin/env bash
# Tools the tests drive that pip cannot install: Debian's chromium (the browser tests, through
# Playwright), promtool from Debian's prometheus package (the alert rules), RabbitMQ (the broker
# chaos test), pgbouncer (tests/workers/test_pgbouncer.py), and podman with runc and debootstrap
# (the compose stack test, tests/deploy/, which builds its base images with debootstrap; Docker
# Compose itself comes from pip). Installs what is
# missing when run as root, and starts RabbitMQ if it is installed but stopped; otherwise says what
# to install. Those tests skip with the reason on a developer's machine, and fail under CI
# (CI=true), where every tool must be present.
set -euo pipefail

rabbitmq_up() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
[ -x /usr/sbin/rabbitmqctl ] || command -v rabbitmqctl >/dev/null 2>&1 || missing+=(rabbitmq-server)
[ -x /usr/sbin/pgbouncer ] || command -v pgbouncer >/dev/null 2>&1 || missing+=(pgbouncer)
for tool in podman runc debootstrap; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("$tool")
done
# Compose services find each other by name: podman's CNI networks need the dnsname plugin for that
# (without it the migrate container cannot resolve "postgres"), and Debian's podman does not pull it in.
[ -x /usr/lib/cni/dnsname ] || missing+=(golang-github-containernetworking-plugin-dnsname)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "Missing ${missing[*]}: run 'apt-get install -y ${missing[*]}' as root; until then the tests that need them are skipped (and fail under CI)." >&2
    exit 0
  fi
  echo "Installing ${missing[*]} (apt-get)." >&2
  export DEBIAN_FRONTEND=noninteractive
  # Only the tools are wanted from these packages: keep their daemons from being started here.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The broker chaos test talks to a RabbitMQ on 127.0.0.1:5672 (guest/guest, local only).
if ! rabbitmq_up && [ -x /usr/sbin/rabbitmq-server ] && [ "$(id -u)" -eq 0 ]; then
  echo "RabbitMQ is stopped; starting it." >&2
  /usr/sbin/rabbitmq-server -detached
  /usr/sbin/rabbitmqctl -q await_startup --timeout 120 || echo "RabbitMQ did not start; its test will say so." >&2
fi
echo "chromium, promtool, RabbitMQ, pgbouncer, podman, runc and debootstrap are checked."
