"""`geocube-ingester status AOI`: an AOI's progress in the terminal, followed live until it settles.

Talks to the gateway over HTTP, like a user's curl and the dashboard (`/ui/api/aoi/{aoi}` for the counts,
`/ui/api/aoi/{aoi}/scenes` for what failed, the `/aoi/{aoi}/status` long-poll to wake on changes), so it
needs only the gateway's address and token, not the catalogue's gRPC port inside the cluster.

Exit status: 0 when every scene and tile is DONE (with --once: when nothing is FAILED or RETRY yet), 1 when
something is FAILED or RETRY (RETRY waits for a manual retry: not a success either), 2 when the AOI or the
gateway cannot be read (unknown AOI, refused token, unreachable gateway).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import time
from collections.abc import Callable
from typing import Any

import requests
from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn
from rich.table import Table

from libs.http import client, errors

STATUSES = ("new", "pending", "done", "retry", "failed")
_STYLES = {"new": "grey62", "pending": "blue", "done": "green", "retry": "dark_orange", "failed": "red"}
# Long-poll wait: how long a count change can take to show while the AOI status itself does not change.
_WAIT_SECONDS = 2.0
DEFAULT_URL = "http://127.0.0.1:8080"


class StatusError(Exception):
    """The AOI or the gateway cannot be read: one line for the user, exit status 2."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("aoi", metavar="AOI", help="the AOI id (as in the payload's `name`)")
    parser.add_argument(
        "--url",
        default=os.environ.get("GEOCUBE_INGESTER_URL", DEFAULT_URL),
        help="gateway URL (default: GEOCUBE_INGESTER_URL, else %(default)s)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("GEOCUBE_INGESTER_TOKEN"),
        help="gateway bearer token (default: GEOCUBE_INGESTER_TOKEN, else the file given by --token-file)",
    )
    parser.add_argument(
        "--token-file",
        type=pathlib.Path,
        default=pathlib.Path("var/token"),
        help="file holding the token, as written by `geocube-ingester up` (default: %(default)s)",
    )
    parser.add_argument("--once", action="store_true", help="show the current state once and exit")
    parser.add_argument(
        "--timeout",
        type=float,
        default=0,
        help="give up following after this many seconds (exit 2; default: 0, follow until it settles)",
    )


@dataclasses.dataclass
class Snapshot:
    status: str
    scenes: dict[str, int]
    tiles: dict[str, int]
    attention: list[dict[str, Any]]  # FAILED and RETRY scenes and tiles, with `kind`

    @property
    def settled(self) -> bool:
        """Nothing is running or queued: the AOI ended DONE, or waits on what FAILED or needs a retry.
        (NEW tiles left then belong to scenes that will not download without a retry.)"""
        return (
            self.status in ("DONE", "FAILED", "RETRY")
            and self.scenes["pending"] == 0
            and self.tiles["pending"] == 0
        )

    @property
    def troubled(self) -> bool:
        return any(c["failed"] or c["retry"] for c in (self.scenes, self.tiles))


class Gateway:
    def __init__(self, url: str, token: str | None) -> None:
        self._url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = client.session(_WAIT_SECONDS + 30)

    def close(self) -> None:
        self._client.close()

    def _get(self, path: str, **params: Any) -> Any:
        try:
            answer = self._client.get(self._url + path, params=params, headers=self._headers)
        except requests.RequestException as exc:
            raise StatusError(f"gateway {self._url}: {errors.describe(exc)}") from None
        if answer.status_code == 403:
            raise StatusError(f"the gateway refused the token ({answer.text.strip()}): see --token")
        if answer.status_code != 200:
            raise StatusError(f"GET {path}: {answer.status_code} {answer.text.strip()}")
        return answer.json()

    def snapshot(self, aoi: str) -> Snapshot:
        summary = self._get(f"/ui/api/aoi/{aoi}")
        attention = []
        for scene in self._get(f"/ui/api/aoi/{aoi}/scenes")["scenes"]:
            if scene["status"] in ("FAILED", "RETRY"):
                attention.append({"kind": "scene", **scene})
            attention += [{"kind": "tile", **t} for t in scene["tiles"] if t["status"] in ("FAILED", "RETRY")]
        return Snapshot(summary["status"], summary["scenes"], summary["tiles"], attention)

    def wait_change(self, aoi: str, known: str) -> None:
        self._get(f"/aoi/{aoi}/status", known=known, wait=_WAIT_SECONDS)


def render(aoi: str, snap: Snapshot) -> Group:
    bars = Progress(
        TextColumn("{task.description:>7}"),
        BarColumn(bar_width=40, complete_style="green", finished_style="green"),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        auto_refresh=False,
    )
    for name, counts in (("scenes", snap.scenes), ("tiles", snap.tiles)):
        bars.add_task(name, total=max(counts["total"], 1), completed=counts["done"])
    table = Table(title=f"{aoi}: {snap.status}", title_justify="left")
    table.add_column("")
    for status in STATUSES:
        table.add_column(status.upper(), justify="right", style=_STYLES[status])
    table.add_column("total", justify="right")
    for name, counts in (("scenes", snap.scenes), ("tiles", snap.tiles)):
        table.add_row(name, *(str(counts[s]) for s in STATUSES), str(counts["total"]))
    parts: list[Any] = [table, bars]
    if snap.attention:
        failed = Table(
            title="needs attention (PUT /scene|tile/{id}/retry, or the dashboard)", title_justify="left"
        )
        for column in ("kind", "id", "source id", "status", "message"):
            failed.add_column(column, overflow="fold")
        for item in snap.attention:
            style = _STYLES[item["status"].lower()]
            failed.add_row(item["kind"], str(item["id"]), item["source_id"], item["status"], item["message"],
                           style=style)  # fmt: skip
        parts.append(failed)
    return Group(*parts)


def progress_line(aoi: str, snap: Snapshot) -> str:
    parts = [f"{name} {c['done']}/{c['total']} done" + "".join(f", {c[s]} {s.upper()}" for s in STATUSES if s != "done" and c[s])
             for name, c in (("scenes", snap.scenes), ("tiles", snap.tiles))]  # fmt: skip
    return f"{aoi} {snap.status}: " + " | ".join(parts)


def _follow(
    gateway: Gateway, aoi: str, snap: Snapshot, deadline: float | None, show: Callable[[Snapshot], None]
) -> Snapshot:
    """Wakes on each long-poll answer (a status change or the wait running out) until the AOI settles;
    `show` is called when the counts or the failures changed."""
    while not snap.settled:
        if deadline is not None and time.monotonic() > deadline:
            raise StatusError(f"{aoi} still {snap.status} after the --timeout")
        gateway.wait_change(aoi, snap.status)
        latest = gateway.snapshot(aoi)
        if latest != snap:
            show(latest)
        snap = latest
    return snap


def _token(args: argparse.Namespace) -> str | None:
    if args.token is not None:
        return str(args.token)
    if args.token_file.is_file():
        return args.token_file.read_text().strip()
    return None


def run(args: argparse.Namespace, console: Console | None = None) -> int:
    console = console or Console()
    gateway = Gateway(args.url, _token(args))
    deadline = time.monotonic() + args.timeout if args.timeout > 0 else None
    try:
        snap = gateway.snapshot(args.aoi)
        if args.once or snap.settled:
            console.print(render(args.aoi, snap))
        elif console.is_terminal:
            # The display redraws in place until the AOI settles.
            with Live(render(args.aoi, snap), console=console, auto_refresh=False) as live:
                snap = _follow(
                    gateway,
                    args.aoi,
                    snap,
                    deadline,
                    lambda s: live.update(render(args.aoi, s), refresh=True),
                )
        else:
            # Piped to a file or a CI log: one line per change, then the full display once.
            console.print(progress_line(args.aoi, snap), highlight=False)
            snap = _follow(
                gateway,
                args.aoi,
                snap,
                deadline,
                lambda s: console.print(progress_line(args.aoi, s), highlight=False),
            )
            console.print(render(args.aoi, snap))
    except StatusError as exc:
        console.print(f"status: {exc}", style="red", highlight=False)
        return 2
    finally:
        gateway.close()
    tiles = snap.tiles
    summary = f"{args.aoi}: {snap.status}, {tiles['done']}/{tiles['total']} tiles DONE"
    if snap.troubled:
        console.print(f"{summary}; {len(snap.attention)} scenes/tiles FAILED or RETRY", highlight=False)
        return 1
    console.print(summary, highlight=False)
    return 0
