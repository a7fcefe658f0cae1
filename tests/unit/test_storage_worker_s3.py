"""The download job storing into s3:// (moto's server): the worker passes its object-store settings on."""

from __future__ import annotations

import datetime as dt
import pathlib

from support.s3server import S3Endpoint

from protos.ingester.v1 import tasks_pb2
from libs.demo.archive import build_demo_archive
from libs.domain import proto_convert
from libs.domain.models import Scene, SceneAttrs, Status, TileMapping
from services.downloader.providers.local import LocalProvider
from services.downloader.worker import DownloadJob
from libs.worker.task_loop import TaskContext
from libs.worker.status import StatusBoard


def _task(scene_id: str, storage_uri: str = "") -> tasks_pb2.Task:
    scene = Scene(
        id=1,
        source_id=scene_id,
        aoi="DemoCopy",
        data=SceneAttrs(
            date=dt.datetime(2022, 1, 4, 10, 34, 21, tzinfo=dt.UTC),
            tiles={scene_id: TileMapping()},
            graph_name="CopyProductToStorage",
            storage_uri=storage_uri,
        ),
    )
    return tasks_pb2.Task(
        task_id=7, download=tasks_pb2.DownloadJob(scene=proto_convert.scene_to_proto(scene))
    )


async def test_download_job_stores_the_product_in_s3(s3_endpoint: S3Endpoint, tmp_path: pathlib.Path) -> None:
    archive = tmp_path / "archive"
    (scene_id,) = build_demo_archive(archive, count=1, band_size=16)
    bucket = s3_endpoint.new_bucket()
    job = DownloadJob(
        [LocalProvider(archive)],
        f"s3://{bucket}/store",
        [],
        s3_endpoint.config(),
        allowed_storage=["s3://no-such-bucket-here"],
    )
    task = _task(scene_id)
    workdir = tmp_path / "work"
    workdir.mkdir()
    outcome = await job(task, TaskContext(task=task, workdir=workdir, board=StatusBoard("w")))
    assert outcome.status is Status.DONE, outcome.message
    client = s3_endpoint.client()
    key = f"store/DemoCopy/{scene_id}/tiles/{scene_id}/{scene_id}.zip"
    stored = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    client.close()
    assert stored == (archive / f"{scene_id}.zip").read_bytes()

    # A scene's own storage URI naming a bucket that does not exist: a clear, non-temporary failure.
    task = _task(scene_id, storage_uri="s3://no-such-bucket-here/x")
    outcome = await job(task, TaskContext(task=task, workdir=workdir, board=StatusBoard("w")))
    assert outcome.status is Status.FAILED and not outcome.temporary
    assert "no-such-bucket-here" in outcome.message and "does not exist" in outcome.message


async def test_a_scene_storage_outside_the_worker_roots_fails_fatally(tmp_path: pathlib.Path) -> None:
    """A payload's storage_uri must not make the worker write anywhere it can: only inside its storage
    root or an allowed one (`…_STORAGE_ALLOWED_URIS`)."""
    archive = tmp_path / "archive"
    (scene_id,) = build_demo_archive(archive, count=1, band_size=16)
    default, other, elsewhere = tmp_path / "storage", tmp_path / "other", tmp_path / "elsewhere"
    job = DownloadJob([LocalProvider(archive)], str(default), [], allowed_storage=[str(other)])
    for uri in (str(elsewhere), f"{default}/../elsewhere", f"file://{elsewhere}", "s3://any-bucket/x"):
        task = _task(scene_id, storage_uri=uri)
        outcome = await job(task, TaskContext(task=task, workdir=tmp_path / "w", board=StatusBoard("w")))
        assert outcome.status is Status.FAILED and not outcome.temporary, (uri, outcome)
        assert "outside the storage roots" in outcome.message and "STORAGE_ALLOWED_URIS" in outcome.message
    assert not elsewhere.exists()
    for uri in (f"{default}/sub", f"file://{other}", ""):
        task = _task(scene_id, storage_uri=uri)
        (tmp_path / "w").mkdir(exist_ok=True)
        outcome = await job(task, TaskContext(task=task, workdir=tmp_path / "w", board=StatusBoard("w")))
        assert outcome.status is Status.DONE, (uri, outcome.message)
    assert (other / "DemoCopy").is_dir() and (default / "sub" / "DemoCopy").is_dir()
