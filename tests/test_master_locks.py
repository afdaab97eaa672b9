"""Per-path locks: siblings proceed together, a parent's writer excludes its children."""

from __future__ import annotations

import threading

from master.locks import PathLocks


def test_creations_in_one_directory_do_not_block_each_other() -> None:
    locks = PathLocks()
    inside = threading.Barrier(2, timeout=5)

    def create(name: str) -> None:
        with locks.hold(write=[f"/d/{name}"]):
            inside.wait()  # both must be inside at once, or this times out

    threads = [threading.Thread(target=create, args=(n,)) for n in "xy"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not inside.broken


def test_deleting_a_directory_waits_for_work_inside_it() -> None:
    locks = PathLocks()
    order: list[str] = []
    child_in = threading.Event()
    release_child = threading.Event()

    def child() -> None:
        with locks.hold(write=["/d/f"]):
            child_in.set()
            release_child.wait(5)
            order.append("child done")

    def delete_dir() -> None:
        child_in.wait(5)
        with locks.hold(write=["/d"]):
            order.append("delete")

    threads = [threading.Thread(target=child), threading.Thread(target=delete_dir)]
    for t in threads:
        t.start()
    child_in.wait(5)
    threads[1].join(0.2)
    assert order == [], "the delete must wait for the read lock on /d"
    release_child.set()
    for t in threads:
        t.join(5)
    assert order == ["child done", "delete"]
    assert (locks._readers, locks._writers) == ({}, set()), "nothing is left held"


def test_an_operation_waiting_for_one_path_holds_none_of_its_others() -> None:
    locks = PathLocks()
    release = threading.Event()
    e_held = threading.Event()

    def holder() -> None:
        with locks.hold(write=["/e/y"]):
            e_held.set()
            release.wait(5)

    def both() -> None:  # a rename of /d/x to /e/y: waits for /e/y
        with locks.hold(write=["/d/x", "/e/y"]):
            pass

    threads = [threading.Thread(target=holder), threading.Thread(target=both)]
    threads[0].start()
    assert e_held.wait(5)
    threads[1].start()
    threads[1].join(0.2)
    assert threads[1].is_alive(), "the rename must wait for /e/y"
    done = threading.Event()

    def other() -> None:
        with locks.hold(write=["/d/x"]):  # not held by the waiting rename
            done.set()

    threading.Thread(target=other).start()
    assert done.wait(5), "/d/x was held by an operation still waiting for another path"
    release.set()
    for t in threads:
        t.join(5)
    assert (locks._readers, locks._writers) == ({}, set())
