"""The status pages in a real browser (headless Chromium, Debian's package): each page loads
without console errors, the master's lists the chunkservers and calls a killed one dead within
the dead-after window, and the namespace browser reaches a file's replicas and, through their
links, their chunkservers' own pages. Screenshots are kept in $GFS_ARTIFACTS (test-artifacts/)."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.client import Client
from client.localcluster import LocalCluster
from tests.conftest import FAST_TIMING, ROOT, SMALL_CHUNK, unavailable

pytestmark = pytest.mark.cluster

ARTIFACTS = Path(os.environ.get("GFS_ARTIFACTS", ROOT / "test-artifacts"))
DEAD_AFTER = 2.0  # FAST_TIMING's


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        unavailable("no chromium here (apt-get install chromium)")
    return found


def load(url: str, screenshot: str = "") -> str:
    """The page's DOM once loaded, as headless Chromium renders it; fails on console errors."""
    argv = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--enable-logging=stderr", "--v=0",
        "--user-data-dir=" + str(ARTIFACTS / ".chromium"),
    ]  # fmt: skip
    if screenshot:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / f"{screenshot}.png"
        argv += ["--window-size=1280,900", f"--screenshot={shot}"]
    run = subprocess.run([*argv, "--dump-dom", url], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    console = [x for x in run.stderr.splitlines() if "CONSOLE" in x or "Uncaught" in x]
    assert not console, f"console messages on {url}: {console}"
    return run.stdout


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    chromium()
    local = LocalCluster(
        tmp_path_factory.mktemp("pages"),
        master_args=[f"--chunk-size={SMALL_CHUNK}", *FAST_TIMING],
        http=True,
    )
    try:
        local.start()
        with Client(local.master_address, timeout=10) as gfs:
            gfs.mkdir("/pages/docs", parents=True)
            gfs.put(io.BytesIO(os.urandom(2 * SMALL_CHUNK + 10)), "/pages/docs/report.bin")
        yield local
    finally:
        local.stop()


def master_page(cluster: LocalCluster) -> str:
    with Client(cluster.master_address, timeout=10) as gfs:
        return f"http://{gfs.report().master_http}"


def test_the_master_page_lists_the_chunkservers_and_the_namespace(cluster: LocalCluster) -> None:
    url = master_page(cluster)
    dom = load(url + "/", screenshot="master")
    for proc in cluster.servers:
        assert proc.address in dom
    assert dom.count('class="alive"') == len(cluster.servers), dom
    assert "healthy 3" in dom  # the file's three chunks
    listing = load(url + "/browse?path=/pages/docs", screenshot="namespace")
    assert "report.bin" in listing and "-rw-r--r--" in listing


def test_the_browser_reaches_a_files_replicas_and_their_servers(cluster: LocalCluster) -> None:
    url = master_page(cluster)
    dom = load(url + "/browse?path=/pages/docs/report.bin", screenshot="file")
    links = re.findall(r'<a href="(http://[^"]+/)">([0-9.:]+)</a>', dom)
    addresses = {p.address for p in cluster.servers}
    assert len(links) == 3 * 3, dom  # three chunks, three replicas each
    assert {name for _, name in links} <= addresses
    page_of_a_replica, address = links[0]
    server_page = load(page_of_a_replica, screenshot="chunkserver")
    assert f"pygfs chunkserver {address}" in server_page
    assert "Replicas" in server_page and "scrubbed this period" in server_page


def test_a_killed_chunkserver_turns_dead_on_the_master_page(cluster: LocalCluster) -> None:
    url = master_page(cluster)
    victim = cluster.servers[-1]
    cluster.kill(victim)
    killed = time.monotonic()
    while True:
        dom = load(url + "/")
        row = next(r for r in dom.split("<tr>") if victim.address in r)
        if 'class="dead"' in row:
            break
        # The master may take dead-after and one timer round; the page's own refresh is 5 s.
        assert time.monotonic() - killed < DEAD_AFTER + 8, row
        time.sleep(0.5)
    load(url + "/", screenshot="master-with-a-dead-chunkserver")
