"""Object-storage prefixes: a file:// root and a real S3 endpoint (moto's server on loopback)."""

from __future__ import annotations

import hashlib
import io
import pathlib
import zipfile

import pytest

from services.downloader.providers.objectstore import ObjectStoreProvider, fetch_object
from services.downloader.providers.product import Cancelled, ProductRequest
from libs.runtime.errors import NotFound, Unavailable
from libs.worker.outcome import is_temporary

S2_ID = "S2A_MSIL1C_20220104T103421_N0301_R108_T32UNF_20220104T123507"


def _product() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{S2_ID}.SAFE/MTD_MSIL1C.xml", b"<xml/>")
    return buffer.getvalue()


PRODUCT = _product()


def _root_with_product(tmp_path: pathlib.Path, name: str = f"{S2_ID}.zip") -> pathlib.Path:
    folder = tmp_path / "store" / "S2A" / "2022"
    folder.mkdir(parents=True)
    (folder / name).write_bytes(PRODUCT)
    return tmp_path / "store"


def _put(endpoint: object, bucket: str, key: str) -> None:
    client = endpoint.client()  # type: ignore[attr-defined]
    try:
        client.put_object(Bucket=bucket, Key=key, Body=PRODUCT)
    finally:
        client.close()  # its connection pool would otherwise outlive the test (ResourceWarning)


def test_a_product_under_a_templated_file_prefix(tmp_path: pathlib.Path) -> None:
    root = _root_with_product(tmp_path, f"{S2_ID}.SAFE.zip")
    provider = ObjectStoreProvider(
        [f"{(tmp_path / 'empty').as_uri()}", f"{root.as_uri()}/{{MISSION_ID}}/{{YEAR}}/"]
    )
    workdir = tmp_path / "work"
    progress: list[object] = []
    provider.fetch(
        ProductRequest(
            S2_ID, checksums={"MD5": hashlib.md5(PRODUCT).hexdigest()}, on_progress=progress.append
        ),
        workdir,
    )
    assert [p.name for p in workdir.iterdir()] == [f"{S2_ID}.SAFE"]
    assert progress  # start and end at least


def test_missing_everywhere_is_not_found_naming_each_place(tmp_path: pathlib.Path) -> None:
    provider = ObjectStoreProvider([(tmp_path / "a").as_uri(), f"{(tmp_path / 'b').as_uri()}/{{NOPE}}"])
    with pytest.raises(NotFound) as caught:
        provider.fetch(ProductRequest(S2_ID), tmp_path / "work")
    text = str(caught.value)
    assert f"{tmp_path / 'a'}/{S2_ID}.zip" in text and f"{S2_ID}.SAFE.zip" in text and "{NOPE}" in text


def test_a_wrong_checksum_leaves_nothing(tmp_path: pathlib.Path) -> None:
    root = _root_with_product(tmp_path)
    workdir = tmp_path / "work"
    workdir.mkdir()
    provider = ObjectStoreProvider([f"{root}/S2A/2022"])
    with pytest.raises(Unavailable, match="checksum mismatch") as caught:
        provider.fetch(ProductRequest(S2_ID, checksums={"SHA256": "0" * 64}), workdir)
    assert is_temporary(caught.value) and list(workdir.iterdir()) == []


def test_a_cancelled_task_stops_before_and_after_the_copy(tmp_path: pathlib.Path) -> None:
    root = _root_with_product(tmp_path)
    workdir = tmp_path / "work"
    product = ProductRequest(S2_ID, checksums={"MD5": hashlib.md5(PRODUCT).hexdigest()})
    # Cancelled while the backend copies (one call, not interruptible): caught when it returns.
    product.on_progress = lambda progress: product.cancel.set()
    with pytest.raises(Cancelled):
        ObjectStoreProvider([f"{root}/S2A/2022"]).fetch(product, workdir)
    assert list(workdir.iterdir()) == []
    with pytest.raises(Cancelled):  # and not even started once cancelled
        fetch_object(f"{root}/S2A/2022", f"{S2_ID}.zip", product, workdir, provider="T")
    assert list(workdir.iterdir()) == []


def test_a_product_in_an_s3_bucket(s3_endpoint: object, tmp_path: pathlib.Path) -> None:
    endpoint = s3_endpoint
    bucket = endpoint.new_bucket()  # type: ignore[attr-defined]
    _put(endpoint, bucket, f"products/2022/{S2_ID}.zip")
    provider = ObjectStoreProvider([f"s3://{bucket}/products/{{YEAR}}"], endpoint.config())  # type: ignore[attr-defined]
    workdir = tmp_path / "work"
    provider.fetch(ProductRequest(S2_ID, size=len(PRODUCT)), workdir)
    assert (workdir / f"{S2_ID}.SAFE" / "MTD_MSIL1C.xml").read_bytes() == b"<xml/>"
    assert [p.name for p in workdir.iterdir()] == [f"{S2_ID}.SAFE"]
    with pytest.raises(NotFound, match="product not found"):
        ObjectStoreProvider([f"s3://{bucket}/elsewhere"], endpoint.config()).fetch(
            ProductRequest(S2_ID), workdir
        )  # type: ignore[attr-defined]


def test_the_chain_built_from_settings_reaches_the_configured_endpoint(
    s3_endpoint: object, tmp_path: pathlib.Path
) -> None:
    """The worker's s3 settings (endpoint, keys) reach the object-store provider the chain builds."""
    from services.downloader.providers import configure
    from services.downloader.settings import DownloaderSettings

    endpoint = s3_endpoint
    bucket = endpoint.new_bucket()  # type: ignore[attr-defined]
    _put(endpoint, bucket, f"p/{S2_ID}.zip")
    config = endpoint.config()  # type: ignore[attr-defined]
    settings = DownloaderSettings(
        catalogue_address="127.0.0.1:1",
        storage_uri=str(tmp_path / "storage"),
        object_store_prefixes=(f"s3://{bucket}/p",),
        s3_endpoint_url=config.s3_endpoint_url,
        s3_region=config.s3_region,
        s3_addressing_style=config.s3_addressing_style,
        s3_access_key_id=config.s3_access_key_id,
        s3_secret_access_key=config.s3_secret_access_key,
    )
    (provider,) = configure.build(settings)
    provider.fetch(ProductRequest(S2_ID), tmp_path / "work")
    assert (tmp_path / "work" / f"{S2_ID}.SAFE" / "MTD_MSIL1C.xml").read_bytes() == b"<xml/>"
