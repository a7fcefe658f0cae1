"""Fault tests: the services as separate processes, killed or restarted in the middle of an ingestion.

Each test ingests the DenmarkDemoS2 payload through the gateway, breaks one piece while tasks run
(kill -9 of a worker, kill -9 or SIGTERM of the catalogue, restart of PostgreSQL), then checks that the
ingestion still completes with nothing lost and nothing done twice:

- the AOI ends DONE; every scene and tile went to DONE exactly once and never left it (a trigger
  installed in the test database records every status change);
- the storage holds exactly the expected outputs, and the registry exactly one dataset per output;
- the task table is empty (no task left queued or leased).

To be sure a kill lands in the middle of a task, the graphs used here run a python step that sleeps
(`slow_step.py`): the test waits for that step's first output line in the worker's log, then strikes.
The catalogue's lease is short (LEASE_SECONDS) so that the task of a killed worker comes back quickly.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import re
import shutil
import tempfile
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from libs.demo.archive import build_demo_archive
from libs.graph.loader import LIBRARY_DIR
from libs.runtime.embedded_pg import EmbeddedPostgres
from libs.stack.processes import free_port
from tests.e2e.conftest import Service

SHARED = pathlib.Path(__file__).resolve().parents[3] / "shared"
TOKEN = "e2e-secret"
AOI = "DenmarkDemoS2"
LEASE_SECONDS = 3.0
STEP_SECONDS = 2.0  # how long the slow step of a task lasts: the window in which a fault strikes
BANDS = 12  # ExtractS2Bands stores and indexes B01..B12 of every tile
STEP_STARTED = r"slow_step\.py: slow step started"

SLOW_STEP = '''"""Fault-test step: stands for a long computation, so that a test can strike in the middle of it."""
import argparse
import time

parser = argparse.ArgumentParser()
parser.add_argument("--seconds", type=float, required=True)
parser.add_argument("--workdir", required=True)
args = parser.parse_args()
print("slow step started", flush=True)
time.sleep(args.seconds)
print("slow step finished", flush=True)
'''

# Every status a scene or tile takes, in order: the test database's own audit trail.
HISTORY_SQL = """
CREATE TABLE fault_history (
    seq bigserial PRIMARY KEY, kind text NOT NULL, item int NOT NULL, status text NOT NULL
);
CREATE FUNCTION fault_history_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO fault_history (kind, item, status) VALUES (TG_TABLE_NAME, NEW.id, NEW.status);
    RETURN NULL;
