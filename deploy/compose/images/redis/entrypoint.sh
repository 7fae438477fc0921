#!/bin/sh
# Like the official image: as user redis, and without protected mode (it refuses other containers
# when no password is set; the network is the stack's own).
set -e
if [ "$1" = redis-server ]; then
  shift
  exec setpriv --reuid=redis --regid=redis --init-groups redis-server --bind 0.0.0.0 --protected-mode no "$@"
fi
exec "$@"
