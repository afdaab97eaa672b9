#!/usr/bin/env bash
# Stops the compose cluster. --volumes also drops its data.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
docker-compose -p "${GFS_PROJECT:-pygfs}" -f "$here/docker-compose.yml" --profile monitoring \
    down --remove-orphans "$@"
