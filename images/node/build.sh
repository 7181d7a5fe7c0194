#!/usr/bin/env bash
# Builds warden/node:1 offline: FROM warden/base:1 + the Node binary the repo pins
# (node_modules/node/bin/node, brought by `npm ci`), then checks that it runs as
# uid 65534 on a read-only root. Idempotent: nothing happens when the image exists
# (FORCE=1 rebuilds).
#
# Env: WARDEN_NODE_IMAGE  tag (default warden/node:1)
#      WARDEN_NODE        Node binary to ship when the repo's is absent (an installed
#                         mcp-warden has no dev dependencies): default the `node` on PATH
#      FORCE=1            rebuild even when the tag exists
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
IMAGE="${WARDEN_NODE_IMAGE:-warden/node:1}"
BASE="warden/base:1"

if [[ "${FORCE:-0}" != "1" ]] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "node: $IMAGE already present"
  exit 0
fi

NODE="$REPO/node_modules/node/bin/node"
[ -x "$NODE" ] || NODE="${WARDEN_NODE:-$(command -v node || true)}"
[ -n "$NODE" ] && [ -x "$NODE" ] || { echo "node: no Node binary to ship; run \`npm ci\` (it brings the pinned Node) or set WARDEN_NODE" >&2; exit 2; }
docker image inspect "$BASE" >/dev/null 2>&1 || bash "$REPO/images/base/build.sh"

STAGE="$(mktemp -d /tmp/warden-node-image.XXXXXX)"
trap 'rm -rf "$STAGE"' EXIT
cp "$NODE" "$STAGE/node"
cp "$HERE/Dockerfile" "$STAGE/Dockerfile"

echo "node: building $IMAGE with Node $("$NODE" --version) from $NODE"
# Classic builder: uses the local warden/base:1 and never contacts a registry; --network none: nothing to fetch.
if ! out="$(DOCKER_BUILDKIT=0 docker build -q --network none -t "$IMAGE" "$STAGE" 2>&1)"; then
  echo "$out" >&2
  echo "node: docker build of $IMAGE failed" >&2
  exit 1
fi

# A Node linked against libraries the Debian base lacks would only fail at call time: fail here instead.
out="$(docker run --rm --read-only --cap-drop ALL --security-opt no-new-privileges --network none --user 65534:65534 \
  "$IMAGE" node -e 'console.log(`ok ${process.version} uid=${process.getuid()}`)' 2>&1)" || true
case "$out" in
  "ok "*"uid=65534") echo "node: built $IMAGE ($out)" ;;
  *) echo "node: smoke test of $IMAGE failed: $out" >&2; docker rmi "$IMAGE" >/dev/null 2>&1 || true; exit 1 ;;
esac
