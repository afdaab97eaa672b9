#!/usr/bin/env bash
# Prints the name of a base image for deploy/Dockerfile, making one if it has to.
#   $GFS_BASE_IMAGE if set; else pygfs-base:bookworm-HASH if already built; else
#   python:3.11-slim if it is present or can be pulled; else a Debian bookworm root built with
#   debootstrap from Debian's own mirror and imported (no registry needed, about a minute).
# Progress goes to stderr; only the image name goes to stdout.
set -euo pipefail

# faketime: the fault suite's faked clocks (libfaketime, preloaded only by its containers).
PACKAGES=python3,python3-pip,ca-certificates,iproute2,iptables,procps,faketime
# Tagged by its package list: a base made from an older list is not taken for this one.
LOCAL=pygfs-base:bookworm-$(echo "$PACKAGES" | sha256sum | cut -c1-8)

if [[ -n "${GFS_BASE_IMAGE:-}" ]]; then
    echo "$GFS_BASE_IMAGE"; exit 0
fi
if docker image inspect "$LOCAL" >/dev/null 2>&1; then
    echo "$LOCAL"; exit 0
fi
if docker image inspect python:3.11-slim >/dev/null 2>&1 \
    || timeout 60 docker pull -q python:3.11-slim >/dev/null 2>&1; then
    echo python:3.11-slim; exit 0
fi

command -v debootstrap >/dev/null || { echo "no registry and no debootstrap: apt-get install debootstrap" >&2; exit 1; }
root=$(mktemp -d /tmp/pygfs-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "building $LOCAL with debootstrap (no registry reachable)" >&2
debootstrap --variant=minbase --include="$PACKAGES" bookworm "$root" >&2
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import - "$LOCAL" >&2
echo "$LOCAL"
