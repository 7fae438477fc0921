# Sourced by the compose scripts: podman with this directory's containers.conf.
# shellcheck shell=bash
COMPOSE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export CONTAINERS_CONF="$COMPOSE_DIR/containers.conf"
