"""Ingestion benchmark: POST /catalog/aoi → every tile DONE, over HTTP, on the whole local stack.

For each archive size N: build N demo Sentinel-2 products (tiny bands: the benchmark measures the
pipeline's overhead, not raster I/O), start catalogue, downloader, processor and gateway, post the demo
area with `CopyProductToStorage` + `Pass` and no layers, and follow the AOI status with the long-poll
until it is final. Each (N, concurrency) is run `--repeat` times on a fresh database; median and minimum
are printed as a markdown table on stdout (progress goes to stderr).

Split of one run, all measured from just before the POST:
  post      the POST's answer: archive search, tiling and the ingestion transaction;
  download  the newest file in the AOI's storage folder (products are stored just before their
            download task is reported): roughly when the last scene was downloaded;
  done      the AOI status turned DONE: the last tile was processed;
  cpu       user + system CPU seconds meanwhile of each process: this one (catalogue and gateway), the
            downloader, the processor and the embedded PostgreSQL (benchmarks/procstat.py);
  peak      peak resident memory (VmHWM) of each, at the end of the run.

The 1-minute load average is printed before every run. Other jobs on the machine skew the figures, so a
run starts only when it is at most 1.0 (waiting up to --quiet-wait seconds for it), unless `--load` is
given: then a CPU-burning neighbour process spins on one core for the whole run, and the figures are
those of a busy machine, labelled so.

    .venv/bin/python -m benchmarks.ingest --scenes 100 1000 [--concurrency 2 4 8] [--load] [--database-dsn DSN]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import pathlib
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence

import psycopg
import requests
from prometheus_client import CollectorRegistry
from psycopg import sql

from benchmarks import procstat
from libs.http.aio import AsyncClient
from libs.demo.archive import build_demo_archive
from libs.runtime import logs
from libs.stack.demo import PAYLOAD, report_counts
from libs.stack.local import StackConfig, start_stack

_FINAL = ("DONE", "FAILED", "RETRY")
# Seconds: the long-poll answers as soon as the status changes; this only bounds how long a stuck
# status (see StuckStatus) goes unnoticed.
_POLL_WAIT = 10.0
_STUCK_RETRIES = 3  # stuck runs redone per (size, concurrency) before giving up


def _checked(answer: requests.Response) -> requests.Response:
    answer.raise_for_status()
    return answer


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclasses.dataclass(frozen=True)
class Sample:
    scenes: int
    concurrency: int
    post: float  # seconds, see the module docstring
    download: float
    done: float
    load: float  # 1-minute load average just before the run
    cpu: dict[str, float]  # role -> user + system seconds from POST to DONE (procstat.snapshot)
    peak_mib: dict[str, float]  # role -> peak resident memory at the end of the run
    per_commit: float  # DONE reports per committing transaction (commits_shared)
    rpcs: dict[str, float]  # gRPC method -> calls the catalogue answered during the run (rpc_counts)


def payload(name: str) -> bytes:
    """The demo payload reduced to the pipeline's plumbing: copy the product, pass the tile, index nothing."""
    area = json.loads(PAYLOAD.read_text())
    area.update(name=name, scene_graph_name="CopyProductToStorage", tile_graph_name="Pass", layers={})
    return json.dumps(area).encode()


@contextlib.contextmanager
def fresh_database(dsn: str) -> Iterator[str]:
    """A new database on the given server for one run (so runs do not see each other's rows); "" keeps
    the embedded default, which is fresh anyway since every run has its own working directory."""
    if not dsn:
        yield ""
        return
    name = f"geocube_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield psycopg.conninfo.make_conninfo(dsn, dbname=name)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


