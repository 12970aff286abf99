"""Distributed-mode rows for bench.py: `scorevision decode`, `infer` and
`track` as three processes on loopback, asked by `scorevision ask` (the
gateway in front only adds signing), with frames inline or through the
shared-memory ring. The processes start in the first round and serve every
round; the embedded pipeline (`scorevision process`) runs in the same rounds,
so the ratio distributed / embedded is measured under the same load.
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
        while "Warm; SERVING" not in open(self.logs[name]).read():
            if time.time() > deadline or any(p.poll() is not None for p in self.procs):
                raise SystemExit(f"bench: {name} did not start:\n{open(self.logs[name]).read()[-3000:]}")
            time.sleep(0.1)

    def __enter__(self):
        shm = os.path.join(self.scratch, "shm")
        os.makedirs(shm, exist_ok=True)
        decode, infer, track = free_port(), free_port(), free_port()
        # `ask` names the clip by its path: this decode reads local files.
        # Metrics on free ports: each stage's default is one fixed port.
        metrics = lambda: ["--metrics-listen", f"127.0.0.1:{free_port()}"]  # noqa: E731
        self.start("decode", ["--listen", f"127.0.0.1:{decode}", *metrics(), "--shm-dir", shm, "--allow-local-files"])
        self.start("infer", ["--listen", f"127.0.0.1:{infer}", *metrics(), "--decode", f"http://127.0.0.1:{decode}",
                             "--frame-transport", self.transport, "--shm-dir", shm, "--player", self.ctx.player,
                             "--pitch", self.ctx.pitch, "--providers", "cpu", *self.ctx.settings])
        self.start("track", ["--listen", f"127.0.0.1:{track}", *metrics(), "--infer", f"http://127.0.0.1:{infer}"])
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


def start_stages(ctx, transport, stack):
    """The three stage processes in a scratch directory, both closed when the bench ends."""
    scratch = stack.enter_context(
        tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    stages = stack.enter_context(Stages(ctx, transport, scratch))
    stages.scratch = scratch
    return stages


def distributed_row(transport, row_type, sample_type, run_measured):
    """One `scorevision ask` per round against stage processes started in the first round and kept."""
    def once(ctx):
        stages = ctx.resource(("distributed", transport), lambda stack: start_stages(ctx, transport, stack))
        out = os.path.join(stages.scratch, "result.json")
        run_measured([ctx.scorevision, "ask", ctx.clip, "--track", stages.track, "--out", out])
        with open(out) as f:
            response = json.load(f)
        return sample_type(response["processing_time"], len(response["frames"]),
                           extra={"wire_bytes_per_frame": stages.wire_bytes_per_frame()})

    def summary(samples, rounds):
        # The embedded pipeline ran in the same rounds, so each round's ratio saw the same load.
        embedded = rounds.get("ours end to end") or []
        ratios = [s.seconds / e.seconds for s, e in zip(samples, embedded)]
        wire = samples[-1].extra.get("wire_bytes_per_frame")
        note = f"decode, infer, track as 3 processes, frames {transport}: {wire} bytes/frame on the wire"
        extra = {"wire_bytes_per_frame": wire}
        if ratios:
            ratio = statistics.median(ratios)
            note += f"; **{ratio:.2f}x** the embedded time (median of per-round ratios)"
            extra["x_embedded"] = ratio
        return note, extra

    name = "distributed (inline frames)" if transport == "inline" else "distributed (shared-memory frames)"
    return row_type(name, once, "", summary)
