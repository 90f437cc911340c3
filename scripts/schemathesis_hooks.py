"""Schemathesis hooks for scripts/contract-test: every /api/v1/ request is signed as a Calypso client signs it.

Loaded with SCHEMATHESIS_HOOKS=schemathesis_hooks (scripts/ on PYTHONPATH). Credentials come from
SWAPLINE_ACCOUNT, SWAPLINE_KEY and SWAPLINE_SECRET.

`Sign` is lowercase hex HMAC-SHA512 over the exact body bytes, keyed with the secret's ASCII text.
Schemathesis serializes the body itself, so the signature is computed by a `requests` auth hook on
the prepared request, which holds the final bytes that go on the wire; nothing is re-serialized.

Before the call, a JSON-object body gets the account of the key and a fresh timestamp, so that
generated requests reach the method instead of all stopping at `002` (random account) or `011`
(random timestamp). Values of the wrong type (an `account` that is not a string, a `timestamp` that
is not an integer) and missing fields are left as generated, so the server's `001` for them is
exercised too. Timestamps strictly increase, so two identical bodies never share a signature and
are never refused as replays (`106`).
"""
import hashlib
import hmac
import os
import threading
import time

import requests
import schemathesis

ACCOUNT = os.environ["SWAPLINE_ACCOUNT"]
KEY = os.environ["SWAPLINE_KEY"]
SECRET = os.environ["SWAPLINE_SECRET"]


class CalypsoSign(requests.auth.AuthBase):
    """Sets `Key` and `Sign` on a prepared request, over the body bytes it will send.

    Only the headers the case carries are set: a case that leaves `Key` or `Sign` out on purpose
    (schemathesis' negative tests and its missing-header check) is sent without it.
    """

    def __init__(self, key: bool, sign: bool):
        self.key = key
        self.sign = sign

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            # requests sends a str body encoded as UTF-8 only when it encoded it itself; a str left
            # here would go out as ISO-8859-1, so send UTF-8 bytes and sign those.
            body = body.encode("utf-8")
            request.body = body
            request.headers["Content-Length"] = str(len(body))
        if self.key:
            request.headers["Key"] = KEY
        if self.sign:
            request.headers["Sign"] = hmac.new(SECRET.encode("ascii"), body, hashlib.sha512).hexdigest()
        return request
_clock_lock = threading.Lock()
_last_timestamp = 0


def fresh_timestamp() -> int:
    """Milliseconds since 1970, strictly increasing across the run's worker threads."""
    global _last_timestamp
    with _clock_lock:
        _last_timestamp = max(int(time.time() * 1000), _last_timestamp + 1)
        return _last_timestamp


@schemathesis.hook
def before_call(context, case, kwargs):
    if not case.operation.path.startswith("/api/v1/"):
        return  # /health, /ready, /metrics, /openapi.yaml take no signature
    if isinstance(case.body, dict):
        if isinstance(case.body.get("account"), str):
            case.body["account"] = ACCOUNT
        timestamp = case.body.get("timestamp")
        if isinstance(timestamp, int) and not isinstance(timestamp, bool):
            case.body["timestamp"] = fresh_timestamp()
    # Schemathesis generates the security headers as parameters: a generated value is replaced by
    # the real one, an absent header stays absent.
    headers = {name.lower() for name in (case.headers or {})}
    kwargs["auth"] = CalypsoSign(key="key" in headers, sign="sign" in headers)
