#!/usr/bin/env bash
# Builds warden/base:1 from Debian packages (no registry is reachable here, and
# pulling a base at call time is exactly what SPEC §4 forbids).
# debootstrap --variant=minbase + python3-minimal, then `docker import`.
# Idempotent: does nothing when the image already exists (FORCE=1 rebuilds).
set -euo pipefail

IMAGE="${WARDEN_BASE_IMAGE:-warden/base:1}"
SUITE="${WARDEN_BASE_SUITE:-bookworm}"
MIRROR="${WARDEN_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if [[ "${FORCE:-0}" != "1" ]] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "base: $IMAGE already present"
  exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  echo "base: installing debootstrap"
  apt-get install -y --no-install-recommends debootstrap >/dev/null
fi

ROOTFS="$(mktemp -d /tmp/warden-base.XXXXXX)"
trap 'rm -rf "$ROOTFS"' EXIT

echo "base: debootstrap $SUITE (minbase + python3-minimal + libpython3-stdlib: json, socket, urllib) from $MIRROR"
debootstrap --variant=minbase --include=python3-minimal,libpython3-stdlib "$SUITE" "$ROOTFS" "$MIRROR"

# Smaller image, nothing a tool needs: apt caches, docs, locales.
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* \
       "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/locale/*

echo "base: importing $IMAGE"
tar -C "$ROOTFS" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV PYTHONDONTWRITEBYTECODE=1' \
  --change 'USER 65534:65534' \
  --change 'WORKDIR /tmp' \
  --change 'LABEL warden.image=base' \
  - "$IMAGE" >/dev/null
echo "base: built $IMAGE"
