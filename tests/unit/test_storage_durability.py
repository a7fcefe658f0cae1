"""Durable local writes (libs/storage/durability.py): shared syncfs barriers, the file systems they are
used on, and the two modes."""

from __future__ import annotations

import ctypes
import errno
import os
import pathlib
import threading
import time

import pytest

from libs.runtime.errors import InvalidArgument
from libs.storage import LocalStorage, durability, open_storage
from libs.storage.config import ObjectStoreConfig
from libs.storage.durability import FilesystemSync, FileSync, for_mode
from libs.storage.local import copy_atomically


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


def local_disk(path: pathlib.Path, kind: str = "ext4"):  # type: ignore[no-untyped-def]
    """The mount table as FilesystemSync reads it, with `path`'s file system of type `kind`."""
    return lambda: {path.stat().st_dev: kind}


def wait_until(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    # A thread's arrival in Condition.wait has no event of its own: looked at until it shows.
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_writers_share_barriers_and_each_waits_for_one_begun_after_it(tmp_path: pathlib.Path) -> None:
    syncfs = RecordingSyncfs()
    sync = FilesystemSync(syncfs, local_disk(tmp_path))
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    spans: list[tuple[float, float]] = []
    spans_lock = threading.Lock()
    barriers = sync.barriers(os.fstat(fd).st_dev)
    assert barriers is not None

    def writer() -> None:
        entered = time.monotonic()
        barriers.wait(fd, str(tmp_path))
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
        wait_until(lambda: barriers.waiting == 10, "the writers to wait")
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
    sync = FilesystemSync(syncfs, local_disk(tmp_path))
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        barriers = sync.barriers(os.fstat(fd).st_dev)
        assert barriers is not None
        with pytest.raises(OSError, match="syncfs") as failed:
            barriers.wait(fd, str(tmp_path))
        assert failed.value.errno == errno.EIO
        barriers.wait(fd, str(tmp_path))  # not taken for done: a new syncfs, which succeeds
    finally:
        os.close(fd)
    assert len(syncfs.calls) == 2


def test_a_file_system_not_known_as_a_local_disk_gets_fsyncs(tmp_path: pathlib.Path) -> None:
    """FUSE (gcsfuse, s3fs…): syncfs would not ask the daemon to persist anything."""
    syncfs = RecordingSyncfs()
    syncfs.release.set()
    sync = FilesystemSync(syncfs, local_disk(tmp_path, "fuse.gcsfuse"))
    source = tmp_path / "f.zip"
    source.write_bytes(b"zip")
    copy_atomically(source, tmp_path / "a" / "b" / "f.zip", sync)
    assert (tmp_path / "a" / "b" / "f.zip").read_bytes() == b"zip"
    assert sync.barriers(tmp_path.stat().st_dev) is None and not syncfs.calls


def test_filesystem_mode_stores_through_the_real_syncfs(tmp_path: pathlib.Path) -> None:
    assert durability._SYNCFS is not None  # the project runs on Linux: syncfs must be found
    sync = FilesystemSync(durability._SYNCFS, local_disk(tmp_path))  # its own barriers: counted alone
    source = tmp_path / "f.zip"
    source.write_bytes(b"zip" * 1000)
    destination = tmp_path / "root" / "aoi" / "scene" / "tiles" / "tile" / "f.zip"
    copy_atomically(source, destination, sync)
    assert destination.read_bytes() == b"zip" * 1000
    barriers = sync.barriers(tmp_path.stat().st_dev)
    # Two barriers: the bytes before the rename, the name after it.
    assert barriers is not None and barriers.calls == 2
    assert not [p for p in destination.parent.iterdir() if p.name.endswith(".partial")]
    # The mode a worker asks for by its setting is the process's shared instance.
    assert isinstance(for_mode("filesystem"), FilesystemSync)


def test_files_is_the_default_and_the_setting_is_checked(tmp_path: pathlib.Path) -> None:
    assert isinstance(for_mode("files"), FileSync)
    assert ObjectStoreConfig().storage_sync == "files"
    for config in (ObjectStoreConfig(), ObjectStoreConfig(storage_sync="filesystem")):
        storage = open_storage(str(tmp_path / config.storage_sync), config)
        assert isinstance(storage, LocalStorage)
        source = tmp_path / "f.tif"
        source.write_bytes(b"pixels")
        assert pathlib.Path(storage.put_file(source, "a/b/f.tif")).read_bytes() == b"pixels"
    with pytest.raises(InvalidArgument, match="GEOCUBE_DOWNLOADER_STORAGE_SYNC") as refused:
        ObjectStoreConfig(storage_sync="never").check("GEOCUBE_DOWNLOADER_")
    assert "files, filesystem" in str(refused.value)
    with pytest.raises(ValueError, match="never"):
        for_mode("never")
