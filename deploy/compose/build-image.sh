#!/usr/bin/env bash
# Builds the project's image from the Dockerfile for the compose test: on the local Python base
# (base-images.sh, built once per machine), with this host's extra CA certificates and its pip
# index settings as build arguments, so pip inside the build reaches PyPI the way the host does.
# Usage: build-image.sh TAG. podman's layer cache makes a rebuild of unchanged layers quick.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/podman-env.sh"
tag=${1:?usage: build-image.sh TAG}
repo=$(cd "$COMPOSE_DIR/../.." && pwd)

"$COMPOSE_DIR/base-images.sh"

# The certificates update-ca-certificates adds to this host's bundle beyond Debian's own.
extra_ca=""
for crt in /usr/local/share/ca-certificates/*.crt; do
  [ -f "$crt" ] && extra_ca+="$(cat "$crt")"$'\n'
done

# pip's index settings (environment first, then pip's config files); local file:// indexes and
# find-links do not exist inside the build and are left out.
pip_opt() { local v=${!1:-}; [ -n "$v" ] || v=$(pip config get "$2" 2>/dev/null || true); echo "$v"; }
pip_options=""
index=$(pip_opt PIP_INDEX_URL global.index-url)
[[ "$index" == http* ]] && pip_options+=" --index-url $index"
for url in $(pip_opt PIP_EXTRA_INDEX_URL global.extra-index-url); do
  [[ "$url" == http* ]] && pip_options+=" --extra-index-url $url"
done
for host in $(pip_opt PIP_TRUSTED_HOST global.trusted-host); do
  pip_options+=" --trusted-host $host"
done

podman build -q --layers -f "$repo/Dockerfile" -t "$tag" \
  --build-arg BASE_IMAGE=localhost/otpsvc-test/python:3.11 \
  --build-arg EXTRA_CA_CERTS="$extra_ca" \
  --build-arg PIP_INSTALL_OPTIONS="$pip_options" \
  "$repo" >/dev/null
echo "built $tag" >&2
