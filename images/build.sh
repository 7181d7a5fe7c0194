#!/usr/bin/env bash
# Builds every image warden's container tools need, without pulling any image:
# warden/base:1 (debootstrap + docker import), warden/node:1 (base + the repo's
# Node), warden/egress:1 (node + warden's compiled egress proxy), each images/tools/<name>/Dockerfile tagged by its `# warden-image:` line
# (default warden-tools/<name>:1), then each examples/tools/<name> folder whose
# Dockerfile has a `# warden-image:` line (the hosted MCP servers of SPEC §15),
# its npm/PyPI packages staged on this host first by stage.sh. Idempotent and
# fast when the images exist: base and node are skipped, tool builds hit
# Docker's cache. Used by .ci/run; `warden images build` does the same from the
# CLI (tool folders: those of the config's `tools` globs).
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v debootstrap >/dev/null 2>&1 && ! docker image inspect warden/base:1 >/dev/null 2>&1; then
  echo "images: installing debootstrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

bash base/build.sh
bash node/build.sh
bash egress/build.sh     # warden/egress:1: the egress proxy container (container.egress "container")

for dockerfile in tools/*/Dockerfile; do
  [ -f "$dockerfile" ] || continue
  dir="$(dirname "$dockerfile")"
  name="$(basename "$dir")"
  tag="$(sed -n 's/^#[[:space:]]*warden-image:[[:space:]]*\([^[:space:]]*\).*/\1/p' "$dockerfile" | head -1)"
  tag="${tag:-warden-tools/$name:1}"
  echo "images: $tag"
  if ! out="$(docker build -q --pull=false -t "$tag" "$dir" 2>&1)"; then
    echo "$out" >&2
    echo "images: FAILED to build $tag from $dir (run: docker build -t $tag $dir)" >&2
    exit 1
  fi
done
for dockerfile in ../examples/tools/*/Dockerfile; do
  [ -f "$dockerfile" ] || continue
  dir="$(dirname "$dockerfile")"
  tag="$(sed -n 's/^#[[:space:]]*warden-image:[[:space:]]*\([^[:space:]]*\).*/\1/p' "$dockerfile" | head -1)"
  [ -n "$tag" ] || continue
  echo "images: $tag (staged from $dir)"
  ctx="$(mktemp -d /tmp/warden-image.XXXXXX)"
  if ! bash stage.sh "$dir" "$ctx" || ! out="$(docker build -q --pull=false -t "$tag" "$ctx" 2>&1)"; then
    echo "${out:-}" >&2
    rm -rf "$ctx"
    echo "images: FAILED to build $tag from $dir (run: warden images build --config examples/warden.config.json $(basename "$dir"))" >&2
    exit 1
  fi
  rm -rf "$ctx"
done
echo "images: done"
