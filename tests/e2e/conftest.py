"""End-to-end fixtures: every service as its own process, configured only by environment variables."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


class Service:
    """A service process whose log lines are collected; `wait_for(pattern)` blocks until one matches."""

    def __init__(self, name: str, module: str, env: dict[str, str], args: tuple[str, ...] = ()):
        self.name = name
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, *args], cwd=ROOT, env={**os.environ, **env},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip())
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def mark(self) -> int:
        """The number of lines logged so far: `wait_for(..., since=mark)` then ignores older lines."""
        with self._changed:
            return len(self.lines)

    def wait_for(self, pattern: str, timeout: float = 60, since: int = 0) -> str:
        regex = re.compile(pattern)
        with self._changed:
            ok = self._changed.wait_for(
                lambda: any(regex.search(line) for line in self.lines[since:]) or self.proc.poll() is not None,
                timeout,
            )
            found = [line for line in self.lines[since:] if regex.search(line)]
        if not ok or not found:
            raise AssertionError(f"{self.name}: no line matching {pattern!r}; log:\n" + "\n".join(self.lines[-40:]))
        return found[0]

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)
        self._close()

    def _close(self) -> None:
        # The reader ends at EOF once the process is gone; then the pipe can be closed.
        self._reader.join(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._close()


@pytest.fixture
def services() -> Iterator[list[Service]]:
    started: list[Service] = []
    yield started
    for service in reversed(started):
        service.stop()
