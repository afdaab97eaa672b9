"""pygfs as an fsspec filesystem: fsspec's own abstract test suites (every Abstract*Tests class
the installed fsspec ships, found by name so a new one runs too), `fsspec.open` by URL with no
import of ours, and a pandas DataFrame through Parquet and CSV on gfs."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

import fsspec
import fsspec.tests.abstract as abstract
import pandas
import pyarrow.dataset as ds
import pytest

from client.localcluster import LocalCluster
from tests.conftest import start_cluster

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """Its own cluster: the suites make and delete many files at the root of their path."""
    local = start_cluster(tmp_path_factory.mktemp("fsspec"))
    yield local
    local.stop()


class GfsFixtures(abstract.AbstractFixtures):  # type: ignore[misc]
    @pytest.fixture
    def fs(self, cluster: LocalCluster) -> fsspec.AbstractFileSystem:
        return fsspec.filesystem("gfs", master=cluster.master_address)

    @pytest.fixture
    def fs_join(self) -> object:
        return posixpath.join

    @pytest.fixture
    def fs_path(self, fs: fsspec.AbstractFileSystem) -> Iterator[str]:
        fs.makedirs("/suite", exist_ok=True)
        yield "/suite"
        fs.rm("/suite", recursive=True)


SUITES = sorted(n for n in dir(abstract) if n.startswith("Abstract") and n.endswith("Tests"))
for _name in SUITES:
    _suite = type(f"TestGfs{_name[len('Abstract') :]}", (getattr(abstract, _name), GfsFixtures), {})
    globals()[_suite.__name__] = _suite


def test_every_suite_fsspec_ships_runs_here() -> None:
    assert {"AbstractCopyTests", "AbstractGetTests", "AbstractPutTests"} <= set(SUITES)
    assert all(f"TestGfs{n[len('Abstract') :]}" in globals() for n in SUITES)


def test_urls_open_with_no_import_of_ours(cluster: LocalCluster) -> None:
    url = f"gfs://{cluster.master_address}/urls/hello.txt"
    with fsspec.open(url, "w") as f:
        f.write("hello, gfs\n")
    with fsspec.open(url, "r") as f:
        assert f.read() == "hello, gfs\n"
    fs, path = fsspec.core.url_to_fs(url)
    assert type(fs).__name__ == "GfsFileSystem" and path == "/urls/hello.txt"
    assert fs.info(path)["size"] == len("hello, gfs\n")
    assert fs.cat_file(path, start=-4) == b"gfs\n"


def test_a_dataframe_through_parquet_and_csv(cluster: LocalCluster) -> None:
    frame = pandas.DataFrame(
        {
            "n": range(50_000),
            "name": [f"row-{i}" for i in range(50_000)],
            "x": [i * 0.5 for i in range(50_000)],
        }
    )
    base = f"gfs://{cluster.master_address}/frames"
    frame.to_parquet(f"{base}/rows.parquet")
    pandas.testing.assert_frame_equal(pandas.read_parquet(f"{base}/rows.parquet"), frame)
    frame.to_csv(f"{base}/rows.csv", index=False)
    pandas.testing.assert_frame_equal(pandas.read_csv(f"{base}/rows.csv"), frame)
    dataset = ds.dataset(
        "/frames/rows.parquet", filesystem=fsspec.filesystem("gfs", master=cluster.master_address)
    )
    assert dataset.to_table().num_rows == 50_000
