#!/usr/bin/env python3
"""Walks Swapline's exchange flow against a running server, printing every response.

    ./scripts/run                  # in one terminal
    python3 scripts/example.py     # in another

Credentials come from .swapline/demo.json (written by ./scripts/run) or from the environment:
SWAPLINE_URL (default http://127.0.0.1:8080), SWAPLINE_ACCOUNT, SWAPLINE_KEY, SWAPLINE_SECRET.
Standard library only. Exits non-zero on an error response, a FAILED exchange or a timeout.
"""
import decimal
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid

DEMO_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".swapline", "demo.json")


def load_credentials():
    demo = {}
    if os.path.exists(DEMO_FILE):
        with open(DEMO_FILE) as file:
            demo = json.load(file)
    credentials = {
        "url": os.environ.get("SWAPLINE_URL") or demo.get("url") or "http://127.0.0.1:8080",
        "account": os.environ.get("SWAPLINE_ACCOUNT") or demo.get("account"),
        "key": os.environ.get("SWAPLINE_KEY") or demo.get("key"),
        "secret": os.environ.get("SWAPLINE_SECRET") or demo.get("secret"),
    }
    if not all(credentials.values()):
        sys.exit("no credentials: run ./scripts/run first (it writes .swapline/demo.json) "
                 "or set SWAPLINE_ACCOUNT, SWAPLINE_KEY and SWAPLINE_SECRET")
    return credentials


def call(credentials, method, payload=None):
    """POSTs one signed request; returns the response with amounts as exact Decimals."""
    envelope = {"account": credentials["account"], "timestamp": int(time.time() * 1000), "payload": payload or {}}
    body = json.dumps(envelope).encode()  # serialized once: these exact bytes are signed and sent
    sign = hmac.new(credentials["secret"].encode("ascii"), body, hashlib.sha512).hexdigest()
    request = urllib.request.Request(
        credentials["url"].rstrip("/") + "/api/v1/" + method,
        data=body,
        method="POST",
        headers={"Key": credentials["key"], "Sign": sign, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode()
    except urllib.error.HTTPError as error:
        sys.exit(f"POST /api/v1/{method} → HTTP {error.code}: {error.read().decode()}")
    except urllib.error.URLError as error:
        sys.exit(f"cannot reach {credentials['url']}: {error.reason} (is ./scripts/run running?)")
    print(f"POST /api/v1/{method} {json.dumps(payload or {})}\n  → {text}\n")
    return json.loads(text, parse_float=decimal.Decimal)  # JSON numbers, never rounded through float


def main():
    credentials = load_credentials()
    pair = {"sourceCurrency": "USDT_TRX", "destinationCurrency": "BTC"}
    call(credentials, "account")
    call(credentials, "exchange/pairs")
    call(credentials, "exchange/limit", pair)
    quote = call(credentials, "exchange/pre-calculate", {**pair, "amount": 100, "direction": "SELL"})
    exchange = call(credentials, "exchange/create", {
        **pair,
        "amount": 100,
        "quoteId": quote["quoteId"],
        "idempotencyKey": f"example-{uuid.uuid4()}",  # a retry with the same key never executes twice
    })
    deadline = time.monotonic() + 30
    while exchange["state"] not in ("COMPLETED", "FAILED"):
        if time.monotonic() > deadline:
            sys.exit(f"exchange {exchange['id']} is still {exchange['state']} after 30 s")
        time.sleep(1)
        exchange = call(credentials, "exchange/get", {"id": exchange["id"]})
    if exchange["state"] == "FAILED":
        sys.exit(f"exchange {exchange['id']} failed: {exchange.get('failureReason')}")
    print(f"exchange {exchange['id']} completed: sold {exchange['sourceAmount']} {exchange['sourceCurrency']}, "
          f"received {exchange['destinationAmount']} {exchange['destinationCurrency']} (fee {exchange['fee']})")


if __name__ == "__main__":
    main()
