"""What a master replica elected active does before it takes a change (HDFS's journal
recovery): it has a majority of the replicas promise its term, and takes the newest log any
of them holds. An acknowledged entry is on a majority, and any two majorities meet, so the new
active holds every acknowledged entry; once those replicas promised, a deposed active can get
no more acknowledged.

"Newest" is by the term an entry was written in, then by its number: a deposed active's
entries that no majority held may reach further than the entries a later term wrote.
"""

from __future__ import annotations

import logging

import grpc

from common import errors, transport
from master.shadow import ShadowService
from protos import master_pb2

log = logging.getLogger(__name__)


def take_over(
    standby: ShadowService, epoch: int, others: list[str], replicas: int, timeout: float
) -> None:
    """Makes `standby`'s log the newest of a majority of `replicas` that promised term
    `epoch` (`others`: the replicas besides it that may answer). Unavailable if no majority
    promised."""
    mine = standby.promise(epoch, standby.name)
    request = master_pb2.PromiseRequest(epoch=epoch, candidate=standby.name)
    calls = {
        address: standby.channels.master(address).Promise.future(request, timeout=timeout)
        for address in others
    }
    replies: dict[str, master_pb2.PromiseReply] = {}
    for address, call in calls.items():
        try:
            replies[address] = call.result()
        except grpc.RpcError as err:
            log.info(
                "%s did not promise term %d: %s", address, epoch, transport.translate(err, address)
            )
    promised = 1 + len(replies)
    if promised < replicas // 2 + 1:
        raise errors.Unavailable(
            f"only {promised} of {replicas} master replicas promised term {epoch}, not a majority"
        )
    position = (mine[2], mine[0])  # (term, entry) of this log's newest entry
    best = max(replies, key=lambda a: (replies[a].last_epoch, replies[a].last_seq), default="")
    if best and (replies[best].last_epoch, replies[best].last_seq) > position:
        wanted = replies[best].last_seq
        log.info("term %d: taking entries %d..%d from %s", epoch, mine[0] + 1, wanted, best)
        standby.catch_up(best)
        if standby.store.last_seq < wanted:
            raise errors.Unavailable(
                f"could not take the log of {best} up to entry {wanted} "
                f"(reached {standby.store.last_seq})"
            )
    log.info(
        "term %d promised by %d of %d replicas; the log ends at %d",
        epoch, promised, replicas, standby.store.last_seq,
    )  # fmt: skip
