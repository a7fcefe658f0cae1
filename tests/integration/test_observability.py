"""Metrics, traces and request ids across the real services: the gateway over a socket, the catalogue and
both workers as real gRPC servers with their metrics ports on 127.0.0.1:0, real PostgreSQL, real graphs.

Each test ingests a scene through the gateway as a client would, then reads what an operator reads:
the /metrics endpoints (parsed with prometheus_client's parser), the spans (an in-memory exporter added
to this process's tracer provider) and the JSON log lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import json
import logging
import pathlib
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import httpx
import psycopg
import pytest
import yaml
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import RunningGateway, serve
from gateway.settings import GatewaySettings
from protos.ingester.v1 import catalogue_pb2, catalogue_pb2_grpc, tasks_pb2, tasks_pb2_grpc, types_pb2
from services.catalogue import app as catalogue_app
from services.catalogue.settings import CatalogueSettings
from libs.demo.archive import build_demo_archive
from services.downloader import worker as downloader
from services.downloader.settings import DownloaderSettings
from services.processor import worker as processor
from services.processor.settings import ProcessorSettings
from libs.runtime import logs
from libs.runtime.errors import Unavailable
from libs.worker.app import WorkerApp

pytestmark = pytest.mark.timeout(240)

TIMEOUT = 60.0
TILE = "T32UNG"
# A tile graph with one real step (a subprocess), so that the processor times a graph step.
STEP_GRAPH = {
    "config": {},
    "processing_steps": [{"engine": "cmd", "command": "/bin/true", "args": {}, "condition": "pass"}],
    "in_files": [[], [], []],
    "out_files": [[], [], []],
}


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span this process ends from now on. The tracer provider is process-global (OpenTelemetry's
    API): we add our exporter to the one installed, or install one."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()  # the processor stays (it cannot be removed) but drops spans from here on


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, list[str]]:
    root = tmp_path_factory.mktemp("obs-archive")
    return root, build_demo_archive(root, count=2, band_size=16)


@dataclasses.dataclass
class Stack:
    catalogue: catalogue_app.CatalogueApp
    gateway: RunningGateway
    downloader: WorkerApp | None
    processor: WorkerApp | None
    http: httpx.AsyncClient
    channel: grpc.aio.Channel

    def metrics_urls(self) -> dict[str, str]:
        urls = {"gateway": f"{self.gateway.url}/metrics"}
        assert self.catalogue.metrics is not None
        urls["catalogue"] = self.catalogue.metrics.url
        for name, worker in (("downloader", self.downloader), ("processor", self.processor)):
            if worker is not None:
                assert worker.metrics_server is not None
                urls[name] = worker.metrics_server.url
        return urls


@contextlib.asynccontextmanager
async def stack(
    pg_dsn: str, tmp: pathlib.Path, archive: pathlib.Path, *, workers: bool = True, lease_seconds: float = 60.0
) -> AsyncIterator[Stack]:
    graphs = tmp / "graphs"
    graphs.mkdir(exist_ok=True)
    (graphs / "OneStep.json").write_text(json.dumps(STEP_GRAPH))
    async with contextlib.AsyncExitStack() as exits:
        catalogue = await asyncio.wait_for(
            catalogue_app.start(
                CatalogueSettings(
                    database_dsn=pg_dsn,
                    address="127.0.0.1:0",
                    archive_path=str(archive),
                    lease_seconds=lease_seconds,
                    metrics_address="127.0.0.1:0",
                )
            ),
            TIMEOUT,
        )
        exits.push_async_callback(catalogue.stop)
        gateway = await asyncio.wait_for(
            serve(GatewaySettings(address="127.0.0.1:0", catalogue_address=catalogue.target)), TIMEOUT
        )
        exits.push_async_callback(gateway.stop)
        common: dict[str, Any] = {
            "catalogue_address": catalogue.target,
            "address": "127.0.0.1:0",
            "storage_uri": str(tmp / "storage"),
            "metrics_address": "127.0.0.1:0",
            "lease_wait_seconds": 5.0,
            "concurrency": 1,
        }
        dl = pr = None
        if workers:
            dl = await downloader.start(
                DownloaderSettings(**common, local_path=str(archive), workdir=str(tmp / "w-dl"), worker_id="dl")
            )
            exits.push_async_callback(dl.stop, 5.0)
            pr = await processor.start(
                ProcessorSettings(**common, workdir=str(tmp / "w-pr"), worker_id="pr", graph_path=(str(graphs),))
            )
            exits.push_async_callback(pr.stop, 5.0)
        http = await exits.enter_async_context(httpx.AsyncClient(base_url=gateway.url, timeout=TIMEOUT))
        channel = await exits.enter_async_context(grpc.aio.insecure_channel(catalogue.target))
        yield Stack(catalogue, gateway, dl, pr, http, channel)


def scene_doc(aoi: str, source_id: str) -> bytes:
    """A SceneToIngest (spec §1.10): one tile; the scene graph extracts the bands (a real step after a
    real fetch), the tile graph runs one subprocess."""
    return json.dumps(
        {
            "id": 0,
            "source_id": source_id,
            "aoi": aoi,
            "data": {
                "date": "2022-01-04T10:34:21Z",
                "tiles": {TILE: {"swath_id": "", "tile_nr": 0}},
                "graph_name": "library/ExtractS2Bands.json",
                "graph_config": {},
                "record_id": "",
                "metadata": {},
                "is_retriable": False,
                "storage_uri": "",
            },
            "tiles": {TILE: {"data": {"swath_id": "", "tile_nr": 0, "graph_name": "OneStep.json"}}},
            "retry_count": 0,
        }
    ).encode()


async def ingest(s: Stack, aoi: str, source_id: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """Creates the AOI, then posts the scene into it (the second request carries `headers`)."""
    created = await s.http.post(f"/aoi/{aoi}")
    assert created.status_code == 204, created.text
    answer = await s.http.post(f"/aoi/{aoi}/scene", content=scene_doc(aoi, source_id), headers=headers or {})
    assert answer.status_code == 200, answer.text
    return answer


async def wait_done(s: Stack, aoi: str) -> None:
    """Follows the AOI status with the catalogue's long-poll until it is final; it must be DONE."""
    stub = catalogue_pb2_grpc.CatalogueStub(s.channel)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    known = types_pb2.STATUS_UNSPECIFIED
    while known not in (types_pb2.STATUS_DONE, types_pb2.STATUS_FAILED, types_pb2.STATUS_RETRY):
        assert loop.time() < deadline, f"AOI {aoi} still {types_pb2.Status.Name(known)}"
        request = catalogue_pb2.WaitAoiStatusRequest(aoi=aoi, known=known)
        request.wait.FromSeconds(10)
        known = (await stub.WaitAoiStatus(request, timeout=20)).status
    if known != types_pb2.STATUS_DONE:
        scenes = await stub.ListScenes(catalogue_pb2.ListScenesRequest(aoi=aoi), timeout=TIMEOUT)
        raise AssertionError(f"AOI {aoi} ended {types_pb2.Status.Name(known)}: {scenes}")


