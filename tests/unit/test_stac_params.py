"""STAC API search parameters (gateway/stac_search.py) and the catalogue's item checks (stac_index.py)."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from gateway.errors import GatewayError
from gateway.stac_search import datetime_range, request_from_body, request_from_query
from services.catalogue import stac_index
from libs.runtime.errors import InvalidArgument

UTC = dt.UTC


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        (
            "2022-01-02T10:00:00Z",
            dt.datetime(2022, 1, 2, 10, tzinfo=UTC),
            dt.datetime(2022, 1, 2, 10, tzinfo=UTC),
        ),
        ("2022-01-02t10:00:00.5z/..", dt.datetime(2022, 1, 2, 10, 0, 0, 500000, tzinfo=UTC), None),
        ("/2022-01-02T11:00:00+01:00", None, dt.datetime(2022, 1, 2, 10, tzinfo=UTC)),
    ],
)
def test_datetimes_and_intervals(text: str, start: dt.datetime | None, end: dt.datetime | None) -> None:
    assert datetime_range(text) == (start, end)


@pytest.mark.parametrize(
    "text",
    [
        "yesterday",
        "2022-01-02",
        "2022-01-02T10:00:00",
        "2022-01-02T10:00:00+0100",
        "2022-01-02T10:00:00,5Z",
        "../..",
        "2022-01-03T00:00:00Z/2022-01-02T00:00:00Z",
        "a/b/c",
    ],
)
def test_bad_datetimes_name_the_parameter(text: str) -> None:
    with pytest.raises(GatewayError, match=r"^datetime: ") as caught:
        datetime_range(text)
    assert caught.value.status == 400


def test_query_and_body_give_the_same_request() -> None:
    query = request_from_query(
        {
            "bbox": "1,2,3,4",
            "ids": "a,b",
            "collections": "Aoi",
            "limit": "5",
            "datetime": "2022-01-02T00:00:00Z/..",
        }
    )
    body = request_from_body(
        {
            "bbox": [1, 2, 3, 4],
            "ids": ["a", "b"],
            "collections": ["Aoi"],
            "limit": 5,
            "datetime": "2022-01-02T00:00:00Z/..",
        }
    )
    assert query == body
    assert list(query.bbox) == [1, 2, 3, 4] and query.HasField("start") and not query.HasField("end")
    assert request_from_body({}).limit == 10
    assert request_from_body({"limit": 10**6}).limit == 10_000  # capped, as the spec allows


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ({"bbox": [1, 2, 3]}, "bbox"),
        ({"bbox": "1,2,3,4"}, "bbox"),
        ({"bbox": [1, 2, 3, float("nan")]}, "bbox"),
        ({"ids": "a"}, "ids"),
        ({"limit": 0}, "limit"),
        ({"limit": True}, "limit"),
        ({"intersects": {"type": "Point"}}, "intersects"),
        ({"intersects": {"type": "Point", "coordinates": [1, 2]}, "bbox": [1, 2, 3, 4]}, "intersects"),
        ({"filter": {}}, "filter"),
    ],
)
def test_bad_bodies_name_the_parameter(body: dict[str, object], name: str) -> None:
    with pytest.raises(GatewayError, match=f"^{name}: "):
        request_from_body(body)


def _item(**changes: object) -> str:
    doc: dict[str, object] = {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": "i",
        "collection": "Aoi",
        "bbox": [1, 2, 3, 4],
        "properties": {"datetime": "2022-01-02T00:00:00Z"},
        "links": [{"rel": "self", "href": "x"}],
    }
    doc.update(changes)
    return json.dumps(doc)


def test_catalogue_keeps_items_without_links_and_extracts_columns() -> None:
    row = stac_index.item_row(0, "Aoi", "i", "", _item(), "k.json")
    assert row.bbox == (1, 2, 3, 4) and row.datetime == dt.datetime(2022, 1, 2, tzinfo=UTC)
    assert "links" not in row.item and row.catalog_key == "k.json"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("{", "items[0].item_json"),
        (_item(type="Collection"), "items[0].item_json"),
        (_item(id="other"), "items[0].item_json"),
        (_item(properties={}), "items[0].item_json.properties.datetime"),
        (_item(bbox=[3, 2, 1, 4]), "items[0].item_json.bbox"),
    ],
)
def test_catalogue_refuses_what_is_not_an_item(text: str, field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        stac_index.item_row(0, "Aoi", "i", "", text, "")
    assert caught.value.field == field


def test_paging_tokens_round_trip_and_bad_ones_are_refused() -> None:
    item = {"properties": {"datetime": "2022-01-02T00:00:00Z"}, "collection": "Aoi", "id": "i"}
    assert stac_index.decode_token(stac_index.encode_token(item)) == (
        dt.datetime(2022, 1, 2, tzinfo=UTC),
        "Aoi",
        "i",
    )
    for bad in ("x", "bm90IGpzb24", stac_index.encode_token({**item, "id": 1})):
        with pytest.raises(InvalidArgument):
            stac_index.decode_token(bad)
    with pytest.raises(InvalidArgument):
        stac_index.geometry('{"type": "Point"}')


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ({"limit": "²"}, "limit"),  # str.isdigit() says yes, int() says no
        ({"limit": "9" * 5000}, "limit"),  # beyond int()'s digit limit
        ({"datetime": "9999-12-31T23:59:59-01:00"}, "datetime"),  # year 10000 in UTC
        ({"datetime": "0001-01-01T00:00:00+01:00/.."}, "datetime"),  # year 0 in UTC
        ({"intersects": "[" * 100_000}, "intersects"),  # RecursionError, not ValueError
    ],
)
def test_query_values_python_cannot_hold_are_400s(query: dict[str, str], name: str) -> None:
    with pytest.raises(GatewayError, match=f"^{name}: ") as caught:
        request_from_query(query)
    assert caught.value.status == 400


def test_catalogue_refuses_deeply_nested_json_naming_the_field() -> None:
    deep = "[" * 100_000
    with pytest.raises(InvalidArgument) as caught:
        stac_index.geometry(deep)
    assert caught.value.field == "intersects"
    with pytest.raises(InvalidArgument) as caught:
        stac_index.item_row(0, "Aoi", "i", "", deep, "")
    assert caught.value.field == "items[0].item_json"
    token = base64.urlsafe_b64encode(deep.encode()).decode()
    with pytest.raises(InvalidArgument) as caught:
        stac_index.decode_token(token)
    assert caught.value.field == "token"


def test_catalogue_refuses_a_record_id_that_is_not_a_uuid() -> None:
    with pytest.raises(InvalidArgument) as caught:
        stac_index.item_row(2, "Aoi", "i", "not-a-uuid", _item(), "")
    assert caught.value.field == "items[2].record_id"
    row = stac_index.item_row(0, "Aoi", "i", "8f4c1a7e-3b5d-4f6a-9c2e-1d0b7a6e5f43", _item(), "")
    assert row.record_id == "8f4c1a7e-3b5d-4f6a-9c2e-1d0b7a6e5f43"