END $$;
CREATE TRIGGER scene_created AFTER INSERT ON scene FOR EACH ROW EXECUTE FUNCTION fault_history_log();
CREATE TRIGGER scene_changed AFTER UPDATE OF status ON scene FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION fault_history_log();
CREATE TRIGGER tile_created AFTER INSERT ON tile FOR EACH ROW EXECUTE FUNCTION fault_history_log();
CREATE TRIGGER tile_changed AFTER UPDATE OF status ON tile FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION fault_history_log();
"""


def _slow_graph(base: str) -> dict[str, object]:
    """A library graph with the slow step appended to its processing steps."""
    graph = json.loads((LIBRARY_DIR / base).read_text())
    step = {
        "engine": "python",
        "command": "slow_step.py",
        "args": {
            "seconds": {"type": "fixed", "value": str(STEP_SECONDS)},
            "workdir": {"type": "config", "value": "workdir"},
        },
        "condition": "pass",
    }
    graph["processing_steps"] = [*(graph.get("processing_steps") or []), step]
    return graph


@dataclasses.dataclass
class Stack:
    """The suite's processes on one database, with the knobs the fault tests turn."""

    services: list[Service]
    dsn: str
    root: pathlib.Path
    scenes: int
    scene_graph: str = "CopyProductToStorage"
    tile_graph: str = "library/graph/ExtractS2Bands.json"

    def __post_init__(self) -> None:
        self.archive, self.storage, self.graphs = (self.root / d for d in ("archive", "storage", "graphs"))
        self.ids = build_demo_archive(self.archive, count=self.scenes, band_size=32)
        self.graphs.mkdir()
        (self.graphs / "slow_step.py").write_text(SLOW_STEP)
        # SlowCopy: the scene graph that copies the product to storage, slowly.
        (self.graphs / "SlowCopy.json").write_text(json.dumps(_slow_graph("CopyProductToStorage.json")))
        # SlowExtract: ExtractS2Bands (12 bands stored and indexed per tile), slowly.
        (self.graphs / "SlowExtract.json").write_text(json.dumps(_slow_graph("ExtractS2Bands.json")))
        self.catalogue_address = f"127.0.0.1:{free_port()}"
        self.http_port = free_port()
        self._workers = 0

    def start_catalogue(self) -> Service:
        catalogue = Service(
            "catalogue",
            "services.catalogue",
            {
                "GEOCUBE_CATALOGUE_DATABASE_DSN": self.dsn,
                "GEOCUBE_CATALOGUE_ADDRESS": self.catalogue_address,
                "GEOCUBE_CATALOGUE_ARCHIVE_PATH": str(self.archive),
                "GEOCUBE_CATALOGUE_LEASE_SECONDS": str(LEASE_SECONDS),
            },
        )
        # First in the list, so stopped last: workers end their long-polls before the catalogue stops.
        self.services.insert(0, catalogue)
        catalogue.wait_for("catalogue listening")
        return catalogue

    def start_worker(self, name: str, concurrency: int = 2, catalogue_address: str = "") -> Service:
        self._workers += 1
        env = {
            "CATALOGUE_ADDRESS": catalogue_address or self.catalogue_address,
            "STORAGE_URI": str(self.storage),
            "WORKDIR": str(self.root / f"{name}-{self._workers}"),
            "ADDRESS": f"127.0.0.1:{free_port()}",
            "GRAPH_PATH": str(self.graphs),
            "CONCURRENCY": str(concurrency),
            "LOG_LEVEL": "INFO",
        }
        if name == "downloader":
            env["LOCAL_PATH"] = str(self.archive)
        else:
            env["INDEX_RETRY_SECONDS"] = "1"
        worker = Service(
            f"{name}-{self._workers}",
            f"services.{name}",
            {f"GEOCUBE_{name.upper()}_{k}": v for k, v in env.items()},
        )
        self.services.append(worker)
        worker.wait_for("serving on port")
        return worker

    def start_gateway(self) -> Service:
        gateway = Service(
            "gateway",
            "gateway",
            {
                "GEOCUBE_GATEWAY_ADDRESS": f"127.0.0.1:{self.http_port}",
                "GEOCUBE_GATEWAY_CATALOGUE_ADDRESS": self.catalogue_address,
                "GEOCUBE_GATEWAY_BEARER_TOKENS": TOKEN,
                "GEOCUBE_GATEWAY_LOG_LEVEL": "INFO",
            },
        )
        self.services.append(gateway)
        gateway.wait_for(f"127.0.0.1:{self.http_port}")
        return gateway

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"http://127.0.0.1:{self.http_port}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=60,
        )

    def ingest(self) -> None:
        """Records every status change from now on, registers the layers, posts the payload as curl -F."""
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(HISTORY_SQL)
        payload = json.loads((SHARED / "fixtures" / "reference" / f"{AOI}.json").read_bytes())
        payload["scene_graph_name"], payload["tile_graph_name"] = self.scene_graph, self.tile_graph
        area = json.dumps(payload).encode()
        with self.client() as client:
            for layer in payload["layers"].values():
                answer = client.post(
                    "/registry/variables", json={"name": layer["variable"], "dtype": "uint16"}
                )
                assert answer.status_code == 201, answer.text
                answer = client.post(
                    f"/registry/variables/{layer['variable']}/instances", json={"name": layer["instance"]}
                )
                assert answer.status_code == 201, answer.text
            scenes = client.post("/catalog/scenes", files={"area": ("area.json", area)})
            assert scenes.status_code == 200, scenes.text
            assert sorted(f["properties"]["source_id"] for f in scenes.json()["features"]) == sorted(self.ids)
            answer = client.post(
                "/catalog/aoi", files={"area": ("area.json", area), "scenes": ("scenes.json", scenes.content)}
            )
            assert answer.status_code == 200, answer.text

    def wait_final(self, timeout: float = 60) -> str:
        """Follows the AOI status with the gateway's long-poll until it is final (no sleep-polling)."""
        deadline = time.monotonic() + timeout
        known = ""
        with self.client() as client:
            while known not in ("DONE", "FAILED", "RETRY"):
                assert time.monotonic() < deadline, f"AOI {AOI} still {known} after {timeout} s" + self.logs()
                answer = client.get(f"/aoi/{AOI}/status", params={"known": known, "wait": 20})
                assert answer.status_code == 200, answer.text + self.logs()
                known = answer.json()["status"]
        return known

    def logs(self, lines: int = 40) -> str:
        """The end of every service's log, for the message of a failed assertion."""
        return "".join(f"\n--- {s.name}:\n" + "\n".join(s.lines[-lines:]) for s in self.services)

    def check_complete(self) -> None:
        """Nothing lost, nothing done twice: see the module docstring."""
        # A worker deletes a task's inputs once its report is accepted, an instant after the tile is
        # DONE: stopping the workers (SIGTERM: they finish what they do) makes that instant pass.
        for service in self.services:
            if service.name.startswith(("downloader", "processor")):
                service.stop()
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            assert conn.execute("SELECT id, kind, state, attempts FROM task").fetchall() == []
            for kind in ("scene", "tile"):
                assert conn.execute(f"SELECT status, count(*) FROM {kind} GROUP BY status").fetchall() == [
                    ("DONE", self.scenes)
                ]
                history: dict[int, list[str]] = {}
                for item, status in conn.execute(
                    "SELECT item, status FROM fault_history WHERE kind = %s ORDER BY seq", (kind,)
                ):
                    history.setdefault(item, []).append(status)
                assert len(history) == self.scenes
                for item, statuses in history.items():
                    # DONE exactly once, and last: no status went backwards, nothing was redone.
                    assert statuses.count("DONE") == 1 and statuses[-1] == "DONE", (kind, item, statuses)
                    assert not {"RETRY", "FAILED"} & set(statuses), (kind, item, statuses)
            datasets = conn.execute("SELECT record_id, instance_id, uri FROM dataset").fetchall()
            records = conn.execute("SELECT count(*) FROM record").fetchone()
        stored = sorted(self.storage.glob(f"{AOI}/*/tiles/*/*"))
        assert len(stored) == BANDS * self.scenes, [str(p) for p in stored]
        assert all(p.name.endswith(".tif") for p in stored)  # the products were deleted once indexed
        assert len(datasets) == len(set(datasets)) == BANDS * self.scenes
        assert sorted(uri.rsplit("/", 1)[-1] for _, _, uri in datasets) == sorted(p.name for p in stored)
        assert records == (self.scenes,)


