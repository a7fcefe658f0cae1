"""The generic request checks (libs/runtime/request_checks.py): NUL characters in any string, times
and durations out of range, undecodable bytes — each refused naming the field path."""

from __future__ import annotations

import pytest
from google.protobuf import duration_pb2, timestamp_pb2

from protos.ingester.v1 import catalogue_pb2, registry_pb2, tasks_pb2, types_pb2, workflow_pb2
from libs.runtime import request_checks
from libs.runtime.errors import InvalidArgument


def _refusal(request: object) -> str:
    with pytest.raises(InvalidArgument) as raised:
        request_checks.check_request(request)
    return str(raised.value)


def _scene(**data: object) -> types_pb2.CatalogScene:
    scene = types_pb2.CatalogScene(id=1, source_id="S2A", aoi="a")
    scene.data.metadata.update(data)
    return scene


def test_a_clean_request_passes() -> None:
    area = types_pb2.Area(name="DenmarkDemoS2", geometry_wkt="POINT(1 2)", record_tags={"k": "v"})
    area.start_time.FromJsonString("0001-01-01T00:00:00Z")
    area.end_time.FromJsonString("9999-12-31T23:59:59.999999999Z")
    request = catalogue_pb2.ListTilesRequest(area=area)
    request.scenes.append(_scene(uuid="u", nested={"list": ["a", 1, None]}))
    request_checks.check_request(request)
    request_checks.check_request(
        tasks_pb2.LeaseTaskRequest(worker_id="w", wait=duration_pb2.Duration(seconds=-1))
    )


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (tasks_pb2.LeaseTaskRequest(worker_id="w\x00"), "worker_id: contains a NUL character"),
        (
            catalogue_pb2.SearchScenesRequest(area=types_pb2.Area(annotations_urls=["ok", "b\x00d"])),
            "area.annotations_urls[1]: contains a NUL character",
        ),
        (
            catalogue_pb2.SearchScenesRequest(area=types_pb2.Area(record_tags={"k": "\x00"})),
            "area.record_tags['k']: contains a NUL character",
        ),
        (
            catalogue_pb2.SearchScenesRequest(area=types_pb2.Area(record_tags={"k\x00": "v"})),
            "area.record_tags key 'k\\x00': contains a NUL character",
        ),
        (
            catalogue_pb2.SearchScenesRequest(
                area=types_pb2.Area(layers={"B01": types_pb2.Layer(variable="B\x00")})
            ),
            "area.layers['B01'].variable: contains a NUL character",
        ),
        (
            workflow_pb2.IngestSceneRequest(scene=_scene(extra={"deep": [1, "x\x00"]})),
            "scene.data.metadata.extra.deep[1]: contains a NUL character",
        ),
        (
            workflow_pb2.IngestSceneRequest(scene=_scene(cloud=float("nan"))),
            "scene.data.metadata.cloud: not a finite number (nan)",
        ),
        (
            registry_pb2.CreateInstanceRequest(name="raw", metadata={"a": "\x00"}),
            "metadata['a']: contains a NUL character",
        ),
    ],
)
def test_nul_characters_are_refused_naming_the_field(request_: object, reason: str) -> None:
    assert _refusal(request_) == reason


@pytest.mark.parametrize(
    ("seconds", "nanos", "reason"),
    [
        (2**40, 0, "area.start_time: time outside the years 0001-9999 (seconds=1099511627776)"),
        (-62135596801, 0, "area.start_time: time outside the years 0001-9999 (seconds=-62135596801)"),
        (0, -1, "area.start_time: nanos must be 0 to 999999999 (found -1)"),
        (0, 1_000_000_000, "area.start_time: nanos must be 0 to 999999999 (found 1000000000)"),
    ],
)
def test_times_out_of_range_are_refused(seconds: int, nanos: int, reason: str) -> None:
    area = types_pb2.Area(start_time=timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos))
    assert _refusal(catalogue_pb2.IngestAreaRequest(area=area)) == reason


def test_a_tile_date_deep_in_a_request_is_checked() -> None:
    scene = _scene()
    scene.tiles.add(source_id="t").previous.date.seconds = -(2**40)
    request = workflow_pb2.IngestSceneRequest(scene=scene)
    assert _refusal(request).startswith("scene.tiles[0].previous.date: time outside the years 0001-9999")


@pytest.mark.parametrize(("seconds", "nanos"), [(2**40, 0), (-(2**40), 0), (1, -1), (0, 10**9)])
def test_durations_out_of_range_are_refused(seconds: int, nanos: int) -> None:
    request = tasks_pb2.LeaseTaskRequest(wait=duration_pb2.Duration(seconds=seconds, nanos=nanos))
    assert _refusal(request).startswith("wait: ")


def test_undecodable_bytes_name_the_message_type() -> None:
    deserialize = request_checks._tolerant(tasks_pb2.ReportResultRequest.FromString)
    assert _refusal(deserialize(b"\x0a\x7fshort")) == "request: not a valid ReportResultRequest"
    decoded = deserialize(tasks_pb2.ReportResultRequest(task_id=3).SerializeToString())
    assert decoded.task_id == 3
