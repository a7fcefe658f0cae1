"""moto's S3 server on loopback: a real S3 endpoint (HTTP, signatures, multipart) for storage tests.

gs:// tests reach the same server through `gcs_url`, a forwarding proxy standing in for
storage.googleapis.com: obstore's GCSStore speaks Google's XML API for objects (the same requests as
S3, with an OAuth bearer token instead of a SigV4 signature), but percent-encodes every character of
the bucket and object names (`test%2Dab/a%2Fb`), which Google decodes and moto does not; the proxy
decodes them. The service-account key is a real RSA key made for the session, so the GCS client signs
its own JWT exactly as with a key downloaded from Google, with no token exchange and no network. What
this does not prove: Google's own answers (docs/storage.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.config
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from moto.server import ThreadedMotoServer

from libs.storage.config import ObjectStoreConfig
from support.httpserver import LocalHTTPServer, Request, Response

# moto accepts any key pair; these only have to be well-formed.
ACCESS_KEY_ID = "AKIATESTTESTTESTTEST"
SECRET_ACCESS_KEY = "test-secret-key"
SERVICE_ACCOUNT_EMAIL = "ingester@test-project.iam.gserviceaccount.com"


def service_account_key() -> tuple[str, rsa.RSAPrivateKey]:
    """A service-account key file's content (JSON, as Google issues it) and its private key."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    document = {
        "type": "service_account",
        "project_id": "test-project",
        "private_key_id": "test-key-1",
        "private_key": pem,
        "client_email": SERVICE_ACCOUNT_EMAIL,
        "token_uri": "http://127.0.0.1:9/token",  # never called: object_store signs its own JWT
    }
    return json.dumps(document), private_key


@dataclasses.dataclass(frozen=True)
class S3Endpoint:
    url: str  # http://127.0.0.1:<port>, moto itself
    gcs_url: str = ""  # the proxy standing in for storage.googleapis.com
    gcs_key: str = dataclasses.field(default="", repr=False)
    gcs_private_key: Any = dataclasses.field(default=None, repr=False)

    def config(self, **overrides: Any) -> ObjectStoreConfig:
        """Settings that point s3:// (explicit keys) and gs:// (a service-account key) at this server."""
        values: dict[str, Any] = {
            "s3_endpoint_url": self.url,
            "s3_region": "us-east-1",
            "s3_addressing_style": "path",
            "s3_access_key_id": ACCESS_KEY_ID,
            "s3_secret_access_key": SECRET_ACCESS_KEY,
            "gs_endpoint_url": self.gcs_url,
            "gs_service_account_key": self.gcs_key,
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


_KEPT = {"content-range", "content-type", "etag", "last-modified", "accept-ranges", "content-length"}


@contextlib.contextmanager
def forwarding_proxy(target: str) -> Iterator[LocalHTTPServer]:
    """A loopback server that forwards every request to `target` with its path decoded and re-encoded
    the usual way, and counts the bytes it answers (`bytes_sent`) and the requests (`requests`)."""
    session = requests.Session()

    def forward(request: Request) -> Response:
        query = urllib.parse.urlencode(request.query, doseq=True)
        url = f"{target}{urllib.parse.quote(request.path)}" + (f"?{query}" if query else "")
        headers = {k: v for k, v in request.headers.items() if k not in ("host", "content-length")}
        answer = session.request(request.method, url, headers=headers, data=request.body, timeout=30)
        kept = {name: value for name, value in answer.headers.items() if name.lower() in _KEPT}
        return Response(answer.status_code, answer.content, kept)

    with LocalHTTPServer(forward) as proxy:
        yield proxy
    session.close()


@contextlib.contextmanager
def running_s3_server() -> Iterator[S3Endpoint]:
    """Starts moto's threaded server on a free loopback port, and the GCS proxy; stops both on exit."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        key, private_key = service_account_key()
        with forwarding_proxy(url) as gcs:
            yield S3Endpoint(url, gcs.url, key, private_key)
    finally:
        server.stop()
