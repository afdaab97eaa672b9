#!/usr/bin/env bash
# Builds the image and brings the compose cluster up; returns once the master serves and every
# chunkserver has registered. Then, from the host: gfs --master 127.0.0.1:9000 put/get ...
# Knobs: see the head of deploy/docker-compose.yml. GFS_PROJECT names the compose project (pygfs).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
compose=(docker-compose -p "${GFS_PROJECT:-pygfs}" -f "$here/docker-compose.yml")

export GFS_IMAGE=${GFS_IMAGE:-pygfs:latest}
if [[ -z "${GFS_NO_BUILD:-}" ]]; then
    "$here/build.sh" >/dev/null
fi
"${compose[@]}" up -d --remove-orphans >&2

want=$("${compose[@]}" config --services | grep -c '^cs')
for _ in $(seq 120); do
    if alive=$("${compose[@]}" exec -T master gfs --master 127.0.0.1:9000 --timeout 3 report --json 2>/dev/null \
        | python3 -c 'import json,sys; print(sum(s["state"] == "alive" for s in json.load(sys.stdin)["chunkservers"]))') \
        && [[ "$alive" -ge "$want" ]]; then
        echo "pygfs serves on 127.0.0.1:${GFS_MASTER_PORT:-9000} with $alive chunkservers"
        exit 0
    fi
    sleep 1
done
echo "the cluster did not come up in 120 s; see: ${compose[*]} logs" >&2
exit 1
