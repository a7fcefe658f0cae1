"""Authentication and TLS of the internal gRPC services (catalogue, downloader, processor).

Each service accepts one or more shared bearer tokens (several, so that a token can be rotated without a
flag day: add the new one, move the clients, drop the old one), sent by its clients as the metadata
`authorization: Bearer <token>`, and checked by `TokenInterceptor` before any servicer runs. The standard
health service stays open: kubelet probes and load balancers carry no credentials, and it tells nothing
but SERVING / NOT_SERVING. Reflection is not open: it describes the whole API to whoever asks; operators
with a token still get it (`grpcurl -H 'authorization: Bearer …'`).

TLS is optional (server certificate and key; with a client CA, clients must present a certificate it
signed: mTLS, which also counts as authentication). A service listening on a non-loopback address with
neither tokens nor mTLS refuses to start unless `…_ALLOW_UNAUTHENTICATED=true` says that this is meant;
on loopback it runs with a warning, as the tests and a laptop do.

Settings come in two mixins: `ServerSecuritySettings` for a process that serves gRPC, and
`CatalogueClientSettings` for one that calls the catalogue (workers, gateway). Every secret has a `…_FILE`
variant to read it from a mounted Kubernetes Secret.
"""

from __future__ import annotations

import dataclasses
import hmac
import ipaddress
import logging
import pathlib
from typing import Any

import grpc
from grpc_health.v1 import health

from libs.runtime.errors import InvalidArgument

logger = logging.getLogger(__name__)

# Method prefixes answered without credentials.
OPEN_PREFIXES = (f"/{health.SERVICE_NAME}/",)


@dataclasses.dataclass(frozen=True)
class ServerSecuritySettings:
    # Accepted bearer tokens (comma-separated in the environment); never logged.
    auth_tokens: tuple[str, ...] = dataclasses.field(default=(), repr=False)
    # A file of more accepted tokens (one per line or comma-separated), e.g. a mounted Secret.
    auth_tokens_file: str = ""
    # Serve without tokens nor mTLS on a non-loopback address (refused at start otherwise).
    allow_unauthenticated: bool = False
    # TLS: PEM server certificate (chain) and key; with a client CA, clients must present a certificate.
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_client_ca_file: str = ""


@dataclasses.dataclass(frozen=True)
class CatalogueClientSettings:
    # Bearer token sent to the catalogue (one of its AUTH_TOKENS), or a file holding it; never logged.
    catalogue_token: str = dataclasses.field(default="", repr=False)
    catalogue_token_file: str = ""
    # TLS to the catalogue: the CA that signed its certificate; with a client certificate and key: mTLS.
    catalogue_tls_ca_file: str = ""
    catalogue_tls_cert_file: str = ""
    catalogue_tls_key_file: str = ""


def _read(variable: str, path: str) -> bytes:
    try:
        return pathlib.Path(path).read_bytes()
    except OSError as exc:
        # The path is not secret, the content is: name the file, never echo what it holds.
        raise InvalidArgument(variable, f"cannot read {path}: {exc.strerror}") from None


def _split_tokens(text: str) -> list[str]:
    return [part.strip() for line in text.splitlines() for part in line.split(",") if part.strip()]


def is_loopback(address: str) -> bool:
    """Whether `host:port` can be reached only from this machine (unix sockets count)."""
    if address.startswith("unix:"):
        return True
    host = address.rpartition(":")[0].strip("[]") if ":" in address else address
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # 0.0.0.0 / [::] parse; a host name may resolve to anything: not loopback


@dataclasses.dataclass(frozen=True)
class ServerSecurity:
    """What a server enforces, read and checked from its settings."""

    tokens: tuple[bytes, ...] = dataclasses.field(default=(), repr=False)
    tls_cert: bytes | None = None
    tls_key: bytes | None = dataclasses.field(default=None, repr=False)
    client_ca: bytes | None = None

    @classmethod
    def from_settings(cls, settings: ServerSecuritySettings, prefix: str, address: str) -> ServerSecurity:
        """Raises InvalidArgument naming the variable when the settings cannot be used, including a
        non-loopback address with no authentication configured."""
        tokens = list(settings.auth_tokens)
        if settings.auth_tokens_file:
            tokens += _split_tokens(_read(prefix + "AUTH_TOKENS_FILE", settings.auth_tokens_file).decode())
        tls_cert = tls_key = client_ca = None
        if bool(settings.tls_cert_file) != bool(settings.tls_key_file):
            missing = "TLS_KEY_FILE" if settings.tls_cert_file else "TLS_CERT_FILE"
            raise InvalidArgument(prefix + missing, "TLS needs both TLS_CERT_FILE and TLS_KEY_FILE")
        if settings.tls_cert_file:
            tls_cert = _read(prefix + "TLS_CERT_FILE", settings.tls_cert_file)
            tls_key = _read(prefix + "TLS_KEY_FILE", settings.tls_key_file)
        if settings.tls_client_ca_file:
            if tls_cert is None:
                raise InvalidArgument(
                    prefix + "TLS_CLIENT_CA_FILE", "mTLS needs TLS_CERT_FILE and TLS_KEY_FILE"
                )
            client_ca = _read(prefix + "TLS_CLIENT_CA_FILE", settings.tls_client_ca_file)
        security = cls(tuple(t.encode() for t in tokens), tls_cert, tls_key, client_ca)
        if not security.authenticates and not is_loopback(address) and not settings.allow_unauthenticated:
            raise InvalidArgument(
                prefix + "AUTH_TOKENS",
                f"required to listen on {address}, which is not a loopback address (anyone reaching it"
                f" could call every RPC): set {prefix}AUTH_TOKENS or {prefix}AUTH_TOKENS_FILE, or"
                f" {prefix}TLS_CLIENT_CA_FILE for mTLS, or {prefix}ALLOW_UNAUTHENTICATED=true",
            )
        return security

    @property
    def authenticates(self) -> bool:
        return bool(self.tokens) or self.client_ca is not None

    def interceptors(self) -> list[grpc.aio.ServerInterceptor]:
        return [TokenInterceptor(self.tokens)] if self.tokens else []

    def add_port(self, server: grpc.aio.Server, address: str) -> int:
        if self.tls_cert is None or self.tls_key is None:
            return server.add_insecure_port(address)
        credentials = grpc.ssl_server_credentials(
            [(self.tls_key, self.tls_cert)],
            root_certificates=self.client_ca,
            require_client_auth=self.client_ca is not None,
        )
        return server.add_secure_port(address, credentials)


