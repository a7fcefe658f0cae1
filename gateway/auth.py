"""Bearer-token authentication with the reference's answers (spec §4.1)."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from gateway.errors import GatewayError

_PREFIX = "Bearer "

# The reference writes these with its JSON encoder: a quoted JSON string and a newline.
TOKEN_NOT_FOUND = '"token not found"\n'
MISSING_PREFIX = '"missing \\"Bearer \\" prefix"\n'
INVALID_TOKEN = '"invalid token"\n'


def check(authorization: str | None, tokens: Sequence[str]) -> None:
    """Raises GatewayError(403) unless the Authorization header carries one of `tokens`.

    No tokens configured means no authentication (the reference with an empty --bearer-auth)."""
    if not tokens:
        return
    if not authorization:
        raise GatewayError(403, TOKEN_NOT_FOUND)
    # Case-sensitive prefix with exactly one space, as the reference.
    if not authorization.startswith(_PREFIX):
        raise GatewayError(403, MISSING_PREFIX)
    given = authorization[len(_PREFIX) :].encode()
    # Compare with every token in constant time so the answer time does not leak which one is close.
    matches = [hmac.compare_digest(given, token.encode()) for token in tokens]
    if not any(matches):
        raise GatewayError(403, INVALID_TOKEN)
