#!/usr/bin/env bash
# Deploys deploy/stack.yml on this Docker Swarm as stack $GFS_STACK (pygfs): builds the images
# (unless GFS_NO_BUILD), makes the certificates once in $GFS_TLS_DIR (deploy/tls-swarm), deploys,
# and returns once a master replica is active and every chunkserver has registered with it, with
# a home for user `client` (/user/client) and an open /tmp.
# Run it on a manager. A swarm of one node gets every placement label of the stack file on that
# node; on more, label the nodes first (see the head of deploy/stack.yml).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
stack=${GFS_STACK:-pygfs}
export GFS_IMAGE=${GFS_IMAGE:-pygfs:latest}
export GFS_TLS_DIR=${GFS_TLS_DIR:-$here/tls-swarm}
masters=master0:9000,master1:9000,master2:9000

if [[ $(docker info --format '{{.Swarm.ControlAvailable}}') != true ]]; then
    echo "this Docker engine is not a swarm manager (docker swarm init, or run this on a manager)" >&2
    exit 1
fi
if [[ -z "${GFS_NO_BUILD:-}" ]]; then
    "$here/build.sh" >/dev/null
fi
if [[ ! -f $GFS_TLS_DIR/ca.key ]]; then  # every identity, named by its service
    mkdir -p "$GFS_TLS_DIR"
    docker run --rm -u "$(id -u):$(id -g)" -v "$GFS_TLS_DIR:/tls" -w /tls "$GFS_IMAGE" sh -ec '
        gfs certs init . >/dev/null
        for name in master0 master1 master2 cs0 cs1 cs2 cs3; do
            case $name in master*) role=master ;; *) role=chunkserver ;; esac
            gfs certs issue . $name --role $role --host $name >/dev/null
            mkdir -p $name && mv $name.pem $name.key $name/
        done
        gfs certs issue . admin --role admin >/dev/null
        gfs certs issue . client --role user >/dev/null'
fi
nodes=$(docker node ls -q)
if [[ $(wc -w <<<"$nodes") == 1 ]]; then
    labels=(gfs.coordinator gfs.master0 gfs.master1 gfs.master2 gfs.rack-a gfs.rack-b)
    docker node update $(printf -- '--label-add %s=true ' "${labels[@]}") "$nodes" >/dev/null
fi
# Images are this node's own (no registry): each node needs them (docker save | docker load).
docker stack deploy --resolve-image never -c "$here/stack.yml" "$stack" >&2

admin() {  # gfs as the superuser, from a container on the stack's network
    docker run --rm --network "${stack}_gfs" -v "$GFS_TLS_DIR:/tls:ro" "$GFS_IMAGE" \
        gfs --master "$masters" --timeout 3 \
        --tls-ca /tls/ca.pem --tls-cert /tls/admin.pem --tls-key /tls/admin.key "$@"
}
for _ in $(seq 90); do
    if alive=$(admin report --json 2>/dev/null \
        | python3 -c 'import json,sys; print(sum(s["state"] == "alive" for s in json.load(sys.stdin)["chunkservers"]))' 2>/dev/null) \
        && [[ "$alive" -ge 4 ]]; then
        admin mkdir -p /user/client && admin chown client:client /user/client
        admin mkdir -p /tmp && admin chmod 777 /tmp
        echo "stack $stack serves with $alive chunkservers (mutual TLS) on $masters"
        echo "  from a container on its network: docker run --network ${stack}_gfs ..."
        echo "  certificates: $GFS_TLS_DIR (admin.pem: the superuser; client.pem: a user)"
        exit 0
    fi
    sleep 2
done
echo "stack $stack did not come up in 180 s; see: docker stack ps $stack --no-trunc" >&2
exit 1
