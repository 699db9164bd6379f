#!/usr/bin/env bash
# Starts Debian's ZooKeeper on 127.0.0.1, TLS only (nodepool 11 refuses plain connections),
# for NodepoolBuilderTests. Usage: zookeeper_tls.sh DIR
#
# In DIR: a throwaway CA (ca.pem), a server and a client certificate signed by it (for
# 127.0.0.1 and localhost), zoo.cfg, ZooKeeper's data and log. ZooKeeper runs in the
# background; its PID is written to DIR/zookeeper.pid and its port to DIR/port. Returns once a
# TLS handshake with the client certificate succeeds (openssl s_client), or fails naming why.
set -euo pipefail
dir=$(realpath "$1")
mkdir -p "$dir/data"
cd "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=stamp test CA" -keyout ca.key -out ca.pem 2>/dev/null
for who in server client; do
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$who" -keyout "$who.key" -out "$who.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >"$who.ext"
  openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile "$who.ext" \
    -out "$who.pem" 2>/dev/null
done
cat server.key server.pem >server-keystore.pem
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >zoo.cfg <<CFG
tickTime=2000
dataDir=$dir/data
secureClientPort=$port
secureClientPortAddress=127.0.0.1
serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory
ssl.keyStore.location=$dir/server-keystore.pem
ssl.keyStore.type=PEM
ssl.trustStore.location=$dir/ca.pem
ssl.trustStore.type=PEM
admin.enableServer=false
CFG
# Debian's classpath for ZooKeeper and its libraries.
# shellcheck disable=SC1091
. /etc/zookeeper/conf_example/environment 2>/dev/null || . /etc/zookeeper/conf/environment
# The TLS server (Netty) needs netty's codec and resolver, which zookeeper.jar's manifest omits.
CLASSPATH=$CLASSPATH:/usr/share/java/netty-codec.jar:/usr/share/java/netty-resolver.jar
# Every descriptor above 2 is closed first: one the caller left open (a pipe it reads to its
# end) would otherwise be held by ZooKeeper for as long as it runs.
(
  for fd in /proc/self/fd/*; do
    n=${fd##*/}
    [ "$n" -gt 2 ] && eval "exec $n>&-" 2>/dev/null
  done
  exec java -cp "$CLASSPATH" -Dzookeeper.log.dir="$dir" org.apache.zookeeper.server.ZooKeeperServerMain "$dir/zoo.cfg"
) >zookeeper.log 2>&1 </dev/null &
echo $! >zookeeper.pid
echo "$port" >port
deadline=$((SECONDS + 90))
while [ "$SECONDS" -lt "$deadline" ]; do
  if echo | timeout 3 openssl s_client -connect "127.0.0.1:$port" -CAfile ca.pem -cert client.pem -key client.key \
       -verify_return_error >/dev/null 2>&1; then
    exit 0
  fi
  kill -0 "$(cat zookeeper.pid)" 2>/dev/null || { echo "zookeeper_tls.sh: ZooKeeper exited" >&2; tail -20 zookeeper.log >&2; exit 1; }
  sleep 1
done
echo "zookeeper_tls.sh: no TLS handshake on 127.0.0.1:$port after 90 s" >&2
tail -20 zookeeper.log >&2
exit 1
