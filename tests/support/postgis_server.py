"""A private PostgreSQL with PostGIS for the STAC publishing test, started from Debian's server binaries.

The embedded server of the rest of the suite (pgserver) has no PostGIS, and pgstac needs it; the machine's
own server may not be running (a fresh CI machine). So the test brings up its own: `initdb` into a temp
dir (trust auth), listening on 127.0.0.1 at a free port with a private Unix-socket dir, stopped at the end.

initdb and postgres refuse to run as root, so as root every server command runs as Debian's `postgres`
system user (created by postgresql-common) with the directories handed over to it.
"""

from __future__ import annotations

import os
import pathlib
import pwd
import shutil
import subprocess
import tempfile

from libs.stack.processes import free_port

LIB = pathlib.Path("/usr/lib/postgresql")
SHARE = pathlib.Path("/usr/share/postgresql")
INSTALL_HINT = (
    "install Debian's postgresql-15-postgis-3 (it pulls the server, postgresql-15): ./scripts/bootstrap does "
    "so when run as root"
)
COMMAND_TIMEOUT = 120.0  # initdb and a cold start on a loaded 2-core machine; pg_ctl -w waits up to this
START_ATTEMPTS = 3  # a free port may be taken by someone else between our probe and the server's bind
SYSTEM_USER = "postgres"


def postgis_bin_dir() -> pathlib.Path:
    """The newest Debian server whose share dir has PostGIS; a clear error (never a skip) when none has."""
    candidates: list[tuple[int, pathlib.Path]] = []
    for initdb in LIB.glob("*/bin/initdb"):
        version = initdb.parent.parent.name
        if version.isdigit() and (SHARE / version / "extension" / "postgis.control").exists():
            candidates.append((int(version), initdb.parent))
    if not candidates:
        found = sorted(str(p.parent.parent.name) for p in LIB.glob("*/bin/initdb")) or ["none"]
        raise RuntimeError(
            f"no PostgreSQL server with PostGIS under {LIB} (server versions found: {', '.join(found)}): "
            f"{INSTALL_HINT}, or set GEOCUBE_TEST_PGSTAC_DSN to a PostgreSQL that has PostGIS"
        )
    return max(candidates)[1]


class PostgisServer:
    def __init__(self) -> None:
        self.bin_dir = postgis_bin_dir()
        self._as_user: list[str] = []
        self._owner: tuple[int, int] | None = None
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam(SYSTEM_USER)
            except KeyError:
                raise RuntimeError(
                    f"running as root and there is no '{SYSTEM_USER}' user to run the test PostgreSQL as "
                    f"(initdb refuses root): {INSTALL_HINT}"
                ) from None
            runuser = shutil.which("runuser")
            if runuser is None:
                raise RuntimeError("as root, runuser (util-linux) is needed to start PostgreSQL as postgres")
            self._as_user = [runuser, "-u", SYSTEM_USER, "--"]
            self._owner = (entry.pw_uid, entry.pw_gid)
        # Not under pytest's basetemp: pytest makes it 0700 for root, so the postgres user could not reach it.
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="geocube-postgis-"))
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "socket"
        self.log_file = self.root / "server.log"
        self.port = 0
        self._started = False

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*self._as_user, *args],
            cwd=self.root,  # the caller's cwd may not be readable by the postgres user
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
        if result.returncode != 0:
            output = result.stdout + result.stderr
            raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}):\n{output}")
        return result

    def start(self) -> str:
        """initdb, then start on 127.0.0.1; returns the DSN of the `postgres` maintenance database."""
        self.socket_dir.mkdir()
        if self._owner is not None:
            for path in (self.root, self.socket_dir):
                os.chown(path, *self._owner)
        self._run(
            str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", "postgres",
            "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        for attempt in range(START_ATTEMPTS):
            self.port = free_port()
            # A test database: durability is not wanted, speed on a shared machine is.
            options = (
                f"-c listen_addresses=127.0.0.1 -c port={self.port}"
                f" -c unix_socket_directories={self.socket_dir}"
                " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            try:
                # -w: pg_ctl's own wait until the server accepts connections (up to -t seconds).
                self._run(
                    str(self.bin_dir / "pg_ctl"), "start", "-w", "-t", str(int(COMMAND_TIMEOUT)),
                    "-D", str(self.data_dir), "-l", str(self.log_file), "-o", options,
                )  # fmt: skip
                break
            except RuntimeError as error:
                if attempt == START_ATTEMPTS - 1:
                    log = self.log_file.read_text(errors="replace")[-3000:] if self.log_file.exists() else ""
                    raise RuntimeError(f"{error}\nserver log:\n{log}") from None
        self._started = True
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        try:
            if self._started:
                self._run(str(self.bin_dir / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.data_dir))
                self._started = False
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
