"""The download-link provider's local links: only below the configured roots, checked on real paths
(symlinks and `..` resolved), refused clearly when no root is configured; and a cancelled copy stops."""

from __future__ import annotations

import io
import pathlib
import zipfile

import pytest

from services.downloader.providers import local, transfer
from services.downloader.providers.link import LinkProvider
from services.downloader.providers.product import ProductRequest
from libs.runtime.errors import FailedPrecondition, NotFound
from libs.worker.outcome import is_temporary

S2_ID = "S2A_MSIL1C_20220104T103421_N0301_R108_T32UNF_20220104T123507"
FAST = transfer.Policy(retry_pause=0.001, timeout=2.0)


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def places(tmp_path: pathlib.Path) -> dict[str, pathlib.Path]:
    """An allowed root holding a product zip and a product folder, and a secret outside it."""
    root = tmp_path / "archive"
    (root / f"{S2_ID}.SAFE").mkdir(parents=True)
    (root / f"{S2_ID}.SAFE" / "MTD_MSIL1C.xml").write_bytes(b"<xml/>")
    (root / f"{S2_ID}.zip").write_bytes(_zip({f"{S2_ID}.SAFE/MTD_MSIL1C.xml": b"<xml/>"}))
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "token").write_text("s3cr3t")
    return {"root": root, "secrets": secrets, "work": tmp_path / "work"}


def _fetch(provider: LinkProvider, link: str, workdir: pathlib.Path) -> None:
    provider.fetch(ProductRequest(S2_ID, download_link=link), workdir)


def _copied(workdir: pathlib.Path) -> list[str]:
    return sorted(str(p.relative_to(workdir)) for p in workdir.rglob("*")) if workdir.exists() else []


@pytest.mark.parametrize("as_uri", [True, False])
def test_without_a_root_local_links_are_refused_naming_the_setting(
    places: dict[str, pathlib.Path], as_uri: bool
) -> None:
    secret = places["secrets"] / "token"
    link = secret.as_uri() if as_uri else str(secret)
    with pytest.raises(FailedPrecondition, match="GEOCUBE_DOWNLOADER_LINK_LOCAL_ROOTS") as caught:
        _fetch(LinkProvider(FAST), link, places["work"])
    assert not is_temporary(caught.value) and _copied(places["work"]) == []


def test_links_below_a_root_are_used(places: dict[str, pathlib.Path]) -> None:
    provider = LinkProvider(FAST, local_roots=[places["root"]])
    _fetch(provider, (places["root"] / f"{S2_ID}.zip").as_uri(), places["work"] / "a")
    assert _copied(places["work"] / "a") == [f"{S2_ID}.SAFE", f"{S2_ID}.SAFE/MTD_MSIL1C.xml"]
    _fetch(provider, str(places["root"] / f"{S2_ID}.SAFE"), places["work"] / "b")
    assert _copied(places["work"] / "b") == [f"{S2_ID}.SAFE", f"{S2_ID}.SAFE/MTD_MSIL1C.xml"]
    with pytest.raises(NotFound, match="Product not found or unavailable"):
        _fetch(provider, str(places["root"] / "missing.zip"), places["work"] / "c")


def test_links_leaving_the_root_are_refused(places: dict[str, pathlib.Path]) -> None:
    root, secrets, work = places["root"], places["secrets"], places["work"]
    (root / "escape").symlink_to(secrets)
    (root / "token.zip").symlink_to(secrets / "token")
    provider = LinkProvider(FAST, local_roots=[root])
    for link in [
        str(secrets / "token"),
        f"{root}/../secrets/token",  # `..` resolved before the check
        f"file://{root}/%2E%2E/secrets/token",
        str(root / "escape" / "token"),  # a symlinked folder
        (root / "token.zip").as_uri(),  # a symlinked file
        str(root / "escape"),
        "relative/token",
    ]:
        with pytest.raises(FailedPrecondition) as caught:
            _fetch(provider, link, work)
        assert not is_temporary(caught.value), link
    with pytest.raises(FailedPrecondition, match="another host"):
        _fetch(provider, f"file://elsewhere{root}/{S2_ID}.zip", work)
    assert _copied(work) == []


def test_a_folder_holding_a_symlink_out_of_the_root_is_refused(places: dict[str, pathlib.Path]) -> None:
    root, secrets = places["root"], places["secrets"]
    (root / f"{S2_ID}.SAFE" / "token").symlink_to(secrets / "token")
    with pytest.raises(FailedPrecondition, match="leads outside"):
        _fetch(LinkProvider(FAST, local_roots=[root]), str(root / f"{S2_ID}.SAFE"), places["work"])
    assert not any(p.name == "token" for p in places["work"].rglob("*"))


def test_a_root_given_through_a_symlink_still_matches(
    places: dict[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    (tmp_path / "alias").symlink_to(places["root"])
    provider = LinkProvider(FAST, local_roots=[tmp_path / "alias"])
    _fetch(provider, str(places["root"] / f"{S2_ID}.zip"), places["work"])
    assert (places["work"] / f"{S2_ID}.SAFE" / "MTD_MSIL1C.xml").read_bytes() == b"<xml/>"


def test_a_cancelled_task_stops_copies_and_unarchiving(places: dict[str, pathlib.Path]) -> None:
    root, work = places["root"], places["work"]
    product = ProductRequest(S2_ID, download_link=str(root / f"{S2_ID}.SAFE"))
    product.cancel.set()
    provider = LinkProvider(FAST, local_roots=[root])
    with pytest.raises(transfer.Cancelled):
        provider.fetch(product, work / "a")
    with pytest.raises(transfer.Cancelled):
        local.unarchive(root / f"{S2_ID}.zip", work / "b", product.cancel)
    with pytest.raises(transfer.Cancelled):
        local.LocalProvider(root).fetch(product, work / "c")
    assert _copied(work) == ["a", "b", "c"]  # each stopped before its first file, leaving nothing
