#!/usr/bin/env bash
# Builds the image and brings the compose cluster up, secure: the first run makes its CA and
# certificates in $GFS_TLS_DIR (deploy/tls). Returns once a master replica is active and every
# chunkserver has registered with it, with a home for user `client` (/user/client) and an open /tmp,
# and Prometheus (Debian's package, built into an image once) scraping every node.
# Knobs: see the head of deploy/docker-compose.yml. GFS_PROJECT names the compose project (pygfs).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
compose=(docker-compose -p "${GFS_PROJECT:-pygfs}" -f "$here/docker-compose.yml" --profile monitoring)

export GFS_IMAGE=${GFS_IMAGE:-pygfs:latest}
export GFS_TLS_DIR=${GFS_TLS_DIR:-$here/tls}
export GFS_UID=${GFS_UID:-$(id -u)} GFS_GID=${GFS_GID:-$(id -g)}  # the certificates' owner
net=${GFS_NET:-172.28.0}
export GFS_PROMETHEUS_IMAGE=${GFS_PROMETHEUS_IMAGE:-pygfs-prometheus:latest}
if [[ -z "${GFS_NO_BUILD:-}" ]]; then
    "$here/build.sh" >/dev/null
fi
if ! docker image inspect "$GFS_PROMETHEUS_IMAGE" >/dev/null 2>&1; then  # Debian's package, once
    docker build -q --build-arg BASE_IMAGE="$("$here/base-image.sh")" \
        -t "$GFS_PROMETHEUS_IMAGE" "$here/prometheus" >/dev/null
fi
mkdir -p "$GFS_TLS_DIR"
"${compose[@]}" up -d --remove-orphans >&2

masters="$net.10:9000,$net.11:9000,$net.12:9000"
admin() {  # gfs as the superuser, from a container on the cluster's network
    docker run --rm --network "${GFS_PROJECT:-pygfs}_gfs" -v "$GFS_TLS_DIR:/tls:ro" "$GFS_IMAGE" \
        gfs --master "$masters" --timeout 3 \
        --tls-ca /tls/ca.pem --tls-cert /tls/admin.pem --tls-key /tls/admin.key "$@"
}

want=$("${compose[@]}" config --services | grep -c '^cs')
for _ in $(seq 120); do
    if alive=$(admin report --json 2>/dev/null \
        | python3 -c 'import json,sys; print(sum(s["state"] == "alive" for s in json.load(sys.stdin)["chunkservers"]))') \
        && [[ "$alive" -ge "$want" ]]; then
        admin mkdir -p /user/client && admin chown client:client /user/client
        admin mkdir -p /tmp && admin chmod 777 /tmp
        tls=$GFS_TLS_DIR
        echo "pygfs serves with $alive chunkservers (mutual TLS) on the master replicas $masters"
        echo "as user client:  export GFS_MASTER=$masters"
        echo "  GFS_TLS_CA=$tls/ca.pem GFS_TLS_CERT=$tls/client.pem GFS_TLS_KEY=$tls/client.key"
        echo "  (home /user/client; $tls/admin.pem and admin.key are the superuser)"
        echo "Prometheus: http://127.0.0.1:${GFS_PROMETHEUS_PORT:-9090}/ (every node's /metrics)"
        exit 0
    fi
    sleep 1
done
echo "the cluster did not come up in 120 s; see: ${compose[*]} logs" >&2
exit 1