def _in_flight(worker: Service) -> set[int]:
    """Tasks the (dead) worker leased and never reported: they must come back at lease expiry."""
    log = "\n".join(worker.lines)
    leased = {int(n) for n in re.findall(r"task (\d+) leased", log)}
    reported = {int(n) for n in re.findall(r"task (\d+): reported", log)}
    return leased - reported


def _kill_mid_task(worker: Service) -> set[int]:
    """kill -9 once a task of `worker` is inside its slow step; its tasks must be given back."""
    worker.wait_for(STEP_STARTED, timeout=60)
    worker.kill()
    lost = _in_flight(worker)
    assert lost, "the kill did not land in the middle of a task"
    return lost


def _check_requeued(catalogue: Service, lost: set[int]) -> None:
    for task_id in lost:
        catalogue.wait_for(rf"task {task_id}: lease expired", timeout=30)


@pytest.mark.e2e
def test_downloader_killed_mid_download(services: list[Service], pg_dsn: str, tmp_path: pathlib.Path) -> None:
    stack = Stack(services, pg_dsn, tmp_path, scenes=3, scene_graph="SlowCopy.json")
    catalogue = stack.start_catalogue()
    downloader = stack.start_worker("downloader")
    stack.start_worker("processor")
    stack.start_gateway()
    stack.ingest()
    lost = _kill_mid_task(downloader)
    stack.start_worker("downloader")
    _check_requeued(catalogue, lost)
    assert stack.wait_final() == "DONE"
    stack.check_complete()


@pytest.mark.e2e
def test_processor_killed_mid_processing(
    services: list[Service], pg_dsn: str, tmp_path: pathlib.Path
) -> None:
    stack = Stack(services, pg_dsn, tmp_path, scenes=3, tile_graph="SlowExtract.json")
    catalogue = stack.start_catalogue()
    stack.start_worker("downloader")
    processor = stack.start_worker("processor")
    stack.start_gateway()
    stack.ingest()
    lost = _kill_mid_task(processor)
    stack.start_worker("processor")
    _check_requeued(catalogue, lost)
    assert stack.wait_final() == "DONE"
    stack.check_complete()