KEDA_SCALED_OBJECTS = pathlib.Path(__file__).resolve().parents[2] / "k8s/components/keda/scaledobjects.yaml"


async def keda_counts(dsn: str) -> dict[str, float]:
    """What KEDA's PostgreSQL scaler would read: each ScaledObject's query, run on the real schema."""
    counts = {}
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        for doc in yaml.safe_load_all(KEDA_SCALED_OBJECTS.read_text()):
            (trigger,) = doc["spec"]["triggers"]
            row = await (await conn.execute(trigger["metadata"]["query"])).fetchone()
            assert row is not None
            counts[doc["spec"]["scaleTargetRef"]["name"]] = float(row[0])
    return counts


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(url: str) -> Samples:
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        answer = await client.get(url)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample `name` with exactly `labels`, 0 when absent (a counter not yet incremented)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, lbls), v in samples.items() if n == name and wanted <= lbls)


# --- metrics -------------------------------------------------------------------------------------------


async def test_every_process_counts_its_work_on_its_metrics_endpoint(
    pg_dsn: str, archive: tuple[pathlib.Path, list[str]], tmp_path: pathlib.Path
) -> None:
    root, ids = archive
    async with stack(pg_dsn, tmp_path, root) as s:
        before = {name: await scrape(url) for name, url in s.metrics_urls().items()}
        await ingest(s, "ObsMetrics", ids[0])
        await wait_done(s, "ObsMetrics")
        missing = await s.http.get("/scene/999999")
        assert missing.status_code == 404
        assert (await s.http.get("/ui/static/dashboard.js")).status_code == 200
        assert (await s.http.get("/no/such/path")).status_code == 404
        after = {name: await scrape(url) for name, url in s.metrics_urls().items()}

    def moved(process: str, name: str, **labels: str) -> float:
        return total(after[process], name, **labels) - total(before[process], name, **labels)

    # Gateway: by route template, never the raw path; the 404 of a known route keeps its template.
    assert moved("gateway", "geocube_http_requests_total", method="POST", route="/aoi/{aoi}/scene", code="200") == 1
    assert moved("gateway", "geocube_http_requests_total", method="GET", route="/scene/{scene}", code="404") == 1
    assert moved("gateway", "geocube_http_request_duration_seconds_count", route="/aoi/{aoi}/scene") == 1
    assert not any("/aoi/ObsMetrics" in dict(labels).get("route", "") for _, labels in after["gateway"])
    # A mounted app (the dashboard's files) by its mount; unknown paths under one label, never the path.
    assert moved("gateway", "geocube_http_requests_total", route="/ui/static/{path}", code="200") == 1
    assert moved("gateway", "geocube_http_requests_total", route="unmatched", code="404") == 1
    assert not any("/no/such" in dict(labels).get("route", "") for _, labels in after["gateway"])

    # Catalogue: RPCs by method and code, leases, results; the queue is empty again once all is DONE.
    assert moved("catalogue", "grpc_server_handled_total", grpc_service="ingester.v1.Tasks",
                 grpc_method="ReportResults", grpc_code="OK") == 2  # the scene, then its tile
    assert moved("catalogue", "grpc_server_handled_total", grpc_service="ingester.v1.Catalogue",
                 grpc_method="GetScene", grpc_code="NOT_FOUND") == 1
    assert moved("catalogue", "grpc_server_handling_seconds_count", grpc_method="ReportResults") == 2
    assert moved("catalogue", "geocube_tasks_leased_total", kind="download") == 1
    assert moved("catalogue", "geocube_tasks_leased_total", kind="process") == 1
    assert moved("catalogue", "geocube_task_results_total", status="DONE") == 2
    assert value(after["catalogue"], "geocube_catalogue_database_up") == 1
    for kind in ("download", "process"):
        assert value(after["catalogue"], "geocube_queue_depth", kind=kind) == 0
        assert value(after["catalogue"], "geocube_tasks", kind=kind, state="leased") == 0
    assert value(after["catalogue"], "geocube_items", kind="scene", status="DONE") == 1

    # Downloader: the fetch (duration, bytes on disk) and the scene graph's step.
    assert moved("downloader", "geocube_download_duration_seconds_count",
                 provider="LocalImageProvider", outcome="ok") == 1
    assert moved("downloader", "geocube_download_bytes_total", provider="LocalImageProvider") > 0
    assert moved("downloader", "geocube_graph_step_duration_seconds_count",
                 graph="library/ExtractS2Bands.json", step="python/extract_s2.py", outcome="ok") == 1
    assert moved("downloader", "geocube_worker_tasks_total", kind="download", outcome="DONE") == 1
    # Processor: the tile graph's step, and its own task count; its client calls are the catalogue's RPCs.
    assert moved("processor", "geocube_graph_step_duration_seconds_count",
                 graph="OneStep.json", step="/bin/true", outcome="ok") == 1
    assert moved("processor", "geocube_worker_tasks_total", kind="process", outcome="DONE") == 1
    assert value(after["processor"], "geocube_worker_running_tasks", kind="process") == 0


