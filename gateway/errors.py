"""The one exception the gateway's request handling raises to answer an HTTP error."""

from __future__ import annotations


class GatewayError(Exception):
    """An HTTP answer with a plain-text body (the reference writes error bodies as plain text).

    `text` is sent as is: no trailing newline is added, matching the reference's `fmt.Fprintf(w, "%v", err)`.
    """

    def __init__(self, status: int, text: str = "") -> None:
        super().__init__(text or f"HTTP {status}")
        self.status = status
        self.text = text
