#!/usr/bin/env bash
# Stages the build context of one tool folder whose Dockerfile has a `# warden-stage:` line
# (written by `warden init --runtime mcp-server --npm|--pypi`), so that the image build itself
# never contacts a registry:
#
#   # warden-stage: npm    package.json + package-lock.json of the folder → `npm ci --omit=dev
#                          --ignore-scripts` on the host into <context>/stage/node_modules
#                          (every package at the locked version, checked against the lock's integrity hashes)
#   # warden-stage: pypi   requirements.txt (pkg==version) → `pip install --target <context>/stage/python
#                          --only-binary=:all:` for the image's Python (3.11, Debian bookworm) and CPU
#
# Why on the host: build containers often cannot verify TLS to the registries (a proxy whose CA is only
# in the host's trust store), and the host's npm/pip already have the operator's registry, proxy and CA
# settings (.npmrc, pip.conf, HTTPS_PROXY, NODE_EXTRA_CA_CERTS). On a machine with normal internet
# access the same command simply works. Install scripts are never run: they would run on the host with
# the operator's rights, before anyone approved the server.
#
# Usage: bash images/stage.sh <tool folder> <empty context folder>
# Env:   WARDEN_NODE  Node binary for npm (default: the repo's node_modules/node/bin/node, else `node`)
#        WARDEN_PIP   pip command for PyPI staging (default: `python3 -m pip`)
#        WARDEN_PYTHON_VERSION  the image's Python (default 3.11, that of warden/base:1)
set -euo pipefail

TOOL="${1:?usage: stage.sh <tool folder> <context folder>}"
CTX="${2:?usage: stage.sh <tool folder> <context folder>}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
[ -f "$TOOL/Dockerfile" ] || { echo "stage: $TOOL has no Dockerfile" >&2; exit 2; }
# A leftover stage/ in the tool folder would be copied over the fresh one (and hidden from review): refuse it.
if [ -e "$TOOL/stage" ] || [ -L "$TOOL/stage" ]; then
  echo "stage: $TOOL/stage exists; fix: remove it (staging happens in a temporary build context, never in the tool folder)" >&2; exit 2
fi
# Symlinks could pull host files into the image; the tool digest refuses them too (src/manifest/digest.ts).
link="$(find "$TOOL" -type l -print -quit)"
[ -z "$link" ] || { echo "stage: $link is a symlink; fix: replace it by the file itself (tool folders hold no symlinks)" >&2; exit 2; }
KIND="$(sed -n 's/^#[[:space:]]*warden-stage:[[:space:]]*\([^[:space:]]*\).*/\1/p' "$TOOL/Dockerfile" | head -1)"

mkdir -p "$CTX"
cp -a "$TOOL/." "$CTX/"
mkdir -p "$CTX/stage"

case "$KIND" in
  "") exit 0 ;;
  npm)
    for f in package.json package-lock.json; do
      [ -f "$TOOL/$f" ] || { echo "stage: $TOOL/$f is missing; fix: re-run \`warden init … --npm <package>@<version>\` or \`npm install --package-lock-only --ignore-scripts\` in $TOOL" >&2; exit 2; }
    done
    NODE="${WARDEN_NODE:-$REPO/node_modules/node/bin/node}"
    [ -x "$NODE" ] || NODE="$(command -v node || true)"
    [ -n "$NODE" ] || { echo "stage: no Node found for npm; set WARDEN_NODE" >&2; exit 2; }
    command -v npm >/dev/null 2>&1 || { echo "stage: npm is not on PATH" >&2; exit 2; }
    cp "$TOOL/package.json" "$TOOL/package-lock.json" "$CTX/stage/"
    echo "stage: npm ci --omit=dev --ignore-scripts (package-lock.json of $TOOL)"
    # npm's shebang picks `node` from PATH: put the chosen Node first.
    if ! out="$(cd "$CTX/stage" && PATH="$(dirname "$NODE"):$PATH" npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error 2>&1)"; then
      echo "$out" >&2
      echo "stage: npm ci failed for $TOOL (registry unreachable, or package.json and package-lock.json disagree)" >&2
      exit 1
    fi
    [ -d "$CTX/stage/node_modules" ] || mkdir -p "$CTX/stage/node_modules"
    ;;
  pypi)
    [ -f "$TOOL/requirements.txt" ] || { echo "stage: $TOOL/requirements.txt is missing" >&2; exit 2; }
    PYV="${WARDEN_PYTHON_VERSION:-3.11}"
    case "$(uname -m)" in x86_64|amd64) ARCH=x86_64 ;; aarch64|arm64) ARCH=aarch64 ;; *) ARCH="$(uname -m)" ;; esac
    read -r -a PIP <<<"${WARDEN_PIP:-python3 -m pip}"
    echo "stage: pip install --target stage/python (Python $PYV, $ARCH) -r requirements.txt"
    # Wheels only: an sdist would run its build backend (arbitrary code) on the host. The platform tags are
    # those of the image's glibc (Debian bookworm: 2.36; pip also accepts older manylinux tags).
    if ! out="$("${PIP[@]}" install --disable-pip-version-check --no-input --no-compile --only-binary=:all: \
          --target "$CTX/stage/python" --python-version "$PYV" --implementation cp \
          --platform "manylinux_2_36_$ARCH" --platform "manylinux2014_$ARCH" \
          -r "$TOOL/requirements.txt" 2>&1)"; then
      echo "$out" >&2
      echo "stage: pip install failed for $TOOL (index unreachable, or no wheel for Python $PYV on $ARCH)" >&2
      exit 1
    fi
    ;;
  *) echo "stage: unknown \`# warden-stage: $KIND\` in $TOOL/Dockerfile; fix: use npm or pypi" >&2; exit 2 ;;
esac
