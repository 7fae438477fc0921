#!/bin/sh
# Like the official image: the user and password from RABBITMQ_DEFAULT_USER / RABBITMQ_DEFAULT_PASS
# (made at the first start), reachable from other containers, as user rabbitmq, logs on stdout.
set -e
if [ "$1" = rabbitmq-server ]; then
  shift
  user=${RABBITMQ_DEFAULT_USER:-guest}
  pass=${RABBITMQ_DEFAULT_PASS:-guest}
  {
    echo "listeners.tcp.default = 5672"
    echo "default_user = $user"
    echo "default_pass = $pass"
    echo "loopback_users = none"
  } > /etc/rabbitmq/rabbitmq.conf
  chown rabbitmq:rabbitmq /etc/rabbitmq/rabbitmq.conf && chmod 600 /etc/rabbitmq/rabbitmq.conf
  chown -R rabbitmq:rabbitmq /var/lib/rabbitmq
  cd /var/lib/rabbitmq
  exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups env HOME=/var/lib/rabbitmq \
    /usr/lib/rabbitmq/bin/rabbitmq-server "$@"
fi
exec "$@"
