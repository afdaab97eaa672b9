"""A chunkserver's status page, served by `--http` beside /metrics: what it stores, its disk,
the scrubber's progress and findings, the push spool, and what it logged lately. Refreshes
itself; reads only."""

from __future__ import annotations

import time

from chunkserver.config import ChunkserverConfig
from chunkserver.scrubber import Scrubber
from chunkserver.spool import Spool
from chunkserver.storage import ChunkStore
from common.events import RecentEvents, events_table
from common.html import bar, e, link, page, size, table, when
from common.statushttp import Page

REFRESH = 5.0
SHOWN = 200  # replicas listed on the page


class ChunkserverPages:
    def __init__(
        self,
        config: ChunkserverConfig,
        address: str,
        store: ChunkStore,
        spool: Spool,
        scrubber: Scrubber,
        events: RecentEvents,
    ) -> None:
        self.config = config
        self.address = address
        self.store = store
        self.spool = spool
        self.scrubber = scrubber
        self.events = events

    def routes(self) -> dict[str, Page]:
        return {"/": self.overview}

    def overview(self, query: dict[str, str]) -> str:
        used, free = self.store.usage()
        metas = dict(self.store.metas)
        corrupt = sorted(self.store.corrupt)
        now = time.monotonic()
        period = self.scrubber.schedule.period
        verified = sum(
            1 for at in list(self.scrubber.schedule.verified.values()) if now - at < period
        )
        summary = table(
            ["", ""],
            [
                ["rack", e(self.config.rack)],
                ["master", e(self.config.master)],
                ["disk", f"{size(used)} in replicas {bar(used, used + free)} {size(free)} free"],
                [
                    "data directories",
                    "<br>".join(
                        e(f"{v.path}: failed, {v.failed}" if v.failed else f"{v.path}: serving")
                        for v in self.store.volumes
                    ),
                ],
                ["replicas", e(len(metas))],
                [
                    "corrupt",
                    ", ".join(e(h) for h in corrupt) or "none found",
                ],
                ["scrubbed this period", f"{verified} of {len(metas)} {bar(verified, len(metas))}"],
                ["push spool", f"{size(self.spool.held)} of {size(self.spool.limit)}"],
            ],
        )
        replicas = table(
            ["chunk", "version", "bytes"],
            [[e(h), e(m.version), e(m.length)] for h, m in sorted(metas.items())[:SHOWN]],
            empty="no replica stored",
        )
        more = (
            f"<p class=muted>{len(metas) - SHOWN} more not shown</p>" if len(metas) > SHOWN else ""
        )
        findings = table(
            ["when", "chunk", "problem"],
            [[e(when(f.at)), e(f.handle), e(f.problem)] for f in reversed(self.scrubber.findings)],
            empty="nothing found",
        )
        body = (
            summary
            + "<h2>Scrubber findings</h2>"
            + findings
            + "<h2>Recent events</h2>"
            + events_table(self.events)
            + "<h2>Replicas</h2>"
            + replicas
            + more
        )
        nav = link("/", "overview") + link("/metrics", "metrics")
        return page(f"pygfs chunkserver {self.address}", body, refresh=REFRESH, nav=nav)
