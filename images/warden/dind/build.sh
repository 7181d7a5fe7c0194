#!/usr/bin/env bash
# Builds warden/dind:1 — the dedicated Docker engine (Docker-in-Docker sidecar) of compose.yaml — from
# warden/base:1 plus Debian's docker.io (docker:dind cannot be pulled: no registry). Needs Debian's
# package mirror at build time, like images/base/build.sh.
# Env: WARDEN_DIND_IMAGE (default warden/dind:1).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
IMAGE="${WARDEN_DIND_IMAGE:-warden/dind:1}"
if ! docker image inspect warden/base:1 >/dev/null 2>&1; then
  [ -f "$REPO/images/base/build.sh" ] || { echo "dind: warden/base:1 is missing and images/base/build.sh is not there" >&2; exit 2; }
  bash "$REPO/images/base/build.sh"
fi
echo "dind: docker build $IMAGE (apt-get install docker.io iptables openssl)"
LOG="$(mktemp /tmp/warden-dind-build.XXXXXX)"
trap 'rm -f "$LOG"' EXIT
if ! DOCKER_BUILDKIT=0 docker build -t "$IMAGE" "$HERE" 2>&1 | tee "$LOG" | { grep --line-buffered -E "^Step " || true; } | sed -u "s/^/dind:   /"; then
  tail -40 "$LOG" >&2
  echo "dind: docker build failed" >&2
  exit 1
fi
echo "dind: built $IMAGE"
