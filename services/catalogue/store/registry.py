"""SQL of the layer registry: variables, instances, records, datasets."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from libs.runtime.errors import AlreadyExists, NotFound

Conn = AsyncConnection[Any]


@dataclasses.dataclass
class Instance:
    id: str
    variable_id: str
    name: str
    metadata: dict[str, str]


@dataclasses.dataclass
class Variable:
    id: str
    name: str
    unit: str
    description: str
    dtype: str
    instances: list[Instance] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Record:
    id: str
    name: str
    time: dt.datetime
    tags: dict[str, str]
    aoi_wkt: str


@dataclasses.dataclass
class Dataset:
    record_id: str
    instance_id: str
    uri: str
    dtype: str
    subdir: str = ""
    bands: list[int] = dataclasses.field(default_factory=lambda: [1])
    no_data: float = 0.0
    min_value: float = 0.0
    max_value: float = 0.0
    real_min_value: float = 0.0
    real_max_value: float = 0.0
    exponent: float = 1.0
    id: str = ""
    created: dt.datetime | None = None


async def create_variable(conn: Conn, name: str, unit: str, description: str, dtype: str) -> Variable:
    try:
        cur = await conn.execute(
            "INSERT INTO variable (name, unit, description, dtype) VALUES (%s, %s, %s, %s) RETURNING id",
            (name, unit, description, dtype),
        )
    except psycopg.errors.UniqueViolation:
        raise AlreadyExists(f"variable {name} already exists") from None
    row = await cur.fetchone()
    assert row is not None
    return Variable(str(row[0]), name, unit, description, dtype)


async def list_variables(conn: Conn, name: str = "") -> list[Variable]:
    cur = await conn.execute(
        "SELECT id, name, unit, description, dtype FROM variable WHERE %s = '' OR name = %s ORDER BY name",
        (name, name),
    )
    variables = {str(r[0]): Variable(str(r[0]), r[1], r[2], r[3], r[4]) for r in await cur.fetchall()}
    if variables:
        cur = await conn.execute(
            "SELECT id, variable_id, name, metadata FROM instance WHERE variable_id = ANY(%s) ORDER BY name",
            ([uuid.UUID(v) for v in variables],),
        )
        for r in await cur.fetchall():
            variables[str(r[1])].instances.append(Instance(str(r[0]), str(r[1]), r[2], r[3]))
    return list(variables.values())


async def find_variable(conn: Conn, name_or_id: str) -> Variable | None:
    cur = await conn.execute(
        "SELECT name FROM variable WHERE name = %s OR id::text = %s", (name_or_id, name_or_id)
    )
    row = await cur.fetchone()
    if row is None:
        return None
    return (await list_variables(conn, row[0]))[0]


async def create_instance(conn: Conn, variable: str, name: str, metadata: dict[str, str]) -> Instance:
    var = await find_variable(conn, variable)
    if var is None:
        raise NotFound(f"variable {variable} not found")
    try:
        cur = await conn.execute(
            "INSERT INTO instance (variable_id, name, metadata) VALUES (%s, %s, %s) RETURNING id",
            (uuid.UUID(var.id), name, Jsonb(metadata)),
        )
    except psycopg.errors.UniqueViolation:
        raise AlreadyExists(f"variable {var.name} already has an instance {name}") from None
    row = await cur.fetchone()
    assert row is not None
    return Instance(str(row[0]), var.id, name, metadata)


async def find_instance(conn: Conn, instance_id: str) -> Instance | None:
    try:
        key = uuid.UUID(instance_id)
    except ValueError:
        return None
    cur = await conn.execute("SELECT id, variable_id, name, metadata FROM instance WHERE id = %s", (key,))
    r = await cur.fetchone()
    return Instance(str(r[0]), str(r[1]), r[2], r[3]) if r else None


async def list_records(
    conn: Conn, name: str = "", tags: dict[str, str] | None = None, limit: int = 0
) -> list[Record]:
    query = "SELECT id, name, time, tags, aoi_wkt FROM record WHERE (%s = '' OR name = %s) AND tags @> %s ORDER BY name, time, id"
    params: list[Any] = [name, name, Jsonb(tags or {})]
    if limit > 0:
        query += " LIMIT %s"
        params.append(limit)
    cur = await conn.execute(query, params)
    return [Record(str(r[0]), r[1], r[2], r[3], r[4]) for r in await cur.fetchall()]


async def records_by_name(conn: Conn, names: list[str]) -> dict[str, list[Record]]:
    """Every record named after one of `names` (scene source ids), in one query."""
    cur = await conn.execute(
        "SELECT id, name, time, tags, aoi_wkt FROM record WHERE name = ANY(%s) ORDER BY name, time, id", (names,)
    )
    found: dict[str, list[Record]] = {}
    for r in await cur.fetchall():
        found.setdefault(r[1], []).append(Record(str(r[0]), r[1], r[2], r[3], r[4]))
    return found


async def create_record(conn: Conn, name: str, time: dt.datetime, tags: dict[str, str], aoi_wkt: str) -> str:
    cur = await conn.execute(
        "INSERT INTO record (name, time, tags, aoi_wkt) VALUES (%s, %s, %s, %s) RETURNING id",
        (name, time, Jsonb(tags), aoi_wkt),
    )
    row = await cur.fetchone()
    assert row is not None
    return str(row[0])


async def create_records(
    conn: Conn, records: list[tuple[str, dt.datetime, dict[str, str], str]]
) -> list[str]:
    """`create_record` for many (name, time, tags, aoi_wkt) in one statement; their ids, in order (made
    here, random as the column's default, so that no RETURNING order has to be trusted)."""
    if not records:
        return []
    ids = [uuid.uuid4() for _ in records]
    await conn.execute(
        "INSERT INTO record (id, name, time, tags, aoi_wkt)"
        " SELECT * FROM unnest(%s::uuid[], %s::text[], %s::timestamptz[], %s::jsonb[], %s::text[])",
        (ids, [r[0] for r in records], [r[1] for r in records], [Jsonb(r[2]) for r in records],
         [r[3] for r in records]),
    )
    return [str(record_id) for record_id in ids]


async def index_dataset(conn: Conn, d: Dataset) -> bool:
    """Indexes a dataset; False if the same (record, instance, uri) is already indexed."""
    try:
        record_id, instance_id = uuid.UUID(d.record_id), uuid.UUID(d.instance_id)
    except ValueError:
        raise NotFound(
            f"dataset {d.uri}: record {d.record_id!r} or instance {d.instance_id!r} is not an id"
        ) from None
    try:
        cur = await conn.execute(
            "INSERT INTO dataset (record_id, instance_id, uri, subdir, bands, dtype, no_data, min_value, max_value,"
            " real_min_value, real_max_value, exponent) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (record_id, instance_id, uri) DO NOTHING",
            (
                record_id,
                instance_id,
                d.uri,
                d.subdir,
                d.bands,
                d.dtype,
                d.no_data,
                d.min_value,
                d.max_value,
                d.real_min_value,
                d.real_max_value,
                d.exponent,
            ),
        )
    except psycopg.errors.ForeignKeyViolation:
        raise NotFound(f"dataset {d.uri}: unknown record {d.record_id} or instance {d.instance_id}") from None
    return cur.rowcount == 1


async def list_datasets(conn: Conn, record_id: str = "", instance_id: str = "") -> list[Dataset]:
    cur = await conn.execute(
        "SELECT id, record_id, instance_id, uri, subdir, bands, dtype, no_data, min_value, max_value,"
        " real_min_value, real_max_value, exponent, created FROM dataset"
        " WHERE (%s = '' OR record_id::text = %s) AND (%s = '' OR instance_id::text = %s) ORDER BY created, id",
        (record_id, record_id, instance_id, instance_id),
    )
    return [
        Dataset(
            id=str(r[0]),
            record_id=str(r[1]),
            instance_id=str(r[2]),
            uri=r[3],
            subdir=r[4],
            bands=list(r[5]),
            dtype=r[6],
            no_data=r[7],
            min_value=r[8],
            max_value=r[9],
            real_min_value=r[10],
            real_max_value=r[11],
            exponent=r[12],
            created=r[13],
        )
        for r in await cur.fetchall()
    ]
