#!/usr/bin/env bash
# Tools the tests drive that pip cannot install: Debian's chromium (the browser tests, through
# Playwright), promtool from Debian's prometheus package (the alert rules), and podman with runc
# and debootstrap (the compose stack test, tests/deploy/, which builds its base images with
# debootstrap; Docker Compose itself comes from pip). Installs what is missing when run as root;
# otherwise says what to install, and those tests skip with that reason.
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
for tool in podman runc debootstrap; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("$tool")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "chromium, promtool, podman, runc and debootstrap are installed."
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing ${missing[*]}: run 'apt-get install -y ${missing[*]}' as root; until then the browser and alert-rule tests are skipped." >&2
  exit 0
fi
echo "Installing ${missing[*]} (apt-get)." >&2
export DEBIAN_FRONTEND=noninteractive
# Only promtool is wanted from the prometheus package: keep its daemon from being started.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