async def commits_shared(dsn: str, aoi: str) -> float:
    """DONE reports per transaction, from the rows they wrote last: a scene row was last written by its
    download's DONE report, a tile row by its processing's, and rows written by one transaction share
    its xmin (group commit: workflow/group_commit.py)."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT (SELECT count(*) FROM scene WHERE aoi_id = %(aoi)s)"
            " + (SELECT count(*) FROM tile t JOIN scene s ON s.id = t.scene_id WHERE s.aoi_id = %(aoi)s),"
            " (SELECT count(DISTINCT xmin::text) FROM scene WHERE aoi_id = %(aoi)s)"
            " + (SELECT count(DISTINCT t.xmin::text) FROM tile t JOIN scene s ON s.id = t.scene_id"
            " WHERE s.aoi_id = %(aoi)s)",
            {"aoi": aoi},
        )
        rows, transactions = await cur.fetchone() or (0, 0)
    return rows / max(transactions, 1)


async def rpc_counts(registry: CollectorRegistry | None) -> dict[str, float]:
    """Calls answered so far by the in-process catalogue, by method (`grpc_server_handled_total`), and
    its lease claims by kind and outcome (`geocube_lease_claims_total`).

    Collected in a thread: the registry's queue collector queries the database on this event loop (it
    waits for it, and would block it, if called from the loop itself)."""
    return await asyncio.to_thread(_rpc_counts, registry)


def _rpc_counts(registry: CollectorRegistry | None) -> dict[str, float]:
    counts: dict[str, float] = {}
    for metric in registry.collect() if registry is not None else ():
        for sample in metric.samples:
            if sample.name == "grpc_server_handled_total":
                method = sample.labels["grpc_method"]
                counts[method] = counts.get(method, 0.0) + sample.value
            elif sample.name == "geocube_lease_claims_total":
                # Not RPCs, but what they cost: a LeaseTask woken for nothing still ran a claim.
                key = f"claims {sample.labels['kind']} {sample.labels['outcome']}"
                counts[key] = counts.get(key, 0.0) + sample.value
    return counts


def newest_mtime(folder: pathlib.Path) -> float:
    return max((p.stat().st_mtime for p in folder.rglob("*") if p.is_file()), default=float("nan"))


class StuckStatus(RuntimeError):
    """Every scene and tile is final but the AOI status is not: a lost AOI status update."""


async def follow(client: AsyncClient, aoi: str, timeout: float) -> str:
    """The AOI's final status, followed with the status long-poll (no sleep-polling).

    A long-poll that ends without a change is also the moment to check the counts: when nothing is left
    to run while the status still says otherwise, it will never change by itself (StuckStatus)."""
    deadline = time.monotonic() + timeout
    status = ""
    while status not in _FINAL:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{aoi}: still {status} after {timeout:.0f} s")
        answer = await client.get(f"/aoi/{aoi}/status", params={"known": status, "wait": _POLL_WAIT})
        reply = _checked(answer).json()
        status = reply["status"]
        if not reply["changed"] and status:
            counts = report_counts(_checked(await client.get(f"/aoi/{aoi}")).text)
            if all(
                counts[c]["new"] + counts[c]["pending"] + counts[c]["retry"] == 0 for c in ("Scenes", "Tiles")
            ):
                # Read again: the last transition may have committed between the two reads above.
                answer = await client.get(f"/aoi/{aoi}/status")
                status = _checked(answer).json()["status"]
                if status not in _FINAL:
                    raise StuckStatus(f"{aoi}: every scene and tile is final, AOI status still {status}")
    return status


async def run_once(
    archive: pathlib.Path, workdir: pathlib.Path, scenes: int, concurrency: int, dsn: str, timeout: float
) -> Sample:
    config = StackConfig(
        workdir=workdir,
        database_dsn=dsn,
        archive_path=str(archive),
        http_address="127.0.0.1:0",
        catalogue_address="127.0.0.1:0",
        concurrency=concurrency,
    )
    stack = await start_stack(config)
    postmaster = None if dsn else procstat.postmaster_pid(workdir.resolve() / "pg")
    try:
        aoi = f"bench-{scenes}-{uuid.uuid4().hex[:8]}"
        area = ("payload.json", payload(aoi), "application/json")
        headers = {"Authorization": f"Bearer {stack.token}"}
        async with AsyncClient(base_url=stack.gateway_url, headers=headers, timeout=120) as client:
            wall_start = time.time()  # wall clock: compared with file modification times below
            load = procstat.load_average()
            rpcs_start = await rpc_counts(stack.catalogue_metrics)
            cpu_start = procstat.snapshot(postmaster)
            started = time.perf_counter()
            answer = await client.post("/catalog/aoi", files={"area": area})
            post = time.perf_counter() - started
            if answer.status_code != 200:
                raise RuntimeError(f"/catalog/aoi: {answer.status_code} {answer.text}")
            say(f"    {answer.text.strip()}")
            status = await follow(client, aoi, timeout)
            done = time.perf_counter() - started
            end = procstat.snapshot(postmaster)
            rpcs = {m: n - rpcs_start.get(m, 0.0) for m, n in (await rpc_counts(stack.catalogue_metrics)).items()}
            counts = report_counts(_checked(await client.get(f"/aoi/{aoi}")).text)
        tiles = counts["Tiles"]
        # One tile per Sentinel-2 scene: every one of the N scenes and N tiles must be DONE.
        if status != "DONE" or counts["Scenes"]["done"] != scenes or tiles["done"] != scenes:
            raise RuntimeError(f"{aoi} ended {status}: {counts}")
        download = await asyncio.to_thread(newest_mtime, stack.storage_path / aoi) - wall_start
        cpu = {role: proc.cpu - cpu_start[role].cpu for role, proc in end.items() if role in cpu_start}
        peak = {role: proc.peak_mib for role, proc in end.items()}
        per_commit = await commits_shared(stack.database_dsn, aoi)
        return Sample(
            scenes, concurrency, post, download, done, load, cpu, peak, per_commit,
            {m: n for m, n in rpcs.items() if n},
        )
    finally:
        await stack.stop()


ROLES = ("catalogue", "downloader", "processor", "postgres")
_COLUMNS = ("scenes", "concurrency", "runs", "load (1 min)", "POST → all tiles DONE, median (s)", "min (s)",
            "scenes/s", "ms per scene", "POST answer (s)", "last download (s)",
            "reports per commit",
            *(f"CPU {r} (s)" for r in ROLES), *(f"peak MiB {r}" for r in ROLES), "stuck runs redone")  # fmt: skip


def table(samples: Sequence[Sample], stuck: dict[tuple[int, int], int]) -> str:
    """Markdown: one row per (size, concurrency); the split, CPU and memory columns are medians too."""
    lines = ["| " + " | ".join(_COLUMNS) + " |", "|---:" * len(_COLUMNS) + "|"]
    groups: dict[tuple[int, int], list[Sample]] = {}
    for sample in samples:
        groups.setdefault((sample.scenes, sample.concurrency), []).append(sample)
    for (scenes, concurrency), runs in groups.items():
        done = statistics.median(s.done for s in runs)
        loads = [s.load for s in runs]
        cells = [
            str(scenes), str(concurrency), str(len(runs)), f"{min(loads):.2f}-{max(loads):.2f}",
            f"{done:.2f}", f"{min(s.done for s in runs):.2f}", f"{scenes / done:.0f}",
            f"{1000 * done / scenes:.2f}", f"{statistics.median(s.post for s in runs):.2f}",
            f"{statistics.median(s.download for s in runs):.2f}",
            f"{statistics.median(s.per_commit for s in runs):.1f}",
            *(f"{statistics.median(s.cpu.get(r, 0.0) for s in runs):.1f}" for r in ROLES),
            *(f"{statistics.median(s.peak_mib.get(r, 0.0) for s in runs):.0f}" for r in ROLES),
            str(stuck[scenes, concurrency]),
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


async def quiet_enough(args: argparse.Namespace) -> float:
    """The load average before a run; waits up to --quiet-wait seconds for it to drop to
    MAX_QUIET_LOAD, and refuses to measure when it does not (unless --load: a busy machine on purpose)."""
    load = procstat.load_average()
    if args.load:
        return load
    waited = 0.0
    while load > procstat.MAX_QUIET_LOAD and waited < args.quiet_wait:
        # A benchmark, not a test: nothing to be notified of, the load average changes every 5 s.
        await asyncio.sleep(5)
        waited += 5
        load = procstat.load_average()
    if load > procstat.MAX_QUIET_LOAD:
        raise RuntimeError(
            f"load average {load:.2f} > {procstat.MAX_QUIET_LOAD}: figures refused on a busy machine"
            " (wait, or measure under load on purpose with --load)"
        )
    return load


async def benchmark(
    args: argparse.Namespace, root: pathlib.Path
) -> tuple[list[Sample], dict[tuple[int, int], int]]:
    samples: list[Sample] = []
    stuck: dict[tuple[int, int], int] = {}
    for scenes in args.scenes:
        archive = root / f"archive-{scenes}"
        say(f"building {scenes} demo products (band size {args.band_size}) in {archive} ...")
        clock = time.perf_counter()
        await asyncio.to_thread(build_demo_archive, archive, scenes, args.band_size)
        say(f"  built in {time.perf_counter() - clock:.1f} s")
        for concurrency in args.concurrency:
            key = (scenes, concurrency)
            stuck[key] = 0
            attempt = 0
            while sum(1 for s in samples if (s.scenes, s.concurrency) == key) < args.repeat:
                attempt += 1
                load = await quiet_enough(args)
                say(f"  {scenes} scenes, concurrency {concurrency}, attempt {attempt} (load {load:.1f})")
                workdir = root / f"run-{scenes}-{concurrency}-{attempt}"
                try:
                    with fresh_database(args.database_dsn) as dsn:
                        sample = await run_once(archive, workdir, scenes, concurrency, dsn, args.timeout)
                except StuckStatus as exc:
                    # Counted and redone: the figures are those of runs that finished.
                    stuck[key] += 1
                    say(f"    STUCK: {exc}")
                    if stuck[key] > _STUCK_RETRIES:
                        raise
                    continue
                finally:
                    if not args.workdir:
                        await asyncio.to_thread(shutil.rmtree, workdir, True)
                say(
                    f"    POST {sample.post:.2f} s, last download {sample.download:.2f} s,"
                    f" all tiles DONE {sample.done:.2f} s ({scenes / sample.done:.0f} scenes/s),"
                    f" {sample.per_commit:.1f} reports per commit,"
                    " CPU "
                    + ", ".join(f"{r} {sample.cpu.get(r, 0.0):.2f} s" for r in ROLES)
                    + "; peak "
                    + ", ".join(f"{r} {sample.peak_mib.get(r, 0.0):.0f} MiB" for r in ROLES)
                )
                say(
                    "    RPCs per scene: "
                    + ", ".join(f"{m} {n / scenes:.2f}" for m, n in sorted(sample.rpcs.items()))
                )
                samples.append(sample)
    return samples, stuck


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.ingest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--scenes", type=int, nargs="+", default=[100, 1000], help="archive sizes (default: 100 1000)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[24],
        # Slots finishing together share calls (ReportResults, LeaseTasks) and commits: the more slots,
        # the less CPU per scene; 16-32 measured under 3 s, 8 over (docs/benchmarks.md, session 6).
        help="tasks each worker runs at once; several values are compared (default: 24; 16-32 measured under 3 s)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per size and concurrency (default: 3)")
    parser.add_argument("--band-size", type=int, default=16, help="band width/height in pixels (default: 16)")
    # Only from the command line, never from GEOCUBE_* variables: the benchmark creates and drops
    # databases on that server.
    parser.add_argument(
        "--database-dsn",
        default="",
        help="PostgreSQL server to use (a database is created and dropped per run); empty: the embedded one",
    )
    parser.add_argument(
        "--workdir",
        type=pathlib.Path,
        help="keep archives and run folders here (default: a temporary folder)",
    )
    parser.add_argument(
        "--load",
        action="store_true",
        help="run a CPU-burning neighbour process on one core throughout, and accept any load average",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=120,
        help="seconds to wait before a run for the load average to drop to 1.0 (default: 120)",
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed per run (default: 600)")
    parser.add_argument("--log-level", default="WARNING", help="services' log level (default: WARNING)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure(args.log_level)
    # SIGTERM (e.g. `timeout`) as Ctrl-C: the running stack is stopped, so its embedded PostgreSQL does
    # not outlive us, and the temporary folder is removed.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with contextlib.ExitStack() as cleanup:
        root = args.workdir or pathlib.Path(
            cleanup.enter_context(tempfile.TemporaryDirectory(prefix="bench-"))
        )
        try:
            with procstat.cpu_burner(args.load):
                samples, stuck = asyncio.run(benchmark(args, root))
        except (RuntimeError, TimeoutError, requests.RequestException) as exc:
            say(f"benchmark failed: {exc}")
            return 1
        except KeyboardInterrupt:
            say("interrupted")
            return 130
    print(table(samples, stuck))
    return 0


if __name__ == "__main__":
    sys.exit(main())
