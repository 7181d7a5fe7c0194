#!/usr/bin/env bash
# Builds every image warden's container tools need, from local Debian packages
# only (no registry): warden/base:1 (debootstrap + docker import), then each
# images/tools/<name>/Dockerfile tagged by its `# warden-image:` line (default
# warden-tools/<name>:1). Idempotent and fast when the images exist: the base is
# skipped, tool builds hit Docker's cache. Used by .ci/run; `warden images build`
# does the same from the CLI.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v debootstrap >/dev/null 2>&1 && ! docker image inspect warden/base:1 >/dev/null 2>&1; then
  echo "images: installing debootstrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

bash base/build.sh

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
echo "images: done"
