"""A server that begins to stop says so at once on /healthz (503) while it still finishes the
calls under way: an orchestrator or load balancer sees the drain instead of a port that just
goes away. (Its gRPC port takes no new call by then, the health service's included.)"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from pathlib import Path

from grpc_health.v1 import health_pb2, health_pb2_grpc

from common import transport
from master.config import MasterConfig
from master.server import MasterServer
from protos import master_pb2
from tests.conftest import wait_until


def healthz(address: str) -> int:
    try:
        with urllib.request.urlopen(f"http://{address}/healthz", timeout=5) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as err:
        return err.code


def test_a_stopping_master_is_unhealthy_while_it_drains(tmp_path: Path) -> None:
    config = MasterConfig(data_dir=tmp_path, listen="127.0.0.1:0", http="127.0.0.1:0")
    server = MasterServer(config)
    server.start()
    http = server.config.http
    channels = transport.Channels()
    stopping = threading.Thread(target=server.stop, kwargs={"grace": 5.0})
    try:
        health = health_pb2_grpc.HealthStub(channels.get(server.address))  # type: ignore[no-untyped-call]
        serving = health_pb2.HealthCheckResponse.SERVING
        assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == serving
        assert healthz(http) == 200
        # A follower's stream: a call under way, which the stop lets finish for its grace.
        follow = channels.master(server.address).StreamLog(
            master_pb2.StreamLogRequest(since=0, follow=True), timeout=30
        )
        next(follow)
        stopping.start()
        wait_until(lambda: healthz(http) == 503, 5, "/healthz says the master is stopping")
        assert stopping.is_alive(), "the stop waits for the call under way"
    finally:
        if stopping.ident is None:
            stopping.start()
        stopping.join()
        channels.close()
