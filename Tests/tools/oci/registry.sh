#!/usr/bin/env bash
# registry.sh start DIR [--token | --token-creds USER:PASSWORD | --htpasswd USER:PASSWORD | --tls] | stop DIR
# Starts Debian's docker-registry on a free port of 127.0.0.1 with its storage in DIR/data
# (and, with --token, distribution's token auth backed by token_server.py and a fresh
# self-signed certificate; --token-creds: the same, the token service giving tokens only to
# USER:PASSWORD over HTTP Basic; --htpasswd: HTTP Basic auth of the registry itself for
# USER:PASSWORD; with --tls, HTTPS with a self-signed certificate, DIR/tls-cert.pem); prints
# the port. `stop` ends both processes by their pid files.
set -euo pipefail
cmd=$1 dir=$2 mode=${3:-} creds=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
case "$cmd" in
start)
  # The daemons must not keep descriptors of whoever started this script (a test runner
  # waits for its pipes to close and for a status socket it passed down): close all above 2.
  for fd in /proc/$$/fd/*; do
    fd=${fd##*/}
    [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null || true
  done
  mkdir -p "$dir/data"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  auth="" tls="" scheme=http
  if [ "$mode" = --tls ]; then
    # HTTPS with a fresh self-signed certificate for 127.0.0.1 (which no client trusts).
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/tls-key.pem" -out "$dir/tls-cert.pem" -days 2 \
      -subj /CN=127.0.0.1 -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1
    tls="  tls:
    certificate: $dir/tls-cert.pem
    key: $dir/tls-key.pem"
    scheme=https
  fi
  if [ "$mode" = --htpasswd ]; then
    htpasswd -Bbn "${creds%%:*}" "${creds#*:}" > "$dir/htpasswd"
    auth="auth:
  htpasswd:
    realm: stamp-test
    path: $dir/htpasswd"
  fi
  if [ "$mode" = --token-creds ]; then printf '%s' "$creds" > "$dir/token.creds"; fi
  if [ "$mode" = --token ] || [ "$mode" = --token-creds ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/key.pem" -out "$dir/cert.pem" -days 2 \
      -subj /CN=stamp-test-token >/dev/null 2>&1
    python3 "$here/token_server.py" "$dir" > "$dir/token.port" 2>"$dir/token.log" &
    echo $! > "$dir/token.pid"
    for _ in $(seq 50); do [ -s "$dir/token.port" ] && break; sleep 0.1; done
    auth="auth:
  token:
    realm: http://127.0.0.1:$(head -1 "$dir/token.port")/token
    service: stamp-test
    issuer: stamp-test-issuer
    rootcertbundle: $dir/cert.pem"
  fi
  cat > "$dir/config.yml" <<CONF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/data
http:
  addr: 127.0.0.1:$port
$tls
$auth
CONF
  docker-registry serve "$dir/config.yml" > "$dir/registry.log" 2>&1 &
  echo $! > "$dir/registry.pid"
  for _ in $(seq 100); do
    curl -sk -o /dev/null "$scheme://127.0.0.1:$port/v2/" && { echo "$port"; exit 0; }
    sleep 0.1
  done
  echo "registry did not start: $(cat "$dir/registry.log")" >&2; exit 1 ;;
stop)
  for p in registry token; do
    [ -f "$dir/$p.pid" ] && kill "$(cat "$dir/$p.pid")" 2>/dev/null || true
  done ;;
esac
