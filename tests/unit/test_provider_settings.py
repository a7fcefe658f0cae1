"""Downloader settings: provider switches, file-based secrets, and secrets kept out of repr."""

from __future__ import annotations

import base64
import pathlib

import pytest

from services.downloader.providers import configure
from services.downloader.settings import DownloaderSettings
from libs.runtime.errors import InvalidArgument
from libs.runtime.settings import from_env

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


ENV = {"GEOCUBE_DOWNLOADER_CATALOGUE_ADDRESS": "127.0.0.1:1", "GEOCUBE_DOWNLOADER_STORAGE_URI": "/tmp"}


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"GEOCUBE_DOWNLOADER_HTTP_BEARER_TOKEN": "tok-3n"}, {"Authorization": "Bearer tok-3n"}),
        (
            {"GEOCUBE_DOWNLOADER_HTTP_USERNAME": "me", "GEOCUBE_DOWNLOADER_HTTP_PASSWORD": "pw-3n"},
            {"Authorization": "Basic " + base64.b64encode(b"me:pw-3n").decode()},
        ),
        ({}, {}),
    ],
)
def test_the_http_provider_gets_the_credentials_of_the_environment(
    variables: dict[str, str], expected: dict[str, str]
) -> None:
    environ = {**ENV, "GEOCUBE_DOWNLOADER_HTTP_URLS": "https://mirror.example/{SCENE}.zip", **variables}
    settings = from_env(DownloaderSettings, "GEOCUBE_DOWNLOADER_", environ)
    settings.check()
    (provider,) = configure.build(settings)
    assert provider.auth.headers() == expected
    assert "3n" not in repr(settings) and "3n" not in repr(provider.auth)


def test_local_links_are_allowed_below_the_configured_roots_and_the_local_archive(
    tmp_path: pathlib.Path,
) -> None:
    environ = {
        **ENV,
        "GEOCUBE_DOWNLOADER_URL_PROVIDER": "true",
        "GEOCUBE_DOWNLOADER_LINK_LOCAL_ROOTS": f"{tmp_path / 'a'},{tmp_path / 'b'}",
        "GEOCUBE_DOWNLOADER_LOCAL_PATH": str(tmp_path / "archive"),
    }
    settings = from_env(DownloaderSettings, "GEOCUBE_DOWNLOADER_", environ)
    settings.check()
    link = configure.build(settings)[1]
    assert link.name == "URLImageProvider"
    assert link.local_roots == [tmp_path / "a", tmp_path / "b", tmp_path / "archive"]
    assert configure.build(DownloaderSettings(**BASE, url_provider=True))[0].local_roots == []  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="LINK_LOCAL_ROOTS"):
        DownloaderSettings(**BASE, url_provider=True, link_local_roots=("relative",)).check()  # type: ignore[arg-type]


def test_the_copernicus_token_may_follow_redirects_to_the_configured_cdse_hosts_only() -> None:
    settings = DownloaderSettings(**BASE, copernicus_username="me", copernicus_password="pw")  # type: ignore[arg-type]
    (provider,) = configure.build(settings)
    assert provider.trusted == {
        "https://zipper.dataspace.copernicus.eu:443",
        "https://catalogue.dataspace.copernicus.eu:443",
        "https://download.dataspace.copernicus.eu:443",
    }