async def test_queue_gauges_are_read_at_scrape_time_and_lease_expiries_are_counted(
    pg_dsn: str, archive: tuple[pathlib.Path, list[str]], tmp_path: pathlib.Path
) -> None:
    root, ids = archive
    async with stack(pg_dsn, tmp_path, root, workers=False, lease_seconds=0.5) as s:
        assert s.catalogue.metrics is not None
        url = s.catalogue.metrics.url
        empty = await scrape(url)
        assert value(empty, "geocube_queue_depth", kind="download") == 0
        await ingest(s, "ObsQueue", ids[0])
        await ingest(s, "ObsQueue2", ids[1])
        queued = await scrape(url)
        assert value(queued, "geocube_queue_depth", kind="download") == 2
        assert value(queued, "geocube_tasks", kind="download", state="queued") == 2
        assert value(queued, "geocube_queue_oldest_seconds", kind="download") > 0
        assert await keda_counts(pg_dsn) == {"geocube-downloader": 2, "geocube-processor": 0}

        # A worker that leases a task and goes silent: the next LeaseTask (long-polling until the lease
        # expires) reclaims it and leases it again, and the expiry is counted.
        tasks = tasks_pb2_grpc.TasksStub(s.channel)
        request = tasks_pb2.LeaseTaskRequest(kind=tasks_pb2.TASK_KIND_DOWNLOAD, worker_id="silent")
        first = await tasks.LeaseTask(request, timeout=TIMEOUT)
        second = await tasks.LeaseTask(request, timeout=TIMEOUT)
        leased = await scrape(url)
        assert value(leased, "geocube_tasks", kind="download", state="leased") == 2
        assert value(leased, "geocube_queue_depth", kind="download") == 0
        # KEDA keeps counting leased tasks: their workers are busy, not idle.
        assert (await keda_counts(pg_dsn))["geocube-downloader"] == 2
        request.wait.FromSeconds(30)
        third = await tasks.LeaseTask(request, timeout=TIMEOUT)
        assert third.task.task_id in (first.task.task_id, second.task.task_id)
        assert third.task.attempt == 2
        expired = await scrape(url)
        assert value(expired, "geocube_lease_expiries_total", kind="download") >= 1
        assert value(expired, "geocube_tasks_leased_total", kind="download") == 3


