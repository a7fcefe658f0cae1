"""moto's S3 server on loopback: a real S3 endpoint (HTTP, signatures, multipart) for storage tests.

The same endpoint stands in for Google Cloud Storage's XML API in gs:// tests: the protocol is the
same, which is the point of that backend (it does not prove Google's own quirks, see docs/storage.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.config
from moto.server import ThreadedMotoServer

from services.storage.config import ObjectStoreConfig

# moto accepts any key pair; these only have to be well-formed.
ACCESS_KEY_ID = "AKIATESTTESTTESTTEST"
SECRET_ACCESS_KEY = "test-secret-key"


@dataclasses.dataclass(frozen=True)
class S3Endpoint:
    url: str  # http://127.0.0.1:<port>

    def config(self, **overrides: Any) -> ObjectStoreConfig:
        """Settings that point both s3:// and gs:// at this server, with explicit keys."""
        values: dict[str, Any] = {
            "s3_endpoint_url": self.url,
            "s3_region": "us-east-1",
            "s3_addressing_style": "path",
            "s3_access_key_id": ACCESS_KEY_ID,
            "s3_secret_access_key": SECRET_ACCESS_KEY,
            "gs_endpoint_url": self.url,
            "gs_hmac_access_key_id": "GOOGTESTTESTTESTTEST",
            "gs_hmac_secret": "gs-test-secret",
        }
        values.update(overrides)
        return ObjectStoreConfig(**values)

    def client(self) -> Any:
        """A plain boto3 client, for tests to look at the bucket behind our backend's back."""
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
            config=botocore.config.Config(s3={"addressing_style": "path"}),
        )

    def new_bucket(self) -> str:
        """Creates a bucket with a fresh name, so tests sharing the server never see each other's keys."""
        name = f"test-{uuid.uuid4().hex[:16]}"
        client = self.client()
        client.create_bucket(Bucket=name)
        client.close()
        return name


@contextlib.contextmanager
def running_s3_server() -> Iterator[S3Endpoint]:
    """Starts moto's threaded server on a free loopback port; stops it on exit."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield S3Endpoint(f"http://{host}:{port}")
    finally:
        server.stop()
