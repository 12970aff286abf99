#!/usr/bin/env python3
"""Sends a fiber-signed Score Vision challenge, or a deliberately bad one.

An independent client for the gateway: it signs exactly as fiber's validator
side does (fiber/validator/client.py + fiber/chain/signatures.py, with
substrate-interface 1.7.10's sr25519 Keypair), so the Rust gateway is checked
against the real wire format rather than against itself.

    body      = json.dumps(payload).encode()
    nonce     = f"{time.time_ns()}_{10 random alphanumerics}"
                (--bare-nonce: str(time.time_ns()), as Score's newer validators send)
    message   = f"{nonce}:{miner_hotkey}:{sha256(body).hexdigest()}"
    signature = "0x" + keypair.sign(message).hex()
    headers   = validator-hotkey, miner-hotkey, nonce, signature

Each request prints one JSON line: {"case", "status", "body"}. With
--then-valid a valid request follows the case, to show the server still
serves. Exit status 0 unless the server could not be reached.

Example (miner hotkey of //Bob, validator //Alice):

    .venv-fiber/bin/python tests/fiber/sign_and_send.py \\
        --url http://127.0.0.1:7999 \\
        --miner-hotkey 5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty \\
        --video-url https://example.com/clip.mp4
"""

import argparse
import asyncio
import datetime
import hashlib
import json
import random
import string
import sys
import time

import httpx
from substrateinterface import Keypair

CASES = [
    "valid",
    "missing-header",
    "malformed-ss58",
    "bad-signature-hex",
    "wrong-length-signature",
    "other-key",
    "body-changed",
    "stale-nonce",
    "future-nonce",
    "malformed-nonce",
    "absurd-nonce",
    "replay",
    "wrong-miner",
    "no-video-url",
    "concurrent",
]


# --bare-nonce: nonces without the random suffix.
BARE_NONCE = False

# fiber refuses nonce timestamps above this (nonce_management.py: `timestamp_ns > 10**20`).
FIBER_MAX_TIMESTAMP_NS = 10**20


def with_suffix(ts: int) -> str:
    """fiber's form, `{ts}_{10 random alphanumerics}`, or the bare `{ts}` with --bare-nonce."""
    if BARE_NONCE:
        return str(ts)
    rand = "".join(random.choices(string.ascii_letters + string.digits, k=10))
    return f"{ts}_{rand}"


def nonce(offset_s: float = 0.0) -> str:
    """fiber's nonce: unix ns, '_', 10 random alphanumerics (Score's newer validators: unix ns alone)."""
    return with_suffix(time.time_ns() + int(offset_s * 1e9))


def sign(keypair: Keypair, message: str) -> str:
    return "0x" + keypair.sign(message).hex()


def signed_request(
    signer: Keypair,
    validator_hotkey: str,
    miner_hotkey: str,
    payload: dict,
    nonce_value: str,
) -> tuple[bytes, dict]:
    body = json.dumps(payload).encode()
    message = f"{nonce_value}:{miner_hotkey}:{hashlib.sha256(body).hexdigest()}"
    headers = {
        "Content-Type": "application/json",
        "validator-hotkey": validator_hotkey,
        "signature": sign(signer, message),
        "miner-hotkey": miner_hotkey,
        "nonce": nonce_value,
    }
    return body, headers


def corrupt_ss58(address: str) -> str:
    """Same length, last character changed: the checksum no longer matches."""
    last = "2" if address[-1] != "2" else "3"
    return address[:-1] + last


def payload(args, challenge_id: str, with_video: bool = True) -> dict:
    p = {
        "challenge_id": challenge_id,
        "type": "gsr",
        "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
    }
    if with_video:
        p["video_url"] = args.video_url
    return p


