#!/bin/sh
# Starts dockerd with mutual TLS on :2376 (what docker:dind does), after generating, once, a CA and
#   /certs/server/{ca,cert,key}.pem  for this engine (names: dind, localhost, $DIND_TLS_SAN)
#   /certs/client/{ca,cert,key}.pem  for warden, owned by WARDEN_CLIENT_UID (default 10001) and readable only by it
# Only holders of the client key can use the engine; the plain-TCP port 2375 is never opened.
set -eu
CERTS="${DOCKER_TLS_CERTDIR:-/certs}"
UID_CLIENT="${WARDEN_CLIENT_UID:-10001}"
DAYS="${DIND_TLS_DAYS:-825}"

gen() {
  umask 077
  mkdir -p "$CERTS/ca" "$CERTS/server" "$CERTS/client"
  openssl genrsa -out "$CERTS/ca/key.pem" 4096 2>/dev/null
  openssl req -new -x509 -days "$DAYS" -key "$CERTS/ca/key.pem" -subj "/CN=warden-dind-ca" -out "$CERTS/ca/cert.pem"
  san="DNS:dind,DNS:localhost,DNS:$(hostname),IP:127.0.0.1"
  [ -n "${DIND_TLS_SAN:-}" ] && san="$san,$DIND_TLS_SAN"
  openssl genrsa -out "$CERTS/server/key.pem" 4096 2>/dev/null
  openssl req -new -key "$CERTS/server/key.pem" -subj "/CN=dind" -out "$CERTS/server/csr.pem"
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" >"$CERTS/server/ext.cnf"
  openssl x509 -req -days "$DAYS" -in "$CERTS/server/csr.pem" -CA "$CERTS/ca/cert.pem" -CAkey "$CERTS/ca/key.pem" \
    -CAcreateserial -extfile "$CERTS/server/ext.cnf" -out "$CERTS/server/cert.pem" 2>/dev/null
  openssl genrsa -out "$CERTS/client/key.pem" 4096 2>/dev/null
  openssl req -new -key "$CERTS/client/key.pem" -subj "/CN=warden" -out "$CERTS/client/csr.pem"
  printf 'extendedKeyUsage=clientAuth\n' >"$CERTS/client/ext.cnf"
  openssl x509 -req -days "$DAYS" -in "$CERTS/client/csr.pem" -CA "$CERTS/ca/cert.pem" -CAkey "$CERTS/ca/key.pem" \
    -CAcreateserial -extfile "$CERTS/client/ext.cnf" -out "$CERTS/client/cert.pem" 2>/dev/null
  cp "$CERTS/ca/cert.pem" "$CERTS/server/ca.pem"
  cp "$CERTS/ca/cert.pem" "$CERTS/client/ca.pem"
  rm -f "$CERTS"/*/csr.pem "$CERTS"/*/ext.cnf
  chmod 0755 "$CERTS" "$CERTS/client"
  chmod 0644 "$CERTS/client/ca.pem" "$CERTS/client/cert.pem"
  chmod 0400 "$CERTS/client/key.pem"
  chown -R "$UID_CLIENT" "$CERTS/client"
  echo "dind: generated TLS material in $CERTS (client certs for uid $UID_CLIENT)"
}

[ -f "$CERTS/server/cert.pem" ] || gen

# Nested engines on cgroup v2 need the root cgroup's processes moved out before controllers can be delegated.
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  mkdir -p /sys/fs/cgroup/init
  xargs -rn1 </sys/fs/cgroup/cgroup.procs >/sys/fs/cgroup/init/cgroup.procs 2>/dev/null || true
  sed -e 's/ / +/g' -e 's/^/+/' </sys/fs/cgroup/cgroup.controllers >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
fi

exec dockerd \
  --host=unix:///var/run/docker.sock \
  --host=tcp://0.0.0.0:2376 \
  --tlsverify \
  --tlscacert="$CERTS/server/ca.pem" \
  --tlscert="$CERTS/server/cert.pem" \
  --tlskey="$CERTS/server/key.pem" \
  "$@"
