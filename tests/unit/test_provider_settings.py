"""Downloader settings: provider switches, file-based secrets, and secrets kept out of repr."""

from __future__ import annotations

import pathlib

import pytest

from services.downloader.providers import configure
from services.downloader.settings import DownloaderSettings
from services.runtime.errors import InvalidArgument
from services.runtime.settings import from_env

BASE = {"catalogue_address": "127.0.0.1:1", "storage_uri": "/tmp"}


def test_at_least_one_provider_is_required() -> None:
    with pytest.raises(InvalidArgument, match="no image providers defined"):
        DownloaderSettings(**BASE).check()  # type: ignore[arg-type]
    DownloaderSettings(**BASE, http_urls=("https://h/{SCENE}.zip",)).check()  # type: ignore[arg-type]


def test_secrets_come_from_files_and_never_show(tmp_path: pathlib.Path) -> None:
    secret = tmp_path / "cdse"
    secret.write_text("Zq9-file-pw\n")
    settings = from_env(
        DownloaderSettings,
        "GEOCUBE_DOWNLOADER_",
        {
            "GEOCUBE_DOWNLOADER_CATALOGUE_ADDRESS": "127.0.0.1:1",
            "GEOCUBE_DOWNLOADER_STORAGE_URI": "/tmp",
            "GEOCUBE_DOWNLOADER_COPERNICUS_USERNAME": "me",
            "GEOCUBE_DOWNLOADER_COPERNICUS_PASSWORD": "Zq9-env-pw",
            "GEOCUBE_DOWNLOADER_COPERNICUS_PASSWORD_FILE": str(secret),
            "GEOCUBE_DOWNLOADER_HTTP_URLS": "https://a/{SCENE}.zip,https://b/{SCENE}.zip",
        },
    )
    settings.check()
    assert settings.secret("copernicus_password") == "Zq9-file-pw"
    assert "Zq9" not in repr(settings)
    names = [provider.name for provider in configure.build(settings)]
    assert names == ["HttpProvider", "CopernicusProvider"]
    assert "Zq9" not in repr(configure.build(settings)[1].auth)
    with pytest.raises(InvalidArgument, match="COPERNICUS_PASSWORD_FILE") as caught:
        DownloaderSettings(
            **BASE, copernicus_username="me", copernicus_password_file=str(tmp_path / "no")
        ).check()  # type: ignore[arg-type]
    assert "Zq9" not in str(caught.value)
