#!/usr/bin/env bash
# Builds the pygfs image (default pygfs:latest, or $GFS_IMAGE) from this checkout:
# wheels on the host, a base image from deploy/base-image.sh, then deploy/Dockerfile; and, once,
# the coordinator's (Debian's ZooKeeper: deploy/zookeeper; $GFS_ZOOKEEPER_IMAGE).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
image=${GFS_IMAGE:-pygfs:latest}

rm -rf "$here/wheelhouse"
python3 -m pip wheel -q "$here/.." -w "$here/wheelhouse" >&2
base=$("$here/base-image.sh")
echo "building $image on $base" >&2
old=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
docker build -q --build-arg BASE_IMAGE="$base" -t "$image" "$here" >/dev/null
# The build this one replaces would be left dangling, one per build; it goes unless a
# container still uses it.
if [[ -n $old && $old != "$(docker image inspect -f '{{.Id}}' "$image")" ]]; then
    docker image rm "$old" >/dev/null 2>&1 || true
fi
rm -rf "$here/wheelhouse"
zookeeper=${GFS_ZOOKEEPER_IMAGE:-pygfs-zookeeper:latest}
if ! docker image inspect "$zookeeper" >/dev/null 2>&1; then
    echo "building $zookeeper on $base" >&2
    docker build -q --build-arg BASE_IMAGE="$base" -t "$zookeeper" "$here/zookeeper" >/dev/null
fi
echo "$image"
