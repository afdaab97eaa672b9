#!/bin/sh
# How the fault suite starts a server in its containers (tests/faults/compose.faults.yml): as
# local processes are started (tests/faults/local.py), a chunkserver with diskfaults.c
# preloaded, reading its disk faults from $GFS_DISK_FAULTS, and any server on the clock the
# suite wrote for it in /faults/state/NODE.clock (libfaketime, clockwait.c before it), which
# the container's next start takes.
set -e
preload=""
if [ -n "${GFS_DISK_FAULTS:-}" ]; then
    preload="/faults/lib/diskfaults.so"
fi
clock="/faults/state/${GFS_FAULT_NODE}.clock"
if [ -s "$clock" ]; then
    FAKETIME=$(cat "$clock")
    export FAKETIME
    preload="$preload /faults/lib/clockwait.so /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
fi
if [ -n "$preload" ]; then
    LD_PRELOAD="${preload# }"
    export LD_PRELOAD
fi
exec "$@"
