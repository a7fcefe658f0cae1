"""Durable local writes (libs/storage/durability.py): shared syncfs barriers, and the two modes."""

from __future__ import annotations

import ctypes
import errno
import os
import pathlib
import sys
import threading
import time

import pytest

from libs.runtime.errors import InvalidArgument
from libs.storage import LocalStorage, open_storage
from libs.storage.config import ObjectStoreConfig
from libs.storage.durability import FilesystemSync, FileSync, for_mode


class RecordingSyncfs:
    """A syncfs with the real signature that records when each call began and ended, and holds the
    first call until released, so that writers pile up behind it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[tuple[float, float]] = []
        self.release = threading.Event()
        self.first_started = threading.Event()
        self.fail_next = False

    def __call__(self, fd: int) -> int:
        os.fstat(fd)  # a real, open descriptor
        began = time.monotonic()
        self.first_started.set()
        self.release.wait(10)
        with self.lock:
            self.calls.append((began, time.monotonic()))
            if self.fail_next:
                self.fail_next = False
                ctypes.set_errno(errno.EIO)
                return -1
        return 0


def test_writers_share_barriers_and_each_waits_for_one_begun_after_it(tmp_path: pathlib.Path) -> None:
    syncfs = RecordingSyncfs()
    sync = FilesystemSync(syncfs)
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    spans: list[tuple[float, float]] = []
    spans_lock = threading.Lock()

    def writer() -> None:
        entered = time.monotonic()
        sync.barriers(os.fstat(fd).st_dev).wait(fd, str(tmp_path))
        with spans_lock:
            spans.append((entered, time.monotonic()))

    try:
        first = threading.Thread(target=writer)
        first.start()
        assert syncfs.first_started.wait(5)
        # Ten more writers arrive while the first barrier runs: it may predate their writes.
        others = [threading.Thread(target=writer) for _ in range(10)]
        for thread in others:
            thread.start()
        barriers = sync.barriers(os.fstat(fd).st_dev)
        deadline = time.monotonic() + 10
        while barriers.waiting < 10 and time.monotonic() < deadline:  # no event to wait on: a thread's
            time.sleep(0.01)  # arrival in Condition.wait is only visible this way
        assert barriers.waiting == 10
        syncfs.release.set()
        for thread in [first, *others]:
            thread.join(10)
    finally:
        os.close(fd)
    assert len(spans) == 11
    # Eleven writers, two barriers: the running one, then one for everybody who came during it.
    assert len(syncfs.calls) == 2
    for entered, returned in spans:
        # Some syncfs began after the writer asked and ended before it returned.
        assert any(entered <= began and ended <= returned for began, ended in syncfs.calls)


def test_a_failed_barrier_fails_its_writers_and_the_next_one_runs_again(tmp_path: pathlib.Path) -> None:
    syncfs = RecordingSyncfs()
    syncfs.release.set()
    syncfs.fail_next = True
    sync = FilesystemSync(syncfs)
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        barriers = sync.barriers(os.fstat(fd).st_dev)
        with pytest.raises(OSError, match="syncfs") as failed:
            barriers.wait(fd, str(tmp_path))
        assert failed.value.errno == errno.EIO
        barriers.wait(fd, str(tmp_path))  # not taken for done: a new syncfs, which succeeds
    finally:
        os.close(fd)
    assert len(syncfs.calls) == 2


@pytest.mark.skipif(sys.platform != "linux", reason="syncfs is Linux's")
def test_filesystem_mode_stores_through_the_real_syncfs(tmp_path: pathlib.Path) -> None:
    sync = for_mode("filesystem")
    assert isinstance(sync, FilesystemSync)  # this is Linux: syncfs was found
    storage = open_storage(str(tmp_path / "root"))
    device = (tmp_path).stat().st_dev
    before = sync.barriers(device).calls
    source = tmp_path / "f.zip"
    source.write_bytes(b"zip" * 1000)
    uri = storage.put_file(source, "aoi/scene/tiles/tile/f.zip")
    assert pathlib.Path(uri).read_bytes() == b"zip" * 1000
    # Two barriers: the bytes before the rename, the name after it.
    assert sync.barriers(device).calls - before == 2
    assert not [p for p in pathlib.Path(uri).parent.iterdir() if p.name.endswith(".partial")]


def test_files_mode_and_the_setting(tmp_path: pathlib.Path) -> None:
    assert isinstance(for_mode("files"), FileSync)
    storage = open_storage(str(tmp_path / "root"), ObjectStoreConfig(storage_sync="files"))
    assert isinstance(storage, LocalStorage)
    source = tmp_path / "f.tif"
    source.write_bytes(b"pixels")
    assert pathlib.Path(storage.put_file(source, "a/b/f.tif")).read_bytes() == b"pixels"
    with pytest.raises(InvalidArgument, match="GEOCUBE_DOWNLOADER_STORAGE_SYNC") as refused:
        ObjectStoreConfig(storage_sync="never").check("GEOCUBE_DOWNLOADER_")
    assert "filesystem, files" in str(refused.value)
