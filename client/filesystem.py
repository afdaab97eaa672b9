"""pygfs as an fsspec filesystem, so the Python data stack reads and writes it with no import:
`fsspec.open("gfs://HOST:PORT/a/b")`, `pandas.read_csv("gfs://HOST:PORT/x.csv")`, pyarrow
datasets. Registered under the protocol `gfs` through the `fsspec.specs` entry point.

As HDFS's own FileSystem: writing a file makes its parent directories; deleting does not go
through the trash (that is the `gfs rm` command's safety net); a copy is a snapshot (instant,
the chunks shared until written). The master comes from the URL's HOST:PORT, else `master=`,
else GFS_MASTER; a secure cluster's certificate from `tls_ca`/`tls_cert`/`tls_key`, else
GFS_TLS_CA/GFS_TLS_CERT/GFS_TLS_KEY.
"""

from __future__ import annotations

import os
import urllib.parse
from typing import Any

from fsspec import AbstractFileSystem  # type: ignore[import-untyped]

from client.client import Client
from client.globs import has_magic
from client.models import Entry
from common import paths
from common.tls import TlsFiles

DEFAULT_MASTER = "127.0.0.1:9000"


class GfsFileSystem(AbstractFileSystem):  # type: ignore[misc]  # fsspec is untyped
    protocol = "gfs"
    root_marker = "/"

    def __init__(
        self,
        master: str | None = None,
        timeout: float = 30.0,
        tls_ca: str | None = None,
        tls_cert: str | None = None,
        tls_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.master = master or os.environ.get("GFS_MASTER") or DEFAULT_MASTER
        tls = TlsFiles.given(
            tls_ca or os.environ.get("GFS_TLS_CA"),
            tls_cert or os.environ.get("GFS_TLS_CERT"),
            tls_key or os.environ.get("GFS_TLS_KEY"),
        )
        self.client = Client(self.master, timeout=timeout, tls=tls)

    # --- paths --------------------------------------------------------------------------------

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = str(path)
        if path.startswith("gfs://"):
            path = "/" + path[len("gfs://") :].partition("/")[2]
        return "/" + path.strip("/")

    @staticmethod
    def _get_kwargs_from_urls(path: str) -> dict[str, Any]:
        netloc = urllib.parse.urlsplit(path).netloc
        return {"master": netloc} if netloc else {}

    def unstrip_protocol(self, name: str) -> str:
        return f"gfs://{self.master}{self._strip_protocol(name)}"

    # --- reading the namespace ----------------------------------------------------------------

    @staticmethod
    def _described(entry: Entry) -> dict[str, Any]:
        return {
            "name": entry.path,
            "size": 0 if entry.is_dir else entry.size,
            "type": "directory" if entry.is_dir else "file",
            "mtime": entry.mtime,
            "mode": entry.mode,
            "owner": entry.owner,
            "group": entry.group,
            "replication": entry.replication,
        }

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        path = self._strip_protocol(path)
        described = [self._described(e) for e in self.client.ls(path)]
        return described if detail else [d["name"] for d in described]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        entries = self.client.ls(path)  # a file lists as itself; a directory, its entries
        if len(entries) == 1 and entries[0].path == path and not entries[0].is_dir:
            return self._described(entries[0])
        return {"name": path, "size": 0, "type": "directory"}

    def modified(self, path: str) -> Any:
        import datetime

        mtime = self.info(path).get("mtime")
        if mtime is None:
            raise FileNotFoundError(f"no modification time for a directory listing: {path}")
        return datetime.datetime.fromtimestamp(mtime, datetime.UTC)

    # --- changing it --------------------------------------------------------------------------

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        path = self._strip_protocol(path)
        if self.exists(path):
            raise FileExistsError(f"already exists: {path}")
        self.client.mkdir(path, parents=create_parents)

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        path = self._strip_protocol(path)
        if not exist_ok and self.exists(path):
            raise FileExistsError(f"already exists: {path}")
        self.client.mkdir(path, parents=True)

    def rmdir(self, path: str) -> None:
        path = self._strip_protocol(path)
        if not self.isdir(path):
            raise NotADirectoryError(f"not a directory: {path}")
        self.client.rm(path, skip_trash=True)

    def _rm(self, path: str) -> None:
        self.client.rm(self._strip_protocol(path), skip_trash=True)

    def rm(self, path: Any, recursive: bool = False, maxdepth: int | None = None) -> None:
        if isinstance(path, str) and maxdepth is None and not has_magic(path):
            self.client.rm(self._strip_protocol(path), recursive=recursive, skip_trash=True)
            self.invalidate_cache()
            return
        super().rm(path, recursive=recursive, maxdepth=maxdepth)

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        """A snapshot: instant, chunks shared until either copy is written."""
        src, dst = self._strip_protocol(path1), self._strip_protocol(path2)
        if self.isdir(src):
            self.makedirs(dst, exist_ok=True)
            return
        self._make_parent(dst)
        if self.exists(dst):
            self.client.rm(dst, skip_trash=True)
        self.client.snapshot(src, dst)

    def mv(self, path1: Any, path2: Any, recursive: bool = False, **kwargs: Any) -> None:
        """A rename where it is one (one path to a new name); else copy and delete."""
        if isinstance(path1, str) and isinstance(path2, str) and not has_magic(path1):
            src, dst = self._strip_protocol(path1), self._strip_protocol(path2)
            if self.isdir(dst):
                dst = dst.rstrip("/") + "/" + src.rsplit("/", 1)[-1]
            if self.isfile(src) or recursive:
                self._make_parent(dst)
                self.client.mv(src, dst)
                self.invalidate_cache()
                return
        super().mv(path1, path2, recursive=recursive, **kwargs)

    def touch(self, path: str, truncate: bool = True, **kwargs: Any) -> None:
        path = self._strip_protocol(path)
        if self.exists(path) and not truncate:
            return  # GFS keeps no settable times: nothing more to do
        with self.open(path, "wb"):
            pass

    def _make_parent(self, path: str) -> None:
        parent = paths.parent(path)
        if parent != "/":
            self.client.mkdir(parent, parents=True)

    # --- contents -----------------------------------------------------------------------------

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        if not autocommit:
            raise NotImplementedError("pygfs files are written in place (no transactions)")
        path = self._strip_protocol(path)
        if "r" not in mode:
            self._make_parent(path)
        return self.client.open(path, mode)

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        path = self._strip_protocol(path)
        stat = self.client.stat(path)
        if stat.is_dir:
            raise IsADirectoryError(f"is a directory: {path}")
        begin = 0 if start is None else (start if start >= 0 else max(0, stat.size + start))
        stop = stat.size if end is None else (end if end >= 0 else max(0, stat.size + end))
        return self.client.read(path, begin, max(0, stop - begin))