async def test_a_busy_metrics_port_is_a_clear_start_up_error(pg_dsn: str, tmp_path: pathlib.Path) -> None:
    async with stack(pg_dsn, tmp_path, tmp_path, workers=False) as s:
        assert s.catalogue.metrics is not None
        taken = f"127.0.0.1:{s.catalogue.metrics.port}"
        with pytest.raises(Unavailable, match="GEOCUBE_CATALOGUE_METRICS_ADDRESS"):
            await catalogue_app.start(
                CatalogueSettings(database_dsn=pg_dsn, address="127.0.0.1:0", metrics_address=taken)
            )


# --- traces and request ids ----------------------------------------------------------------------------


def _hex(number: int, width: int) -> str:
    return format(number, f"0{width}x")


async def test_one_trace_spans_the_request_the_catalogue_and_both_workers(
    pg_dsn: str, archive: tuple[pathlib.Path, list[str]], tmp_path: pathlib.Path, spans: InMemorySpanExporter
) -> None:
    root, ids = archive
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    async with stack(pg_dsn, tmp_path, root) as s:
        spans.clear()
        await ingest(s, "ObsTrace", ids[0], headers={"traceparent": f"00-{trace_id}-{parent_id}-01"})
        await wait_done(s, "ObsTrace")
    ours: list[ReadableSpan] = [
        span for span in spans.get_finished_spans() if span.context and _hex(span.context.trace_id, 32) == trace_id
    ]
    by_name: dict[str, list[ReadableSpan]] = {}
    for span in ours:
        by_name.setdefault(span.name, []).append(span)

    # The gateway continued the caller's trace: its span's parent is the caller's span.
    (request,) = by_name["POST /aoi/{aoi}/scene"]
    assert request.parent is not None and _hex(request.parent.span_id, 16) == parent_id
    assert request.attributes is not None and request.attributes["http.response.status_code"] == 200
    # The catalogue RPC the request made is its child.
    rpc = [span for name, found in by_name.items() if name.startswith("ingester.v1.") for span in found
           if span.parent is not None and span.parent.span_id == request.context.span_id]
    assert rpc, f"no catalogue span under the request: {sorted(by_name)}"
    # The download task's span descends from that RPC (context stored with the task, given by LeaseTask).
    (download,) = by_name["task download"]
    assert download.parent is not None and download.parent.span_id == rpc[0].context.span_id
    assert download.attributes is not None and download.attributes["geocube.aoi"] == "ObsTrace"
    # Its graph step and its report are its children; the report released the tile, whose task span
    # descends from the report's catalogue span: one trace from the HTTP request to the last tile.
    assert any(span.parent and span.parent.span_id == download.context.span_id
               for span in by_name["graph step python/extract_s2.py"])
    reports = [span for span in by_name["ingester.v1.Tasks/ReportResults"]
               if span.parent is not None and span.parent.span_id == download.context.span_id]
    assert len(reports) == 1
    # One ReportResults call may carry the results of several tasks: each result carries its own trace
    # context (ReportResultRequest.traceparent), and the tile's task descends from the download's span.
    (process,) = by_name["task process"]
    assert process.parent is not None and process.parent.span_id == download.context.span_id
    assert process.context.trace_id == request.context.trace_id
    assert any(span.parent and span.parent.span_id == process.context.span_id
               for span in by_name["graph step /bin/true"])


