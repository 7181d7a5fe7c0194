#!/usr/bin/env bash
# Builds the mcp-warden server image (default tag warden/server:1) offline:
#   FROM warden/base:1 (Debian minbase, from Debian packages; built by images/base/build.sh if missing)
#   + the Node binary the repo pins (node_modules/node/bin/node, brought by `npm ci`)
#   + dist/src and dist/sandboxes compiled here with the repo's tsc
#   + bin/, package.json and the production node_modules (from package-lock.json, dev packages left out)
# then smoke-tests the result: isolated-vm's addon must load and run in the image's Node.
#
# Usage: bash images/warden/build.sh            (from anywhere; needs `npm ci` done and a Docker engine)
# Env:   WARDEN_SERVER_IMAGE  tag to build (default warden/server:1)
#        WARDEN_DIST          use an already compiled output root (holding src/ and sandboxes/) instead of compiling
#        FORCE=1              rebuild even when the tag exists (default: always rebuild; the build is cheap)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
IMAGE="${WARDEN_SERVER_IMAGE:-warden/server:1}"
BASE="warden/base:1"
NODE="$REPO/node_modules/node/bin/node"
step=0
say() { step=$((step + 1)); echo "server: [$step/6] $*"; }

[ -x "$NODE" ] || { echo "server: $NODE is missing; run \`npm ci\` first (it brings the pinned Node)" >&2; exit 2; }
docker info >/dev/null 2>&1 || { echo "server: no Docker engine reachable (docker info failed)" >&2; exit 2; }

say "base image $BASE"
if ! docker image inspect "$BASE" >/dev/null 2>&1; then
  if [ -f "$REPO/images/base/build.sh" ]; then bash "$REPO/images/base/build.sh"
  else echo "server: $BASE is missing and images/base/build.sh is not there to build it" >&2; exit 2; fi
fi

STAGE="$(mktemp -d /tmp/warden-server-image.XXXXXX)"
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/app"

say "compile src/ and sandboxes/ (tsc)"
if [ -n "${WARDEN_DIST:-}" ]; then
  [ -f "$WARDEN_DIST/src/cli/main.js" ] || { echo "server: WARDEN_DIST=$WARDEN_DIST has no src/cli/main.js" >&2; exit 2; }
  mkdir -p "$STAGE/app/dist"
  cp -a "$WARDEN_DIST/src" "$WARDEN_DIST/sandboxes" "$STAGE/app/dist/"
else
  # Only what the image runs is compiled, so an in-progress test file elsewhere cannot break the image,
  # while any type error in the shipped code does.
  if ! (cd "$REPO" && "$NODE" node_modules/typescript/bin/tsc -p images/warden/tsconfig.image.json --outDir "$STAGE/app/dist" >"$STAGE/tsc.log" 2>&1); then
    cat "$STAGE/tsc.log" >&2
    echo "server: tsc reported errors in src/ or sandboxes/; not building an image from code that does not type-check" >&2
    exit 1
  fi
fi
find "$STAGE/app/dist" -name '*.d.ts' -delete

say "production node_modules (package-lock.json minus dev packages)"
(cd "$REPO" && "$NODE" -e '
  const fs = require("node:fs");
  const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
  const out = Object.entries(lock.packages)
    .filter(([path, meta]) => path.startsWith("node_modules/") && !meta.dev && !meta.link && fs.existsSync(path))
    .map(([path]) => path)
    .sort();
  process.stdout.write(out.join("\n") + "\n");
') >"$STAGE/prod-packages.txt"
count=0
while IFS= read -r pkg; do
  [ -n "$pkg" ] || continue
  mkdir -p "$STAGE/app/$(dirname "$pkg")"
  # Nested node_modules are listed (and copied) on their own line when they are production packages.
  (cd "$REPO/$pkg" && tar --exclude=./node_modules -cf - .) | (mkdir -p "$STAGE/app/$pkg" && tar -C "$STAGE/app/$pkg" -xf -)
  count=$((count + 1))
done <"$STAGE/prod-packages.txt"
# isolated-vm: keep its loader and the prebuilt addon for this platform; sources and other platforms are dead weight.
IVM="$STAGE/app/node_modules/isolated-vm"
if [ -d "$IVM" ]; then
  rm -rf "$IVM/src" "$IVM/vendor" "$IVM/native-example" "$IVM"/*.tgz "$IVM"/Dockerfile.* "$IVM/build/Release/obj.target"
  arch="$("$NODE" -p 'process.platform + "-" + process.arch')"
  find "$IVM/prebuilds" -mindepth 1 -maxdepth 1 ! -name "$arch" -exec rm -rf {} + 2>/dev/null || true
fi
echo "server: $count production packages, $(du -sh "$STAGE/app/node_modules" | cut -f1)"

say "bin/, package.json, Node $("$NODE" --version)"
cp -a "$REPO/bin" "$STAGE/app/bin"
# The image's package.json: the fields Node needs at run time ("type": "module" above all), from the repo's.
"$NODE" -e '
  const fs = require("node:fs");
  let pkg;
  try { pkg = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); }
  catch (err) { console.error(`server: package.json is not valid JSON (${err.message}); fix it first`); process.exit(1); }
  const keep = ["name", "version", "description", "type", "license", "bin", "exports", "engines", "dependencies"];
  fs.writeFileSync(process.argv[2], JSON.stringify(Object.fromEntries(keep.filter((k) => k in pkg).map((k) => [k, pkg[k]])), null, 2) + "\n");
' "$REPO/package.json" "$STAGE/app/package.json"
cp "$NODE" "$STAGE/node"
cp "$HERE/Dockerfile" "$STAGE/Dockerfile"

say "docker build $IMAGE"
# The classic builder uses the local warden/base:1 and never contacts a registry; --network none: nothing to fetch.
# Progress: one line per Dockerfile step; the whole log is shown when the build fails.
if ! DOCKER_BUILDKIT=0 docker build --network none -t "$IMAGE" "$STAGE" 2>&1 | tee "$STAGE/build.log" | { grep --line-buffered -E "^Step " || true; } | sed -u "s/^/server:   /"; then
  tail -40 "$STAGE/build.log" >&2
  echo "server: docker build failed" >&2
  exit 1
fi

say "smoke test: isolated-vm runs inside the image's Node, as uid 10001, read-only rootfs"
out="$(docker run --rm --read-only --cap-drop ALL --security-opt no-new-privileges --network none \
  --entrypoint node "$IMAGE" --no-node-snapshot -e '
    const ivm = require("/app/node_modules/isolated-vm");
    const isolate = new ivm.Isolate({ memoryLimit: 16 });
    const r = isolate.compileScriptSync("6 * 7").runSync(isolate.createContextSync());
    console.log(`ok ${process.version} uid=${process.getuid()} ivm=${r}`);')"
echo "server:   $out"
case "$out" in "ok "*"uid=10001 ivm=42") ;; *) echo "server: smoke test failed" >&2; exit 1 ;; esac
echo "server: built $IMAGE ($(docker image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}'))"
