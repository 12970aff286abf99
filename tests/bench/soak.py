#!/usr/bin/env python3
"""`make bench` soak: does the miner hold its memory over hundreds of challenges?

Sends --challenges (200) fiber-signed challenges, one after the other, through
the embedded miner (`scorevision serve`) and through the four processes of the
distributed mode (`decode`, `infer`, `track`, `gateway`), the video each time
downloaded from a loopback server as a validator's URL would be. Reads each
process's resident memory (VmRSS) and open descriptors before the first
challenge and after a quarter, half and all of them (0/50/100/200; the JSON
also has a sample every --every challenges), and calls
a process flat when its RSS after the last challenge is within --tolerance
(10%) of its RSS after the first quarter and its /metrics writes as many
samples as it did then (no series per challenge or per URL) (the warm-up: allocator arenas,
ONNX Runtime's buffers and GStreamer's plugins settle in the first ones).
A leak of the size issue 12 found (8-15 MB per clip) adds 1.2 GB over 150
challenges, far past 10%.

The clip is the fixture clip cut to --frames (10) frames: a leak is per clip,
not per frame, and short clips make 200 challenges a few minutes.

Runs under the fiber client's virtualenv (tests/fiber/setup.sh, `make
test-deps`): challenges are signed by tests/fiber/sign_and_send.py's own
functions, exactly as a validator signs them. Writes the table to
out/bench/soak.md and every sample to out/bench/soak.json.
"""
import argparse
import datetime
import http.server
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time

import httpx
from substrateinterface import Keypair

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "fiber"))
import sign_and_send as fiber  # noqa: E402  (the independent signing client)

FIXTURES = os.path.join(ROOT, "tests", "fixtures")
BOB = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"  # the miner's hotkey (//Bob)


def log(*a):
    print("[soak]", *a, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def short_clip(scratch, frames):
    """The fixture clip's first `frames` frames (stream copy, index first so it decodes while downloading)."""
    out = os.path.join(scratch, "clips", f"sample_720p-{frames}f.mp4")
    if not os.path.isfile(out):
        os.makedirs(os.path.dirname(out), exist_ok=True)
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", os.path.join(FIXTURES, "clip", "sample_720p.mp4"),
                        "-frames:v", str(frames), "-c", "copy", "-an", "-movflags", "+faststart", out], check=True)
    return out


def serve_clip(path):
    """The clip at http://127.0.0.1:PORT/clip.mp4 from a thread of this process."""
    body = open(path, "rb").read()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/clip.mp4":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/clip.mp4"


def gateway_config(scratch, port):
    """Loopback port, //Bob as our hotkey, //Alice staked (a static stake file)."""
    alice = Keypair.create_from_uri("//Alice").ss58_address
    stakes = os.path.join(scratch, "stakes.json")
    with open(stakes, "w") as f:
        json.dump({alice: 5000.0}, f)
    path = os.path.join(scratch, "gateway.toml")
    with open(path, "w") as f:
        f.write(f'host = "127.0.0.1"\nport = {port}\nmax_concurrent = 1\nqueue_depth = 1\n\n'
                f'[hotkey]\nss58 = "{BOB}"\n\n[stake]\nsource = "static"\nfile = "{stakes}"\n')
    return path


