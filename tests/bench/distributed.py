"""Distributed-mode rows for bench.py: `scorevision decode`, `infer` and
`track` as three processes on loopback, asked by `scorevision ask` (the
gateway in front only adds signing), with frames inline or through the
shared-memory ring. Each run also runs the embedded pipeline
(`scorevision process`), alternating, so the ratio distributed / embedded is
measured under the same load.
"""
import json
import os
import re
import socket
import statistics
import subprocess
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stages:
    """The three stage processes, started on enter and killed on exit."""

    def __init__(self, ctx, transport, scratch):
        self.ctx, self.transport, self.scratch = ctx, transport, scratch
        self.procs, self.logs = [], {}

    def start(self, name, args):
        log = os.path.join(self.scratch, f"{name}.log")
        self.logs[name] = log
        env = dict(os.environ, RUST_LOG="info,ort=warn", NO_COLOR="1")
        with open(log, "w") as f:
            self.procs.append(subprocess.Popen([self.ctx.scorevision, name, *args], stdout=f, stderr=f, env=env))

    def wait_serving(self, name, timeout=300):
        deadline = time.time() + timeout
        while "Warm; SERVING." not in open(self.logs[name]).read():
            if time.time() > deadline or any(p.poll() is not None for p in self.procs):
                raise SystemExit(f"bench: {name} did not start:\n{open(self.logs[name]).read()[-3000:]}")
            time.sleep(0.1)

    def __enter__(self):
        shm = os.path.join(self.scratch, "shm")
        os.makedirs(shm, exist_ok=True)
        decode, infer, track = free_port(), free_port(), free_port()
        self.start("decode", ["--listen", f"127.0.0.1:{decode}", "--shm-dir", shm])
        self.start("infer", ["--listen", f"127.0.0.1:{infer}", "--decode", f"http://127.0.0.1:{decode}",
                             "--frame-transport", self.transport, "--shm-dir", shm, "--player", self.ctx.player,
                             "--pitch", self.ctx.pitch, "--providers", "cpu", *self.ctx.settings])
        self.start("track", ["--listen", f"127.0.0.1:{track}", "--infer", f"http://127.0.0.1:{infer}"])
        for name in ("decode", "infer", "track"):
            self.wait_serving(name)
        self.track = f"http://127.0.0.1:{track}"
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
            p.wait()

    def wire_bytes_per_frame(self):
        found = re.findall(r"wire_bytes_per_frame=(\d+)", open(self.logs["infer"]).read())
        return int(found[-1]) if found else None


def distributed_row(transport, result_type, run_measured):
    def row(ctx):
        seconds, ratios, frames, wire = [], [], 0, None
        with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as scratch:
            with Stages(ctx, transport, scratch) as stages:
                for _ in range(ctx.runs):
                    out = os.path.join(scratch, "result.json")
                    run_measured([ctx.scorevision, "ask", ctx.clip, "--track", stages.track, "--out", out])
                    with open(out) as f:
                        response = json.load(f)
                    t, frames = response["processing_time"], len(response["frames"])
                    embedded, _, _ = ctx.ours(ctx.clip)
                    seconds.append(t)
                    ratios.append(t / embedded)
                wire = stages.wire_bytes_per_frame()
        ratio = statistics.median(ratios)
        note = (f"decode, infer, track as 3 processes, frames {transport}: {wire} bytes/frame on the wire; "
                f"**{ratio:.2f}x** the embedded time (median of per-run ratios, embedded run alternately)")
        return result_type(seconds, frames, note, {"x_embedded": ratio, "wire_bytes_per_frame": wire})

    row.__name__ = f"row_distributed_{transport}"
    return row
