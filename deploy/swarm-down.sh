#!/usr/bin/env bash
# Removes stack $GFS_STACK (pygfs) and waits until its containers are gone on this node;
# --volumes also drops this node's volumes of it (the data).
set -euo pipefail
stack=${GFS_STACK:-pygfs}
# Services go at once; their containers and then the network follow (a network still held by
# a task is left for the loop below).
docker stack rm "$stack" >&2 || true
for _ in $(seq 60); do
    [[ -z $(docker ps -aq --filter "label=com.docker.stack.namespace=$stack") ]] && break
    sleep 1
done
if [[ ${1:-} == --volumes ]]; then
    docker volume ls -q --filter "label=com.docker.stack.namespace=$stack" | xargs -r docker volume rm >/dev/null
fi
for _ in $(seq 30); do  # the overlay network goes last, once no task holds it
    nets=$(docker network ls -q --filter "label=com.docker.stack.namespace=$stack")
    [[ -z $nets ]] && exit 0
    docker network rm $nets >/dev/null 2>&1 || true
    sleep 1
done
echo "the network of stack $stack is still there" >&2
exit 1
