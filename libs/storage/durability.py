"""How local storage makes a stored file durable before its task is reported DONE.

A stored file must survive a power cut once its task is reported, and a crash must never leave a
partial file under the final name. Two ways, chosen by `STORAGE_SYNC`:

`files` (the default): fsync the file before its rename into place, then fsync the folder holding the
new name (and every folder created for it). A product stored under `<aoi>/<scene>/tiles/<tile>/` is four
fsyncs, each a journal commit on ext4: ~0.3 ms of CPU (mostly kernel time) and ~1 ms of waiting.

`filesystem`: the same two barriers, each shared by every file being stored at that moment in the
process. A writer asks for a barrier; if one is already running it waits for the next (the running one
may have started before its data was written), and one `syncfs` of the file system serves everybody
waiting: the file group commit, as PostgreSQL does for WAL. Then each writer `fdatasync`s its own file,
which finds nothing left to write but reports a write-back error of *that* file (syncfs reports errors
only to the descriptor it was given, and not at all before Linux 5.8). Used only on file systems known
to be local disks (ext4, xfs, btrfs, f2fs, tmpfs…, read from /proc/self/mountinfo): on FUSE mounts
(gcsfuse, s3fs…) syncfs does not ask the daemon to persist anything, and network file systems are
left to their fsync; there, and where syncfs does not exist, it behaves as `files`.

syncfs writes out everything dirty on the file system: other programs' writes, and the workers' own
working folders if they are on it (unzipped products, intermediate rasters, otherwise deleted before
they reach the disk). That is why `files` is the default; `filesystem` pays when the storage has a file
system of its own, or when the files are small and many (docs/benchmarks.md, docs/storage.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import pathlib
import threading
from collections.abc import Callable, Sequence

SYNC_MODES = ("files", "filesystem")
DEFAULT_SYNC = "files"
# File systems whose syncfs writes their own disk: the barriers are used only there.
_LOCAL_TYPES = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "jfs", "reiserfs", "tmpfs", "zfs"})


def _find_syncfs() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        function = libc.syncfs
    except (OSError, AttributeError):
        return None  # not Linux (or no glibc): every barrier is a per-file fsync
    function.argtypes = [ctypes.c_int]
    function.restype = ctypes.c_int
    return function


_SYNCFS = _find_syncfs()


def _fsync_path(path: pathlib.Path) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Durability:
    """`before_rename` once the file's bytes are written (its descriptor still open), `after_rename`
    once it has its final name; both return when what they cover is on disk."""

    def before_rename(self, fd: int, folder: pathlib.Path) -> None:
        raise NotImplementedError

    def after_rename(self, folders: Sequence[pathlib.Path]) -> None:
        raise NotImplementedError


class FileSync(Durability):
    def before_rename(self, fd: int, folder: pathlib.Path) -> None:
        os.fsync(fd)

    def after_rename(self, folders: Sequence[pathlib.Path]) -> None:
        for folder in folders:
            _fsync_path(folder)


class NoSync(Durability):
    """For copies into a task's working folder: lost in a crash along with the task, which is redone."""

    def before_rename(self, fd: int, folder: pathlib.Path) -> None:
        pass

    def after_rename(self, folders: Sequence[pathlib.Path]) -> None:
        pass


class _Barriers:
    """The shared barriers of one file system."""

    def __init__(self, syncfs: Callable[[int], int]):
        self._syncfs = syncfs
        self._changed = threading.Condition()
        self._started = 0  # barriers begun
        self._finished = 0  # the last barrier that succeeded (one runs at a time: they end in order)
        self._running = False
        self.calls = 0  # syncfs calls made
        self.waiting = 0  # writers waiting for a running barrier to end (for tests)

    def wait(self, fd: int, where: str) -> None:
        """Returns once a syncfs that began after this call has succeeded (`fd`: on that file system)."""
        with self._changed:
            # A barrier already running may have begun before our writes: only the next one covers them.
            needed = self._started + 1
            while self._finished < needed:
                if self._running:
                    self.waiting += 1
                    self._changed.wait()
                    self.waiting -= 1
                    continue
                self._running = True
                self._started += 1
                mine = self._started
                self._changed.release()
                try:
                    self._sync(fd, where)
                finally:
                    self._changed.acquire()
                    self._running = False
                    self._changed.notify_all()
                # Reached only if it succeeded: after a failure the next waiter runs one of its own.
                self._finished = mine

    def _sync(self, fd: int, where: str) -> None:
        self.calls += 1
        if self._syncfs(fd) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"syncfs: {os.strerror(errno)}", where)


def _filesystem_types() -> dict[int, str]:
    """Device number -> file system type of every mount of this process (Linux; {} elsewhere)."""
    types: dict[int, str] = {}
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as mounts:
            for line in mounts:
                fields = line.split()
                # <id> <parent> <major:minor> <root> <mount point> <options>… - <type> <source> <options>
                major, _, minor = fields[2].partition(":")
                types[os.makedev(int(major), int(minor))] = fields[fields.index("-") + 1]
    except (OSError, ValueError, IndexError):
        pass
    return types


class FilesystemSync(Durability):
    """Barriers shared by the threads storing files, one series per file system (a storage root may
    hold mount points: the device is that of the file or folder being made durable). A file system not
    known to be a local disk gets the per-file fsyncs of `FileSync`."""

    def __init__(self, syncfs: Callable[[int], int], types: Callable[[], dict[int, str]] = _filesystem_types):
        self._syncfs = syncfs
        self._types = types
        self._by_device: dict[int, _Barriers | None] = {}
        self._lock = threading.Lock()
        self._fallback = FileSync()

    def barriers(self, device: int) -> _Barriers | None:
        """The barriers of that file system; None where it is not a local disk."""
        with self._lock:
            if device not in self._by_device:
                local = self._types().get(device) in _LOCAL_TYPES
                self._by_device[device] = _Barriers(self._syncfs) if local else None
            return self._by_device[device]

    def before_rename(self, fd: int, folder: pathlib.Path) -> None:
        barriers = self.barriers(os.fstat(fd).st_dev)
        if barriers is None:
            self._fallback.before_rename(fd, folder)
            return
        barriers.wait(fd, str(folder))
        # Nothing left to write after the barrier: this reports an error in writing this very file.
        os.fdatasync(fd)

    def after_rename(self, folders: Sequence[pathlib.Path]) -> None:
        # The folders created for the file are new, hence on the file system of the first one that
        # existed, as the file is: one barrier covers them all.
        fd = os.open(folders[0], os.O_RDONLY | os.O_DIRECTORY)
        try:
            barriers = self.barriers(os.fstat(fd).st_dev)
            if barriers is not None:
                barriers.wait(fd, str(folders[0]))
                return
        finally:
            os.close(fd)
        self._fallback.after_rename(folders)


_SHARED = FilesystemSync(_SYNCFS) if _SYNCFS is not None else None


def for_mode(mode: str) -> Durability:
    """The durability of files stored in that mode (`files` where the system has no syncfs); the
    barriers of `filesystem` are shared by every storage of the process."""
    if mode not in SYNC_MODES:
        raise ValueError(f"storage sync mode {mode!r}: expected one of {', '.join(SYNC_MODES)}")
    if mode == "files" or _SHARED is None:
        return FileSync()
    return _SHARED