@contextlib.contextmanager
def json_log_lines() -> Iterator[list[dict[str, Any]]]:
    """The JSON lines the services write (the formatter and filter GEOCUBE_*_LOG_JSON installs)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.ContextFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    lines: list[dict[str, Any]] = []
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        lines.extend(json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{"))


async def test_the_request_id_reaches_every_log_line_of_the_work_it_started(
    pg_dsn: str, archive: tuple[pathlib.Path, list[str]], tmp_path: pathlib.Path, spans: InMemorySpanExporter
) -> None:
    root, ids = archive
    rid = "obs-" + secrets.token_hex(6)
    with json_log_lines() as lines:
        async with stack(pg_dsn, tmp_path, root) as s:
            answer = await ingest(s, "ObsLogs", ids[1], headers={"X-Request-ID": rid})
            assert answer.headers["X-Request-Id"] == rid
            await wait_done(s, "ObsLogs")
            generated = (await s.http.get("/")).headers["X-Request-Id"]
    assert generated and generated != rid  # assigned when the client sends none

    mine = [line for line in lines if line.get("request_id") == rid]
    # The gateway's access line, with the trace id of the request's span.
    access = [line for line in mine if line["logger"] == "gateway.middleware"]
    assert len(access) == 1 and len(access[0]["trace_id"]) == 32
    # The workers' lines about the task: request id, task id, AOI and scene; the processor's: the tile.
    leased = [line for line in mine if "leased" in line["message"]]
    assert {line["worker_id"] for line in leased} == {"dl", "pr"}, leased
    for line in leased:
        assert line["aoi"] == "ObsLogs" and line["scene_id"] > 0 and line["task_id"] > 0
        assert line["trace_id"] == access[0]["trace_id"]
    assert next(line for line in leased if line["worker_id"] == "pr")["tile_id"] > 0
    # Lines logged deep in the job (a graph step's output, by the graph engine) carry them too.
    steps = [line for line in mine if line["logger"] == "libs.graph.run"]
    assert steps and all(line["aoi"] == "ObsLogs" and "task_id" in line for line in steps)
    # Nothing of another request leaks into the context: the generated id has only its own line.
    assert all(line.get("aoi") in (None, "ObsLogs") for line in lines if line.get("request_id") == generated)


async def test_probes_and_scrapes_make_no_traces_unless_asked(
    pg_dsn: str, tmp_path: pathlib.Path, spans: InMemorySpanExporter
) -> None:
    async with stack(pg_dsn, tmp_path, tmp_path, workers=False) as s:
        spans.clear()
        assert (await s.http.get("/")).status_code == 200
        assert (await s.http.get("/metrics")).status_code == 200
        assert (await s.http.get("/aoi/")).status_code == 200
        trace_id = secrets.token_hex(16)
        traced = await s.http.get("/", headers={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"})
        assert traced.status_code == 200
        scraped = await scrape(f"{s.gateway.url}/metrics")
    names = [(span.name, _hex(span.context.trace_id, 32)) for span in spans.get_finished_spans() if span.context]
    gateway_spans = [(name, tid) for name, tid in names if name.startswith("GET ")]
    # The API call is traced; the probe and the scrape only when the caller sent a trace context.
    assert sorted(name for name, _ in gateway_spans) == ["GET /", "GET /aoi/"]
    assert ("GET /", trace_id) in gateway_spans
    # Counted all the same.
    assert value(scraped, "geocube_http_requests_total", method="GET", route="/", code="200") == 2
