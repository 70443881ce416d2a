"""Standard Webhooks signatures (docs/webhooks.md#signatures): sign and verify, standard
library only.

A delivery carries `webhook-id`, `webhook-timestamp` (unix seconds) and
`webhook-signature`, a space-separated list of `v1,<base64 HMAC-SHA256>` entries over
`{id}.{timestamp}.{raw body}`, keyed with the base64 part of a `whsec_` secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Iterable
from dataclasses import dataclass

SECRET_PREFIX = "whsec_"
VERSION = "v1"
# Both ways: an old delivery may be a replayed capture, a future one a skewed clock.
TOLERANCE_SECONDS = 5 * 60
MAX_ID_LENGTH = 255  # webhook_event.webhook_id


class SignatureError(Exception):
    """The delivery cannot be trusted; the message says why (never which secret)."""


@dataclass(frozen=True)
class SignedHeaders:
    msg_id: str
    timestamp: int
    # The raw header value: the timestamp is signed as sent, not as re-formatted.
    timestamp_text: str
    signatures: tuple[str, ...]


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_` secret: the base64 after the prefix, decoded strictly
    (a character outside the alphabet is an error, not skipped). The `=` padding may be
    left out: the reference libraries pad what they are given, so a secret written
    without it must verify here as it does there. Padding that is written must be
    complete; one `=` short is more likely a secret cut off in copying."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    if "=" not in encoded:
        encoded += "=" * (-len(encoded) % 4)
    return base64.b64decode(encoded, validate=True)


def _digest(key: bytes, msg_id: str, timestamp: str, body: bytes) -> bytes:
    content = f"{msg_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(key, content, hashlib.sha256).digest())


def sign(secret: str, msg_id: str, timestamp: int | str, body: bytes | str) -> str:
    """The `webhook-signature` value a sender puts on `body` (one `v1,` entry)."""
    raw = body.encode() if isinstance(body, str) else body
    return f"{VERSION}," + _digest(secret_key(secret), msg_id, str(timestamp), raw).decode()


def read_headers(msg_id: str | None, timestamp: str | None, signature: str | None) -> SignedHeaders:
    """The three headers, present and well-formed, or a SignatureError naming the fault."""
    for name, value in (
        ("webhook-id", msg_id),
        ("webhook-timestamp", timestamp),
        ("webhook-signature", signature),
    ):
        if value is None or not value.strip():
            raise SignatureError(f"the {name} header is missing")
    assert msg_id is not None and timestamp is not None and signature is not None
    if len(msg_id) > MAX_ID_LENGTH:
        raise SignatureError(f"the webhook-id header is longer than {MAX_ID_LENGTH} characters")
    text = timestamp.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise SignatureError("the webhook-timestamp header is not unix seconds")
    entries = tuple(part for part in signature.split(" ") if part)
    return SignedHeaders(msg_id, int(text), text, entries)


def check_timestamp(timestamp: int, *, now: float | None = None) -> None:
    current = time.time() if now is None else now
    if abs(current - timestamp) > TOLERANCE_SECONDS:
        raise SignatureError(
            "the webhook-timestamp is more than 5 minutes away from the server's clock"
        )


def verify(headers: SignedHeaders, body: bytes, secrets: Iterable[str]) -> None:
    """Accept when any listed v1 signature matches any of the secrets (rotation keeps two
    valid). Every comparison is constant-time, and every pair is compared, so the time
    taken says nothing about which one matched."""
    presented = []
    for entry in headers.signatures:
        version, _, value = entry.partition(",")
        if version == VERSION and value:
            presented.append(value.encode("latin-1", errors="replace"))
    matched = False
    for secret in secrets:
        try:
            key = secret_key(secret)
        except (binascii.Error, ValueError):  # a stored secret is validated on the way in
            continue
        expected = _digest(key, headers.msg_id, headers.timestamp_text, body)
        for candidate in presented:
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureError("no webhook-signature matches the vendor's secret")