class Processes:
    """`scorevision` processes by name, each logging to scratch/<name>.log; killed on exit."""

    def __init__(self, binary, scratch):
        self.binary, self.scratch = binary, scratch
        self.procs, self.logs = {}, {}
        # name -> host:port of its GET /metrics (the gateway's is the API port).
        self.metrics = {}

    def start(self, name, args, metrics=None):
        if metrics:
            self.metrics[name] = metrics
        self.logs[name] = os.path.join(self.scratch, f"{name}.log")
        env = dict(os.environ, RUST_LOG="info,ort=warn", NO_COLOR="1")
        with open(self.logs[name], "w") as f:
            self.procs[name] = subprocess.Popen([self.binary, *args], stdout=f, stderr=f, env=env, cwd=ROOT)

    def check_alive(self):
        for name, p in self.procs.items():
            if p.poll() is not None:
                sys.exit(f"soak: {name} exited with {p.returncode}:\n{self.tail(name)}")

    def tail(self, name, chars=3000):
        with open(self.logs[name]) as f:
            return f.read()[-chars:]

    def wait_ready(self, gateway, timeout=300):
        deadline = time.time() + timeout
        while True:
            self.check_alive()
            try:
                if httpx.get(f"http://{gateway}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                sys.exit("soak: not ready:\n" + "\n".join(f"--- {n}\n{self.tail(n)}" for n in self.procs))
            time.sleep(0.2)

    def memory(self):
        """{name: (RSS MB, open descriptors)} now."""
        out = {}
        for name, p in self.procs.items():
            with open(f"/proc/{p.pid}/status") as f:
                rss_kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
            out[name] = (rss_kb / 1024.0, len(os.listdir(f"/proc/{p.pid}/fd")), self.series(name))
        return out

    def series(self, name):
        """How many samples the process's /metrics writes (None without a port): a count that
        grows with the challenges would mean a label per challenge or per URL."""
        addr = self.metrics.get(name)
        if addr is None:
            return None
        text = httpx.get(f"http://{addr}/metrics", timeout=5).text
        return sum(1 for line in text.splitlines() if line and not line.startswith("#"))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in self.procs.values():
            p.kill()
            p.wait()


def start_embedded(procs, ctx, port):
    procs.start("serve", ["serve", "--config", gateway_config(ctx.scratch, port), *ctx.models,
                          "--allow-net", "127.0.0.1/32"], metrics=f"127.0.0.1:{port}")


def start_distributed(procs, ctx, port):
    shm = os.path.join(ctx.scratch, "shm")
    os.makedirs(shm, exist_ok=True)
    decode, infer, track = free_port(), free_port(), free_port()
    # Metrics on free ports: each stage's default is one fixed port.
    metrics = {name: f"127.0.0.1:{free_port()}" for name in ("decode", "infer", "track")}
    procs.start("decode", ["decode", "--listen", f"127.0.0.1:{decode}", "--metrics-listen", metrics["decode"],
                           "--shm-dir", shm, "--allow-net", "127.0.0.1/32"], metrics=metrics["decode"])
    procs.start("infer", ["infer", "--listen", f"127.0.0.1:{infer}", "--metrics-listen", metrics["infer"],
                          "--decode", f"http://127.0.0.1:{decode}", "--frame-transport", ctx.transport,
                          "--shm-dir", shm, *ctx.models], metrics=metrics["infer"])
    procs.start("track", ["track", "--listen", f"127.0.0.1:{track}", "--metrics-listen", metrics["track"],
                          "--infer", f"http://127.0.0.1:{infer}"], metrics=metrics["track"])
    procs.start("gateway", ["gateway", "--track", f"http://127.0.0.1:{track}",
                            "--config", gateway_config(ctx.scratch, port)], metrics=f"127.0.0.1:{port}")


def challenge(client, gateway, video_url, challenge_id):
    validator = Keypair.create_from_uri("//Alice")
    payload = {"challenge_id": challenge_id, "type": "gsr", "video_url": video_url,
               "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat()}
    body, headers = fiber.signed_request(validator, validator.ss58_address, BOB, payload, fiber.nonce())
    return client.post(f"http://{gateway}/soccer/challenge", content=body, headers=headers)


def soak(ctx, mode, start):
    """One mode: start its processes, send the challenges, sample memory at the checkpoints."""
    scratch = os.path.join(ctx.scratch, mode)
    os.makedirs(scratch, exist_ok=True)
    port = free_port()
    checkpoints = sorted({0, ctx.challenges // 4, ctx.challenges // 2, ctx.challenges})
    samples, times, failures, curve = {}, [], [], []
    with Processes(ctx.binary, scratch) as procs:
        mode_ctx = argparse.Namespace(**{**vars(ctx), "scratch": scratch})
        start(procs, mode_ctx, port)
        gateway = f"127.0.0.1:{port}"
        procs.wait_ready(gateway)
        samples[0] = procs.memory()
        log(f"{mode}: ready; {fmt(samples[0])}")
        began = time.time()
        with httpx.Client(timeout=240) as client:
            for i in range(1, ctx.challenges + 1):
                r = challenge(client, gateway, ctx.video_url, f"soak-{mode}-{i}")
                body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
                frames = len(body.get("frames", [])) if r.status_code == 200 else 0
                if r.status_code != 200 or frames != ctx.frames:
                    failures.append((i, r.status_code, frames, str(body.get("detail", r.text))[:300]))
                    log(f"{mode}: challenge {i}: {r.status_code}, {frames} frames: {failures[-1][3]}")
                else:
                    times.append(body["processing_time"])
                if i in checkpoints:
                    procs.check_alive()
                    samples[i] = procs.memory()
                    log(f"{mode}: {i} challenges; {fmt(samples[i])}")
                if i % ctx.every == 0:
                    curve.append((i, samples.get(i) or procs.memory()))
        wall = time.time() - began
    return {"checkpoints": checkpoints, "samples": samples, "curve": curve, "failures": failures, "wall_s": wall,
            "processing_time_median": statistics.median(times) if times else None}


def fmt(sample):
    return ", ".join(f"{n} {rss:.0f} MB/{fds} fds/{series} series" for n, (rss, fds, series) in sample.items())


def verdicts(result, tolerance):
    """{process: (growth after warm-up, flat)}: RSS at the end against RSS after the first quarter,
    and the metrics' sample count the same at both (bounded cardinality)."""
    cps = result["checkpoints"]
    warm, last = result["samples"][cps[1]], result["samples"][cps[-1]]
    out = {}
    for name in last:
        growth = last[name][0] / warm[name][0] - 1.0
        out[name] = (growth, growth <= tolerance and last[name][2] == warm[name][2])
    return out


def table(results, ctx):
    lines = [
        f"# make bench: soak, {ctx.challenges} challenges of {ctx.frames} frames each",
        "",
        f"{datetime.datetime.now().isoformat(timespec='seconds')}, {platform.node()}, {os.cpu_count()} CPUs; "
        f"fixture models, CPU; challenges signed by the fiber client, one at a time; the clip downloaded "
        f"from loopback each time; distributed frames {ctx.transport}",
        "",
    ]
    for mode, result in results.items():
        cps = result["checkpoints"]
        head = " | ".join(f"RSS at {c}" for c in cps)
        lines += [f"## {mode}", "",
                  f"| process | {head} | after warm-up ({cps[1]} -> {cps[-1]}) | descriptors ({' / '.join(map(str, cps))}) "
                  f"| metrics samples ({' / '.join(map(str, cps))}) |",
                  "|---|" + "---:|" * len(cps) + "---|---|---|"]
        verdict = verdicts(result, ctx.tolerance)
        for name in result["samples"][0]:
            rss = " | ".join(f"{result['samples'][c][name][0]:.0f} MB" for c in cps)
            fds = " / ".join(str(result["samples"][c][name][1]) for c in cps)
            series = " / ".join(str(result["samples"][c][name][2]) for c in cps)
            growth, flat = verdict[name]
            lines.append(f"| {name} | {rss} | {growth:+.1%} ({'flat' if flat else '**grows**'}) | {fds} | {series} |")
        median = result["processing_time_median"]
        timing = f", median processing_time {median:.3f} s" if median is not None else ""
        lines += ["", f"- {len(result['failures'])} failed challenges; {result['wall_s']:.0f} s for all{timing}", ""]
    flat = all(f for r in results.values() for _, f in verdicts(r, ctx.tolerance).values())
    failed = sum(len(r["failures"]) for r in results.values())
    ok = flat and failed == 0
    lines.append(f"Verdict: every process {'flat' if flat else '**not** flat'} within {ctx.tolerance:.0%} "
                 f"after warm-up, its metrics' sample count unchanged; {failed} failed challenges.")
    return "\n".join(lines) + "\n", ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--challenges", type=int, default=200)
    ap.add_argument("--frames", type=int, default=10, help="frames of the clip each challenge sends")
    ap.add_argument("--modes", default="embedded,distributed")
    ap.add_argument("--transport", default="shm", choices=["inline", "shm"], help="frames between decode and infer")
    ap.add_argument("--tolerance", type=float, default=0.10, help="RSS growth allowed after warm-up")
    ap.add_argument("--every", type=int, default=10, help="also sample every N challenges (the JSON's curve)")
    ap.add_argument("--scratch", default=os.path.join(ROOT, "out", "bench", "soak"))
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "bench", "soak"), help="report path without extension")
    args = ap.parse_args()
    if args.challenges < 4:
        sys.exit("soak: --challenges must be at least 4")
    os.makedirs(args.scratch, exist_ok=True)
    ctx = argparse.Namespace(**vars(args))
    ctx.binary = os.path.join(ROOT, "target", "release", "scorevision")
    if not os.access(ctx.binary, os.X_OK):
        sys.exit(f"soak: {ctx.binary} missing (make bench builds it)")
    ctx.models = ["--player", os.path.join(FIXTURES, "models", "players.onnx"),
                  "--pitch", os.path.join(FIXTURES, "models", "pitch.onnx"), "--providers", "cpu"]
    server, ctx.video_url = serve_clip(short_clip(args.scratch, args.frames))
    modes = {"embedded": ("embedded (scorevision serve)", start_embedded),
             "distributed": ("distributed (decode, infer, track, gateway)", start_distributed)}
    results = {}
    try:
        for mode in args.modes.split(","):
            title, start = modes[mode]
            log(f"{title}: {args.challenges} challenges")
            results[title] = soak(ctx, mode, start)
    finally:
        server.shutdown()
    report, ok = table(results, ctx)
    print(report)
    with open(args.out + ".md", "w") as f:
        f.write(report)
    with open(args.out + ".json", "w") as f:
        json.dump({"challenges": args.challenges, "frames": args.frames, "transport": args.transport,
                   "tolerance": args.tolerance,
                   "modes": {m: {**r, "verdicts": verdicts(r, args.tolerance)} for m, r in results.items()}},
                  f, indent=1)
    log(f"wrote {args.out}.md and {args.out}.json")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