def build(args, case: str, index: int) -> list[tuple[bytes, dict]]:
    """The request(s) a case sends, in order."""
    validator = Keypair.create_from_uri(args.validator_uri)
    challenge_id = f"{args.challenge_id}-{case}-{index}"
    body, headers = signed_request(
        validator, validator.ss58_address, args.miner_hotkey, payload(args, challenge_id), nonce()
    )
    if case == "valid":
        pass
    elif case == "missing-header":
        del headers[args.drop_header]
    elif case == "malformed-ss58":
        headers["validator-hotkey"] = corrupt_ss58(validator.ss58_address)
    elif case == "bad-signature-hex":
        headers["signature"] = "0x" + "zz" * 64
    elif case == "wrong-length-signature":
        headers["signature"] = headers["signature"][:-2]
    elif case == "other-key":
        other = Keypair.create_from_uri("//Eve")
        body, headers = signed_request(
            other, validator.ss58_address, args.miner_hotkey, payload(args, challenge_id), nonce()
        )
    elif case == "body-changed":
        body = body.replace(challenge_id.encode(), (challenge_id + "x").encode())
    elif case in ("stale-nonce", "future-nonce", "malformed-nonce", "absurd-nonce"):
        bad = {
            "stale-nonce": nonce(-200),
            "future-nonce": nonce(200),
            "malformed-nonce": "notatime_abcdefghij",
            "absurd-nonce": with_suffix(FIBER_MAX_TIMESTAMP_NS + 1),
        }[case]
        body, headers = signed_request(
            validator, validator.ss58_address, args.miner_hotkey, payload(args, challenge_id), bad
        )
    elif case == "replay":
        return [(body, headers), (body, dict(headers))]
    elif case == "wrong-miner":
        other_miner = Keypair.create_from_uri("//Ferdie").ss58_address
        body, headers = signed_request(
            validator, validator.ss58_address, other_miner, payload(args, challenge_id), nonce()
        )
    elif case == "no-video-url":
        body, headers = signed_request(
            validator, validator.ss58_address, args.miner_hotkey, payload(args, challenge_id, False), nonce()
        )
    elif case == "concurrent":
        requests = []
        for i in range(args.concurrent):
            requests.append(
                signed_request(
                    validator,
                    validator.ss58_address,
                    args.miner_hotkey,
                    payload(args, f"{challenge_id}-{i}"),
                    nonce(),
                )
            )
        return requests
    else:
        raise SystemExit(f"unknown case {case!r}")
    return [(body, headers)]


def decode(response: httpx.Response):
    try:
        return response.json()
    except ValueError:
        return response.text


async def send_all(client: httpx.AsyncClient, url: str, requests, at_once: bool) -> list[httpx.Response]:
    async def one(body, headers):
        return await client.post(url, content=body, headers=headers)

    if at_once:
        return list(await asyncio.gather(*(one(b, h) for b, h in requests)))
    return [await one(b, h) for b, h in requests]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="miner base URL, e.g. http://127.0.0.1:7999")
    parser.add_argument("--miner-hotkey", required=True, help="the miner's ss58 address")
    parser.add_argument("--video-url", default="https://example.com/clip.mp4")
    parser.add_argument("--validator-uri", default="//Alice", help="signing key (substrate URI)")
    parser.add_argument("--case", default="valid", choices=CASES)
    parser.add_argument("--drop-header", default="nonce", help="header missing-header removes")
    parser.add_argument("--bare-nonce", action="store_true",
                        help="nonces without the '_suffix': str(time.time_ns()), as Score's newer validators send")
    parser.add_argument("--concurrent", type=int, default=2, help="requests the concurrent case sends at once")
    parser.add_argument("--then-valid", action="store_true", help="send a valid request after the case")
    parser.add_argument("--valid-video-url", help="video URL of the --then-valid request (default: --video-url)")
    parser.add_argument("--repeat", type=int, default=1, help="send the case (and follow-up) this many times on one connection")
    parser.add_argument("--challenge-id", default="fiber-test")
    parser.add_argument("--timeout", type=float, default=240.0)
    args = parser.parse_args()
    global BARE_NONCE
    BARE_NONCE = args.bare_nonce

    endpoint = args.url.rstrip("/") + "/soccer/challenge"
    plan = []
    for i in range(args.repeat):
        plan.append((args.case, build(args, args.case, 2 * i)))
        if args.then_valid:
            follow_up = argparse.Namespace(**vars(args))
            follow_up.video_url = args.valid_video_url or args.video_url
            follow_up.validator_uri = "//Alice" if args.valid_video_url else args.validator_uri
            plan.append(("then-valid", build(follow_up, "valid", 2 * i + 1)))
    try:
        async with httpx.AsyncClient(timeout=args.timeout) as client:
            for case, requests in plan:
                responses = await send_all(client, endpoint, requests, at_once=(case == "concurrent"))
                for response in responses:
                    line = {"case": case, "status": response.status_code, "body": decode(response)}
                    print(json.dumps(line), flush=True)
    except httpx.HTTPError as e:
        print(f"sign_and_send: {endpoint}: {e!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