def bearer_matches(value: str, tokens: tuple[bytes, ...]) -> bool:
    """Whether an `authorization` value carries one of `tokens`. Every token is compared, in constant
    time, so the answer's timing tells neither which token nor how much of it matched."""
    scheme, _, given = value.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    candidate = given.strip().encode()
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(candidate, token)
    return matched


class TokenInterceptor(grpc.aio.ServerInterceptor):
    """Answers UNAUTHENTICATED, before any servicer code and without reading the request, to a call of a
    non-open method that does not carry an accepted bearer token."""

    def __init__(self, tokens: tuple[bytes, ...]):
        self._tokens = tokens

    async def intercept_service(self, continuation, handler_call_details):  # type: ignore[no-untyped-def]
        method = handler_call_details.method
        if method.startswith(OPEN_PREFIXES):
            return await continuation(handler_call_details)
        values = [v for k, v in handler_call_details.invocation_metadata or () if k == "authorization"]
        if values and bearer_matches(str(values[0]), self._tokens):
            return await continuation(handler_call_details)
        reason = "invalid bearer token" if values else "missing metadata 'authorization: Bearer <token>'"
        return _denial(await continuation(handler_call_details), f"unauthenticated: {reason}")


def _denial(handler: Any, message: str) -> grpc.RpcMethodHandler:
    """A handler of the same shape as `handler` that aborts; the request bytes are never deserialized."""

    async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    async def streaming(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)
        yield  # pragma: no cover - makes this an async generator, as a streaming handler must be

    if handler is not None and handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(streaming)
    if handler is not None and handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(unary)
    if handler is not None and handler.stream_stream is not None:
        return grpc.stream_stream_rpc_method_handler(streaming)
    # Unknown methods too: UNIMPLEMENTED would tell a caller without a token which methods exist.
    return grpc.unary_unary_rpc_method_handler(unary)


@dataclasses.dataclass(frozen=True)
class ClientSecurity:
    """What a client presents: a bearer token and/or TLS material."""

    token: str = dataclasses.field(default="", repr=False)
    ca: bytes | None = None
    cert: bytes | None = None
    key: bytes | None = dataclasses.field(default=None, repr=False)

    @classmethod
    def for_catalogue(cls, settings: CatalogueClientSettings, prefix: str) -> ClientSecurity:
        token = settings.catalogue_token
        if settings.catalogue_token_file:
            token = _read(prefix + "CATALOGUE_TOKEN_FILE", settings.catalogue_token_file).decode().strip()
        if bool(settings.catalogue_tls_cert_file) != bool(settings.catalogue_tls_key_file):
            raise InvalidArgument(
                prefix + "CATALOGUE_TLS_CERT_FILE", "mTLS needs both CATALOGUE_TLS_CERT_FILE and …_KEY_FILE"
            )
        if settings.catalogue_tls_cert_file and not settings.catalogue_tls_ca_file:
            raise InvalidArgument(prefix + "CATALOGUE_TLS_CA_FILE", "required with CATALOGUE_TLS_CERT_FILE")
        return cls(
            token,
            _read(prefix + "CATALOGUE_TLS_CA_FILE", settings.catalogue_tls_ca_file)
            if settings.catalogue_tls_ca_file
            else None,
            _read(prefix + "CATALOGUE_TLS_CERT_FILE", settings.catalogue_tls_cert_file)
            if settings.catalogue_tls_cert_file
            else None,
            _read(prefix + "CATALOGUE_TLS_KEY_FILE", settings.catalogue_tls_key_file)
            if settings.catalogue_tls_key_file
            else None,
        )

    @property
    def tls(self) -> bool:
        return self.ca is not None