@pytest.mark.e2e
@pytest.mark.parametrize("how", ["kill -9", "SIGTERM"])
def test_catalogue_restarted_mid_ingestion(
    how: str, services: list[Service], pg_dsn: str, tmp_path: pathlib.Path
) -> None:
    stack = Stack(services, pg_dsn, tmp_path, scenes=4, tile_graph="SlowExtract.json")
    catalogue = stack.start_catalogue()
    stack.start_worker("downloader")
    processor = stack.start_worker("processor")
    stack.start_gateway()
    stack.ingest()
    processor.wait_for(STEP_STARTED, timeout=60)
    since = processor.mark()
    if how == "kill -9":
        catalogue.kill()
    else:
        started = time.monotonic()
        catalogue.stop()
        # Idle workers hold long-polls: a stopping catalogue answers them at once instead of waiting
        # for them through its whole grace period (10 s).
        assert time.monotonic() - started < 5, stack.logs()
    services.remove(catalogue)
    # The running tasks go on without heartbeats; the outage lasts until their steps end, so that their
    # IndexDatasets calls meet it too (the processor retries them, then leaves the task to be redone).
    processor.wait_for(r"heartbeat failed \(UNAVAILABLE\)", timeout=10, since=since)
    processor.wait_for("slow step finished", timeout=10, since=since)
    stack.start_catalogue()
    assert stack.wait_final() == "DONE"
    # Tasks were still reported after the restart: the workers found the new catalogue.
    processor.wait_for(r"task \d+: reported DONE", since=since, timeout=5)
    stack.check_complete()


@pytest.fixture
def own_pg() -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL server of the test's own, which it may stop and start again.

    Its data directory is not below pytest's temporary root: when running as root, pgserver runs the
    server as another user and opens the directory's parents to it, and any other pytest process
    starting meanwhile closes `/tmp/pytest-of-root` again (mode 0700), which breaks a restart."""
    data_dir = pathlib.Path(tempfile.mkdtemp(prefix="geocube-faults-pg-"))
    server = EmbeddedPostgres(data_dir / "pg")
    yield server
    server.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.mark.e2e
def test_postgresql_restarted_mid_ingestion(
    own_pg: EmbeddedPostgres, services: list[Service], tmp_path: pathlib.Path
) -> None:
    dsn = own_pg.start()
    stack = Stack(services, dsn, tmp_path, scenes=4, tile_graph="SlowExtract.json")
    catalogue = stack.start_catalogue()
    stack.start_worker("downloader")
    processor = stack.start_worker("processor")
    stack.start_gateway()
    stack.ingest()
    processor.wait_for(STEP_STARTED, timeout=60)
    since, processor_since = catalogue.mark(), processor.mark()
    own_pg.stop()  # pg_ctl stop, fast mode: the server closes every connection of the catalogue
    catalogue.wait_for("task notifier lost its connection", since=since, timeout=10)
    # The outage spans heartbeats and the end of the step: the tile's IndexDatasets call meets it too.
    processor.wait_for("slow step finished", since=processor_since, timeout=10)
    assert own_pg.start() == dsn  # the same data directory, hence the same socket
    catalogue.wait_for("task notifier listening again", since=since, timeout=20)
    # The pool's connections all died with the server: none may fail a request now it is back.
    with stack.client() as client:
        for _ in range(5):
            answer = client.get(f"/aoi/{AOI}")
            assert answer.status_code == 200, answer.text
    assert stack.wait_final() == "DONE"
    stack.check_complete()


@pytest.mark.e2e
def test_processor_killed_between_indexing_and_report(
    services: list[Service], pg_dsn: str, tmp_path: pathlib.Path
) -> None:
    """The worst moment for a processor to die: its outputs are stored and indexed, its report not sent.
    A proxy in front of the catalogue holds the processor's first ReportResult (IndexDatasets went
    through), the processor is killed there; a second processor redoes the task after lease expiry,
    finds the datasets already indexed, and nothing is duplicated."""
    from tests.support.grpcproxy import HoldingProxy

    stack = Stack(services, pg_dsn, tmp_path, scenes=3)
    catalogue = stack.start_catalogue()
    with HoldingProxy(stack.catalogue_address, hold="/ingester.v1.Tasks/ReportResults") as proxy:
        stack.start_worker("downloader")
        doomed = stack.start_worker("processor", concurrency=1, catalogue_address=proxy.address)
        stack.start_gateway()
        stack.ingest()
        assert proxy.held.wait(60), "the processor never reported" + stack.logs()
        doomed.wait_for(r"indexed 12 dataset\(s\), 0 already there")
        doomed.kill()
    lost = _in_flight(doomed)
    assert len(lost) == 1, lost
    survivor = stack.start_worker("processor")
    _check_requeued(catalogue, lost)
    survivor.wait_for(r"indexed 0 dataset\(s\), 12 already there")
    assert stack.wait_final() == "DONE"
    stack.check_complete()
