"""The embedded PostgreSQL: a real server from the `pgserver` package, for laptops and the test suite.

Used when no DSN is configured, so one command runs the whole pipeline on a machine with nothing but
Python. The server listens on a Unix socket inside its data directory (no TCP port to collide with).
"""

from __future__ import annotations

import logging
import pathlib
import warnings
from typing import Any

logger = logging.getLogger(__name__)


class EmbeddedPostgres:
    def __init__(self, data_dir: pathlib.Path, cleanup: bool = False):
        self.data_dir = pathlib.Path(data_dir)
        self._cleanup = cleanup
        self._server: Any = None

    def start(self) -> str:
        """Starts (or attaches to) the server and returns its DSN."""
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI): harmless here.
            warnings.simplefilter("ignore")
            import pgserver

            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._server = pgserver.get_server(
                self.data_dir, cleanup_mode="delete" if self._cleanup else "stop"
            )
        dsn: str = self._server.get_uri()
        logger.info("embedded PostgreSQL running in %s", self.data_dir)
        return dsn

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
