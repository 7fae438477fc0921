#!/usr/bin/env bash
# Builds, once per machine, the local images the compose test uses where docker-compose.yml names
# registry images (no registry is reachable on the test machines): a Debian bookworm base made with
# debootstrap from the mirror apt uses, and on it Python 3.11, PostgreSQL, Redis and RabbitMQ images. An
# image already present is reused; FORCE=1 rebuilds them all.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/podman-env.sh"

BASE=localhost/otpsvc-test/debian:bookworm
FORCE=${FORCE:-0}

have() { [ "$FORCE" != 1 ] && podman image exists "$1"; }

apt_mirror() {
  # The first Debian archive URI of apt's own configuration (deb822 or one-line format).
  local uri
  uri=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n1 || true)
  [ -n "$uri" ] || uri=$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
    | awk '{print $2}' | grep -v security | head -n1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

build_base() {
  have "$BASE" && return 0
  local root mirror
  mirror=$(apt_mirror)
  root=$(mktemp -d /var/tmp/otpsvc-debootstrap.XXXXXX)
  trap 'rm -rf "$root"' RETURN
  echo "debootstrap bookworm from $mirror" >&2
  debootstrap --variant=minbase --include=ca-certificates bookworm "$root" "$mirror" >/dev/null
  # The same mirror inside the image, so builds on it can apt-get.
  echo "deb $mirror bookworm main" > "$root/etc/apt/sources.list"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | podman import --change 'CMD ["/bin/bash"]' - "$BASE" >/dev/null
}

build_on_base() {  # name, directory under images/
  have "$1" && return 0
  podman build -q --build-arg BASE_IMAGE="$BASE" -t "$1" "$COMPOSE_DIR/images/$2" >/dev/null
}

build_base
build_on_base localhost/otpsvc-test/python:3.11 python
build_on_base localhost/otpsvc-test/postgres:15 postgres
build_on_base localhost/otpsvc-test/redis:7 redis
build_on_base localhost/otpsvc-test/rabbitmq:3 rabbitmq
echo "local base images ready" >&2
