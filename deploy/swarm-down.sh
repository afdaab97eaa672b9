#!/usr/bin/env bash
# Removes stack $GFS_STACK (pygfs) and waits until its containers are gone on this node;
# --volumes also drops this node's volumes of it (the data).
set -euo pipefail
stack=${GFS_STACK:-pygfs}
docker stack rm "$stack" >&2
for _ in $(seq 60); do
    [[ -z $(docker ps -aq --filter "label=com.docker.stack.namespace=$stack") ]] && break
    sleep 1
done
if [[ ${1:-} == --volumes ]]; then
    docker volume ls -q --filter "label=com.docker.stack.namespace=$stack" | xargs -r docker volume rm >/dev/null
fi
for _ in $(seq 30); do  # the overlay network goes last, once no container holds it
    [[ -z $(docker network ls -q --filter "label=com.docker.stack.namespace=$stack") ]] && exit 0
    sleep 1
done
