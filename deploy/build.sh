#!/usr/bin/env bash
# Builds the pygfs image (default pygfs:latest, or $GFS_IMAGE) from this checkout:
# wheels on the host, a base image from deploy/base-image.sh, then deploy/Dockerfile.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
image=${GFS_IMAGE:-pygfs:latest}

rm -rf "$here/wheelhouse"
python3 -m pip wheel -q "$here/.." -w "$here/wheelhouse" >&2
base=$("$here/base-image.sh")
echo "building $image on $base" >&2
docker build -q --build-arg BASE_IMAGE="$base" -t "$image" "$here" >/dev/null
rm -rf "$here/wheelhouse"
echo "$image"
