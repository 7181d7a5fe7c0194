#!/usr/bin/env bash
# Builds warden/egress:1 offline: FROM warden/node:1 (built first if missing) + the compiled egress proxy
# (sandboxes/docker/egress-proxy-main.js) and exactly the modules it imports, + ipaddr.js. The image is
# labelled with the sha256 of what it holds and rebuilt only when that changes, so the proxy container
# always runs the policy code of the warden that built it. Then a smoke test: the proxy must start as uid
# 65534 on a read-only root with no capabilities and say `ready`.
#
# Env: WARDEN_EGRESS_IMAGE  tag (default warden/egress:1)
#      WARDEN_DIST          compiled output root to take the modules from (holding src/ and sandboxes/);
#                           `warden images build` passes its own. Default: compile from the repo with tsc.
#      FORCE=1              rebuild even when the digest label matches
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
IMAGE="${WARDEN_EGRESS_IMAGE:-warden/egress:1}"
ENTRY="sandboxes/docker/egress-proxy-main.js"
NODE="$REPO/node_modules/node/bin/node"
[ -x "$NODE" ] || NODE="${WARDEN_NODE:-$(command -v node || true)}"
[ -n "$NODE" ] || { echo "egress: no Node to stage with; run \`npm ci\` or set WARDEN_NODE" >&2; exit 2; }

docker image inspect warden/node:1 >/dev/null 2>&1 || bash "$REPO/images/node/build.sh"

STAGE="$(mktemp -d /tmp/warden-egress-image.XXXXXX)"
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/app"

DIST="${WARDEN_DIST:-}"
if [ -z "$DIST" ]; then
  DIST="$STAGE/compiled"
  if ! (cd "$REPO" && "$NODE" node_modules/typescript/bin/tsc -p images/egress/tsconfig.image.json --outDir "$DIST" >"$STAGE/tsc.log" 2>&1); then
    cat "$STAGE/tsc.log" >&2
    echo "egress: tsc failed on the egress proxy's modules" >&2
    exit 1
  fi
fi
[ -f "$DIST/$ENTRY" ] || { echo "egress: $DIST has no $ENTRY" >&2; exit 2; }

"$NODE" "$HERE/closure.mjs" "$DIST" "$ENTRY" >"$STAGE/closure.txt"
while read -r kind path; do
  case "$kind" in
    file) mkdir -p "$STAGE/app/dist/$(dirname "$path")" && cp "$DIST/$path" "$STAGE/app/dist/$path" ;;
    package)
      pkgjson="$(cd "$DIST" && "$NODE" -e 'process.stdout.write(require.resolve(process.argv[1] + "/package.json", { paths: [process.cwd(), process.argv[2]] }))' "$path" "$REPO")"
      mkdir -p "$STAGE/app/node_modules/$path"
      (cd "$(dirname "$pkgjson")" && tar --exclude=./node_modules -cf - .) | tar -C "$STAGE/app/node_modules/$path" -xf -
      ;;
  esac
done <"$STAGE/closure.txt"
printf '{ "name": "warden-egress", "private": true, "type": "module" }\n' >"$STAGE/app/package.json"
cp "$HERE/Dockerfile" "$STAGE/Dockerfile"

DIGEST="$(cd "$STAGE" && { find app Dockerfile -type f | LC_ALL=C sort | xargs sha256sum; } | sha256sum | cut -c1-64)"
CURRENT="$(docker image inspect "$IMAGE" --format '{{index .Config.Labels "warden.egress.digest"}}' 2>/dev/null || true)"
if [[ "${FORCE:-0}" != "1" && "$CURRENT" == "$DIGEST" ]]; then
  echo "egress: $IMAGE up to date (${DIGEST:0:12})"
  exit 0
fi

echo "egress: building $IMAGE ($(grep -c '^file' "$STAGE/closure.txt") modules, packages: $(grep '^package' "$STAGE/closure.txt" | cut -d' ' -f2 | xargs))"
if ! out="$(DOCKER_BUILDKIT=0 docker build -q --network none --build-arg "WARDEN_EGRESS_DIGEST=$DIGEST" -t "$IMAGE" "$STAGE" 2>&1)"; then
  echo "$out" >&2
  echo "egress: docker build of $IMAGE failed" >&2
  exit 1
fi

out="$(docker run --rm -i --read-only --cap-drop ALL --security-opt no-new-privileges --network none --user 65534:65534 \
  "$IMAGE" --listen 127.0.0.1:3128 </dev/null 2>&1)" || true
case "$out" in
  *'"op":"ready"'*) echo "egress: built $IMAGE (${DIGEST:0:12}, $(docker image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}'))" ;;
  *) echo "egress: smoke test of $IMAGE failed: $out" >&2; exit 1 ;;
esac
