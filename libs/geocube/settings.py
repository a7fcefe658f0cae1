"""How a process reaches a Geocube server; the catalogue and the processor inherit these fields, hence the
same variables under each prefix (GEOCUBE_CATALOGUE_GEOCUBE_SERVER, GEOCUBE_PROCESSOR_GEOCUBE_SERVER)."""

from __future__ import annotations

import dataclasses
import pathlib

from libs.runtime.errors import InvalidArgument


@dataclasses.dataclass(frozen=True)
class GeocubeSettings:
    # host:port of the Geocube server's gRPC API. "" = no Geocube: the built-in registry stands in.
    geocube_server: str = ""
    # Plain-text gRPC (the reference's --geocube-insecure); TLS otherwise, as in the reference.
    geocube_insecure: bool = False
    # PEM file of the root certificates that sign the server's certificate; "" = the system roots.
    geocube_ca_file: str = ""
    # Sent as `authorization: Bearer <token>` on every call (the reference's --geocube-apikey).
    geocube_token: str = dataclasses.field(default="", repr=False)
    # Seconds allowed to one call.
    geocube_timeout: float = 30.0

    def check_geocube(self, prefix: str) -> None:
        """Raises InvalidArgument naming the variable of the first unusable Geocube setting."""
        if not self.geocube_server:
            return
        host, sep, port = self.geocube_server.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise InvalidArgument(
                prefix + "GEOCUBE_SERVER", f"expected host:port, got {self.geocube_server!r}"
            )
        if self.geocube_ca_file and not pathlib.Path(self.geocube_ca_file).is_file():
            raise InvalidArgument(prefix + "GEOCUBE_CA_FILE", f"no such file: {self.geocube_ca_file}")
        if self.geocube_timeout <= 0:
            raise InvalidArgument(prefix + "GEOCUBE_TIMEOUT", "must be positive")
