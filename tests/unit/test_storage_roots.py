"""ScenesStorage (libs/storage/roots.py): a scene's storage opened once per URI, refusals never kept."""

from __future__ import annotations

import asyncio
import pathlib

import pytest

from libs.runtime.errors import FailedPrecondition
from libs.storage.local import LocalStorage
from libs.storage.roots import ScenesStorage


def test_each_uri_is_opened_once_and_the_default_serves_an_empty_one(tmp_path: pathlib.Path) -> None:
    default, allowed = tmp_path / "default", tmp_path / "allowed"
    storages = ScenesStorage(str(default), [str(allowed)])
    plain = storages.open("")
    assert isinstance(plain, LocalStorage) and plain.root == default
    assert storages.open("") is plain
    inside = storages.open(str(allowed / "tenant"))
    assert isinstance(inside, LocalStorage) and inside.root == allowed / "tenant"
    assert storages.open(str(allowed / "tenant")) is inside and inside is not plain


def test_a_uri_outside_the_roots_is_refused_every_time(tmp_path: pathlib.Path) -> None:
    storages = ScenesStorage(str(tmp_path / "default"), setting="GEOCUBE_X_STORAGE_ALLOWED_URIS")
    for _ in range(2):  # not kept: the second lookup checks again
        with pytest.raises(FailedPrecondition, match="GEOCUBE_X_STORAGE_ALLOWED_URIS"):
            storages.open("/etc")


def test_get_opens_in_a_thread_then_answers_from_memory(tmp_path: pathlib.Path) -> None:
    storages = ScenesStorage(str(tmp_path))

    async def twice() -> tuple[object, object]:
        return await storages.get(""), await storages.get("")

    first, second = asyncio.run(twice())
    assert first is second
    with pytest.raises(FailedPrecondition):
        asyncio.run(storages.get("/etc"))
