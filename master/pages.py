"""The master's (and a shadow's) status pages, served by `--http` beside /metrics: an overview
that refreshes itself (summary, chunkservers, the re-replication queue, recent events) and a
namespace browser (directory -> file -> chunks -> replicas, each replica linking to its
chunkserver's own page). Reads only: every figure comes through the metadata's queries."""

from __future__ import annotations

from common import errors, paths
from common.events import RecentEvents, events_table
from common.html import bar, e, link, page, query_path, size, table, when
from common.modes import mode_string
from common.statushttp import Page
from master.chunkservers import ServerReport
from master.healthsnapshot import Health, HealthSnapshot
from master.metadata import Metadata
from master.oplog import OpLog
from master.replication import Clone
from master.safemode import SafeMode

REFRESH = 5.0  # seconds between the overview's reloads
SHOWN = 1000  # entries of a directory listed
NAV = link("/", "overview") + link("/browse?path=/", "namespace") + link("/metrics", "metrics")


class MasterPages:
    def __init__(
        self,
        role: str,
        meta: Metadata,
        safe_mode: SafeMode,
        oplog: OpLog,
        events: RecentEvents,
        health: HealthSnapshot,
        cloning: dict[int, Clone] | None = None,
    ) -> None:
        self.role = role
        self.meta = meta
        self.safe_mode = safe_mode
        self.oplog = oplog
        self.events = events
        self.cloning = cloning if cloning is not None else {}  # copies under way (a master's)
        self._health = health

    def routes(self) -> dict[str, Page]:
        return {"/": self.overview, "/browse": self.browse}

    def _chunkserver_pages(self) -> dict[str, str]:
        return {s.address: s.http for s in self.meta.report() if s.http}

    def overview(self, query: dict[str, str]) -> str:
        servers = self.meta.report()
        health = self._health.latest()
        used = sum(s.used_bytes for s in servers)
        free = sum(s.free_bytes for s in servers)
        with self.meta.core:
            entries, chunks = len(self.meta.state.nodes), len(self.meta.state.chunks)
        last_seq = self.meta.store.last_seq
        summary = table(
            ["", ""],
            [
                ["role", e(self.role)],
                ["namespace entries", e(entries)],
                ["chunks", e(chunks)],
                ["bytes stored (all replicas)", f"{size(used)} {bar(used, used + free)}"],
                ["free on chunkservers", e(size(free))],
                [
                    "replication",
                    ", ".join(
                        f"{k.replace('_', ' ')} {health.counts.get(k, 0)}"
                        for k in (
                            "healthy",
                            "under_replicated",
                            "missing",
                            "corrupt",
                            "over_replicated",
                            "stale_replicas",
                        )
                    ),
                ],
                ["safe mode", "<b class=warn>ON</b>" if self.safe_mode.active else "off"],
                ["op log", f"entry {last_seq}"],
            ],
        )
        shadows = table(
            ["follower", "at entry", "behind", "last heard"],
            [
                [e(name), e(seq), e(max(0, last_seq - seq)), f"{age:.1f} s ago"]
                for name, seq, age in self.oplog.followers.known()
            ],
            empty="no follower of the log",
        )
        body = (
            summary
            + "<h2>Chunkservers</h2>"
            + self._servers_table(servers)
            + "<h2>Re-replication</h2>"
            + self._repair_queue(health)
            + "<h2>Shadows and other followers</h2>"
            + shadows
            + "<h2>Recent events</h2>"
            + events_table(self.events)
        )
        return page(f"pygfs {self.role}", body, refresh=REFRESH, nav=NAV)

    def _servers_table(self, servers: list[ServerReport]) -> str:
        rows = []
        for s in servers:
            name = link(f"http://{s.http}/", s.address) if s.http else e(s.address)
            rows.append(
                [
                    name,
                    e(s.rack),
                    f"<span class={'alive' if s.state == 'alive' else 'dead'}>{e(s.state)}</span>",
                    e(s.chunks),
                    f"{size(s.used_bytes)} used {bar(s.used_bytes, s.used_bytes + s.free_bytes)}"
                    f" {size(s.free_bytes)} free",
                    f"{s.last_heartbeat_age_s:.1f} s ago",
                ]
            )
        return table(
            ["chunkserver", "rack", "state", "chunks", "disk", "last heartbeat"],
            rows,
            empty="no chunkserver has reported",
        )

    def _repair_queue(self, health: Health) -> str:
        """Chunks short of replicas, the fewest live first (the order repair takes them in),
        and the copies under way."""
        with self.meta.core:
            copies = sorted(self.cloning.values(), key=lambda c: c.handle)
        queue = table(
            ["live replicas", "chunks"],
            [[e(n), e(health.short[n])] for n in sorted(health.short)],
            empty="every chunk has all its replicas",
        )
        under_way = table(
            ["chunk", "from", "to", "kind"],
            [
                [e(c.handle), e(c.source), e(c.target), "move" if c.move else "copy"]
                for c in copies[:100]
            ],
            empty="no copy under way",
        )
        return queue + "<p>Copies under way:</p>" + under_way

    def browse(self, query: dict[str, str]) -> str:
        try:
            path = paths.normalize(query.get("path", "/") or "/")
            nodes, total = self.meta.list_some(path, SHOWN)
            node, views = self.meta.stat(path)
        except errors.GfsError as err:
            return page("pygfs namespace", f"<p class=warn>{e(err)}</p>", nav=NAV)
        crumbs = " / ".join(
            link(f"/browse?path={query_path(p)}", p.rsplit("/", 1)[-1] or "/")
            for p in [*paths.ancestors(path), path]
        )
        if node.is_dir:
            rows = [
                [
                    e(mode_string(n.is_dir, n.mode)),
                    e(n.owner or "-"),
                    e(n.group or "-"),
                    e(n.size),
                    e(when(n.mtime)),
                    link(f"/browse?path={query_path(n.path)}", n.path.rsplit("/", 1)[-1]),
                ]
                for n in nodes
            ]
            more = (
                f"<p class=muted>{total - len(nodes)} more not shown</p>"
                if total > len(nodes)
                else ""
            )
            body = (
                table(["mode", "owner", "group", "size", "modified", "name"], rows, "empty") + more
            )
        else:
            pages = self._chunkserver_pages()
            rows = [
                [
                    e(v.index),
                    e(v.handle),
                    e(v.version),
                    e(v.size),
                    ", ".join(
                        link(f"http://{pages[r]}/", r) if r in pages else e(r) for r in v.replicas
                    )
                    or "<span class=dead>none live</span>",
                    e(v.primary or "-"),
                ]
                for v in views
            ]
            info = (
                f"<p>{e(mode_string(False, node.mode))} {e(node.owner or '-')} "
                f"{e(node.group or '-')}, {e(size(node.size))}, modified {e(when(node.mtime))}</p>"
            )
            body = info + table(
                ["chunk", "handle", "version", "bytes", "replicas", "primary"], rows, "no chunks"
            )
        return page("pygfs namespace", f"<p>{crumbs}</p>{body}", nav=NAV)
