#!/usr/bin/env python3
"""`make bench`: the reference miner's loop against our embedded pipeline on the
same clip and the same ONNX models, plus each of our stages alone, in one run.

Every row is a small function that measures one run and returns a Sample;
the driver runs the rows round by round (interleaved, so a change in machine
load hits every row alike) and the table shows medians. Rows that share a
heavy setup share it through the Context (the stage-alone rows read one
`sv-bench stages` per round). To add a row, write `def once_x(ctx) -> Sample`
and list it in ROWS. Standard library only; the reference runs in .venv-bench.

Figures:
- seconds: median processing time over --runs runs (the reference and ours:
  the `processing_time` each reports, model loading excluded on both sides;
  stage-alone rows: the stage's own time on frames held in memory);
- frames/s = frames / seconds; x reference = frames/s over the reference's;
- pipeline efficiency = (ORT alone) / (ours): 1.0 means everything but ONNX
  Runtime is hidden behind it;
- infer interval: ours with `--infer-interval 2` and `3` (the models on one
  frame in N, track filling the rest) as a share of ours end to end's time
  (N = 1), from the same rounds.
"""
import argparse
import contextlib
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from distributed import distributed_row

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.join(ROOT, "tests", "bench")
FIXTURE_CLIP = os.path.join(ROOT, "tests", "fixtures", "clip", "sample_720p.mp4")
FIXTURE_MODELS = os.path.join(ROOT, "tests", "fixtures", "models")


def log(*a):
    print("[bench]", *a, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------------------
# running things


@dataclass
class Ran:
    wall: float
    peak_rss_mb: float
    stdout: str
    stderr: str
    info: dict = field(default_factory=dict)  # what the caller read from the output


def run_measured(cmd, env=None, check=True):
    """Runs `cmd` to completion; wall time and the child's own peak RSS (wait4, so siblings don't count)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=ROOT, env=env)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - started
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        ran = Ran(wall, usage.ru_maxrss / 1024.0, out.read(), err.read())
    if check and p.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed ({p.returncode}):\n{ran.stderr[-4000:]}")
    return ran


def load_average():
    return os.getloadavg()[0]


# ------------------------------------------------------------------------------------------------------------
# context: paths, models, clips, shared measurements


@dataclass
class Result:
    seconds: list
    frames: int
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def median(self):
        return statistics.median(self.seconds)

    @property
    def fps(self):
        return self.frames / self.median if self.median > 0 else float("inf")


class Context:
    def __init__(self, args):
        self.args = args
        self.runs = args.runs
        self.clip = os.path.abspath(args.clip)
        self.scratch = os.path.abspath(args.scratch)
        os.makedirs(self.scratch, exist_ok=True)
        self.scorevision = os.path.join(ROOT, "target", "release", "scorevision")
        self.sv_bench = os.path.join(ROOT, "target", "release", "sv-bench")
        self.python = os.path.join(ROOT, args.venv, "bin", "python")
        for path in (self.scorevision, self.sv_bench, self.python):
            if not os.access(path, os.X_OK):
                sys.exit(f"bench: {path} missing (make bench builds it)")
        self.player, self.pitch = self.models(args.scale)
        self.settings = []  # extra flags for both our binaries, e.g. --batch-size 8
        if args.batch_size:
            self.settings += ["--batch-size", str(args.batch_size)]
        if args.intra_threads is not None:
            self.settings += ["--intra-threads", str(args.intra_threads)]
        self._stages = None
        self._ort_reference_way = None
        self.stage_rounds = []
        self.frames_json = {}  # the last "reference" and "ours" frames, for the parity line
        # Long-lived helpers (e.g. stage processes) shared by every round, closed when the bench ends.
        self.exit_stack = contextlib.ExitStack()
        self._resources = {}

    def new_round(self):
        self._stages = None
        self._ort_reference_way = None

    def resource(self, key, make):
        """`make(exit_stack)` once per key; later calls return the same object."""
        if key not in self._resources:
            self._resources[key] = make(self.exit_stack)
        return self._resources[key]

    def models(self, scale):
        if scale == "fixture":
            return os.path.join(FIXTURE_MODELS, "players.onnx"), os.path.join(FIXTURE_MODELS, "pitch.onnx")
        out = os.path.join(self.scratch, f"models-{scale}")
        player, pitch = os.path.join(out, "players.onnx"), os.path.join(out, "pitch.onnx")
        if not (os.path.isfile(player) and os.path.isfile(pitch)):
            log(f"making YOLOv8{scale} models into {out} (tests/fixtures/make_models.py; minutes)")
            subprocess.run([self.python, os.path.join(ROOT, "tests", "fixtures", "make_models.py"),
                            "--scale", scale, "--out", out], check=True, cwd=ROOT)
        return player, pitch

    def looped_clip(self, frames):
        """The clip repeated to `frames` frames (stream copy, so every frame is the fixture's)."""
        base = self.count_frames(self.clip)
        if frames % base:
            sys.exit(f"bench: {frames} is not a multiple of the clip's {base} frames")
        path = os.path.join(self.scratch, "clips", f"{os.path.splitext(os.path.basename(self.clip))[0]}x{frames}.mp4")
        if not os.path.isfile(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", str(frames // base - 1), "-i", self.clip,
                            "-c", "copy", path], check=True)
            got = self.count_frames(path)
            if got != frames:
                os.remove(path)
                sys.exit(f"bench: looping {self.clip} gave {got} frames, wanted {frames}")
        return path

    @staticmethod
    def count_frames(path):
        out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                              "stream=nb_read_frames", "-of", "csv=p=0", path], check=True, capture_output=True,
                             text=True).stdout
        return int(out.strip())

    def ours(self, clip, extra=()):
        """`scorevision process` once (with `extra` flags): (its processing_time, frames, peak RSS MB)."""
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "result.json")
            # `empty`: the reference's `[]` for frames without a pitch, so the parity line compares like with like.
            ran = run_measured([self.scorevision, "process", clip, "--player", self.player, "--pitch", self.pitch,
                                "--out", out, "--providers", "cpu", "--keypoints-when-missing", "empty",
                                *self.settings, *extra])
            with open(out) as f:
                response = json.load(f)
        ran.info["objects"] = sum(len(f["objects"]) for f in response["frames"])
        if clip == self.clip and not extra:
            self.frames_json["ours"] = response["frames"]
        return response["processing_time"], len(response["frames"]), ran

    def stages(self):
        """`sv-bench stages` once per round (every stage-alone row of the round reads it)."""
        if self._stages is None:
            ran = run_measured([self.sv_bench, "stages", self.clip, "--player", self.player, "--pitch", self.pitch,
                                "--runs", "1", *self.settings])
            self._stages = json.loads(ran.stdout)
            self.stage_rounds.append(self._stages)
        return self._stages

    def ort_reference_way(self):
        """`sv-bench stages` with the reference's ORT session: one session per model run one after the other,
        ONNX Runtime's default threads (one per core, spinning). Its "ort" figure is what the reference loop
        would take if it did nothing but inference."""
        if self._ort_reference_way is None:
            ran = run_measured([self.sv_bench, "stages", self.clip, "--player", self.player, "--pitch", self.pitch,
                                "--runs", "1", "--lanes", "1", "--intra-threads", "0", "--spinning", "true",
                                "--batch-size", "1"])
            self._ort_reference_way = json.loads(ran.stdout)
        return self._ort_reference_way


# ------------------------------------------------------------------------------------------------------------
# rows: each measures one run; the driver interleaves rows round by round, so a change in machine load hits
# every row alike and the ratios between rows (measured in the same rounds) stay meaningful.


@dataclass
class Sample:
    seconds: float
    frames: int
    peak_rss_mb: float = 0.0
    extra: dict = field(default_factory=dict)


def once_reference(ctx):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "frames.json")
        ran = run_measured([ctx.python, os.path.join(HERE, "reference.py"), ctx.clip, "--player", ctx.player,
                            "--pitch", ctx.pitch, "--out", out])
        with open(out) as f:
            ctx.frames_json["reference"] = json.load(f)
    got = json.loads(ran.stdout.strip().splitlines()[-1])
    return Sample(got["processing_time"], got["frames"], ran.peak_rss_mb, {"objects": got["objects"]})


def once_ours(ctx):
    seconds, frames, ran = ctx.ours(ctx.clip)
    return Sample(seconds, frames, ran.peak_rss_mb, {"objects": ran.info["objects"]})


INTERVALS = (2, 3)


def once_ours_interval(n):
    def once(ctx):
        seconds, frames, ran = ctx.ours(ctx.clip, ["--infer-interval", str(n)])
        return Sample(seconds, frames, ran.peak_rss_mb, {"objects": ran.info["objects"]})
    once.__name__ = f"once_ours_interval_{n}"
    return once


def interval_row_name(n):
    return f"ours at infer interval {n}"


def interval_ratios(rounds):
    """{N: median time at N / median time at N = 1}, for the intervals measured alongside N = 1."""
    base = rounds.get("ours end to end")
    if not base:
        return {}
    one = statistics.median(s.seconds for s in base)
    return {n: statistics.median(s.seconds for s in rounds[interval_row_name(n)]) / one
            for n in INTERVALS if rounds.get(interval_row_name(n))}


def interval_note(n):
    def summary(samples, rounds):
        note, extra = with_objects(samples, rounds, f"the models on 1 frame in {n}, track fills the rest")
        ratio = interval_ratios(rounds).get(n)
        if ratio is not None:
            note += f"; **{ratio:.2f}** of N = 1's time"
            extra["of_interval_1"] = ratio
        return note, extra
    return summary


def with_objects(samples, _rounds, note):
    """The note plus the tracked objects in the response (the same on every run, or each run's)."""
    counts = sorted({s.extra["objects"] for s in samples})
    return f"{note}; {'/'.join(map(str, counts))} tracked objects", {"objects": counts}


def once_stage(key):
    def once(ctx):
        s = ctx.stages()
        return Sample(s[key][0], s["frames"])
    once.__name__ = f"once_{key}"
    return once


@dataclass
class Row:
    name: str
    once: object  # Context -> Sample
    note: str
    # Optional (own samples, {row name: samples of every row}) -> (note, extra), once all rounds are in.
    summary: object = None


ROWS = [
    Row("reference loop (Python)", once_reference, "", lambda got, rounds: with_objects(
        got, rounds, "ultralytics 8.3.48 + supervision 0.22.0, OpenCV decode, one frame at a time")),
    Row("ours end to end", once_ours, "", lambda got, rounds: with_objects(
        got, rounds, "scorevision process: decode -> infer -> track")),
    *[Row(interval_row_name(n), once_ours_interval(n), "", interval_note(n)) for n in INTERVALS],
    Row("ONNX Runtime alone", once_stage("ort"), "both models on the prepared batches, same sessions and lanes"),
    Row("ONNX Runtime alone (reference's session)", lambda ctx: Sample(
        ctx.ort_reference_way()["ort"][0], ctx.ort_reference_way()["frames"]),
        "one session per model, one call after the other, ORT's default threads (one per core, spinning)"),
    Row("decode alone", once_stage("decode"), "GStreamer to RGB frames"),
    Row("preprocessing alone", once_stage("preprocess"), "letterbox both models into the batch tensors"),
    Row("postprocessing alone", once_stage("postprocess"), "NMS and mapping back, one thread"),
    Row("tracking alone", once_stage("track"), "ByteTrack on our detections"),
    distributed_row("inline", Row, Sample, run_measured),
    distributed_row("shm", Row, Sample, run_measured),
]


def measure(ctx, rows):
    samples = {row.name: [] for row in rows}
    for round_ in range(ctx.runs):
        ctx.new_round()
        for row in rows:
            got = row.once(ctx)
            samples[row.name].append(got)
            log(f"round {round_ + 1}/{ctx.runs}: {row.name}: {got.seconds:.3f} s ({got.frames} frames)")
    results = {}
    for row in rows:
        got = samples[row.name]
        frames = {g.frames for g in got}
        if len(frames) != 1:
            sys.exit(f"bench: {row.name}: frame counts differ between runs: {sorted(frames)}")
        rss = max(g.peak_rss_mb for g in got)
        note, extra = (row.summary(got, samples) if row.summary else (row.note, {}))
        if rss:
            extra["peak_rss_mb"] = rss
        results[row.name] = Result([g.seconds for g in got], got[0].frames, note, extra)
    return results


def peak_rss(ctx, lengths):
    """Peak RSS of `scorevision process` on the clip looped to each length."""
    out = {}
    for frames in lengths:
        clip = ctx.looped_clip(frames)
        _, got, ran = ctx.ours(clip)
        if got != frames:
            sys.exit(f"bench: {clip}: {got} frames in the response, wanted {frames}")
        out[frames] = ran.peak_rss_mb
        log(f"peak RSS on {frames} frames: {ran.peak_rss_mb:.0f} MB")
    return out


# ------------------------------------------------------------------------------------------------------------
# report


def keypoint_scores(ctx):
    """The validator's keypoint score (KP/100, `scorevision score`, no CLIP: every frame a pitch frame) of our
    answer as serve sends it (a frame without a pitch carries 32 zero pairs) and of the reference's last answer.
    None where it cannot be scored (a binary built without the `score` feature)."""
    with tempfile.TemporaryDirectory() as tmp:
        ours = os.path.join(tmp, "ours.json")
        run_measured([ctx.scorevision, "process", ctx.clip, "--player", ctx.player, "--pitch", ctx.pitch,
                      "--out", ours, "--providers", "cpu", *ctx.settings])
        answers = {"ours": ours}
        if "reference" in ctx.frames_json:
            answers["reference"] = os.path.join(tmp, "reference.json")
            with open(answers["reference"], "w") as f:
                json.dump({"frames": ctx.frames_json["reference"]}, f)
        scores = {}
        for name, path in answers.items():
            ran = run_measured([ctx.scorevision, "score", ctx.clip, path, "--json"], check=False)
            if ran.stdout.strip().startswith("{"):
                scores[name] = json.loads(ran.stdout)["keypoint_score"]
            else:
                log(f"keypoint score of {name}: none ({ran.stderr.strip()[-300:]})")
    return scores


def parity(frames_json):
    """How many frames of our last response equal the reference's last output (ids, classes, boxes, keypoints;
    JSON values compared exactly: both sides print the same float32 values)."""
    ref, ours = frames_json["reference"], frames_json["ours"]
    same = sum(1 for a, b in zip(ref, ours) if a == b)
    verdict = "identical" if same == len(ref) == len(ours) else "**differs**"
    return f"{same}/{len(ref)} frames identical ({verdict}; ours has {len(ours)} frames)"


def table(results, rss, ctx, loads, scores=None):
    ref = results.get("reference loop (Python)")
    ours = results.get("ours end to end")
    ort = results.get("ONNX Runtime alone")
    lines = [
        f"# make bench: {os.path.basename(ctx.clip)}, models {ctx.args.scale}, median of {ctx.runs} runs",
        "",
        f"{datetime.datetime.now().isoformat(timespec='seconds')}, {platform.node()}, {os.cpu_count()} CPUs, "
        f"load average {loads[0]:.2f} before / {loads[1]:.2f} after",
        "",
        "| row | seconds | frames/s | x reference | notes |",
        "|---|---:|---:|---:|---|",
    ]
    for name, r in results.items():
        ratio = f"{r.fps / ref.fps:.2f}" if ref else "-"
        lines.append(f"| {name} | {r.median:.3f} | {r.fps:.1f} | {ratio} | {r.note} |")
    lines.append("")
    if ref and ours:
        lines.append(f"- ours / reference: **{ours.fps / ref.fps:.2f}x** frames/s (goal >= 2.0)")
    if ort and ours:
        lines.append(f"- pipeline efficiency (ORT alone / ours): **{ort.median / ours.median:.2f}** (goal >= 0.9)")
    ratios = {n: r.extra["of_interval_1"] for n in INTERVALS
              if (r := results.get(interval_row_name(n))) and "of_interval_1" in r.extra}
    if ratios:
        shares = ", ".join(f"N = {n}: **{ratio:.2f}**" for n, ratio in ratios.items())
        lines.append(f"- infer interval, time as a share of N = 1 in the same rounds: {shares} (goal N = 2 <= 0.6)")
    ort_ref = results.get("ONNX Runtime alone (reference's session)")
    if ort and ort_ref and ref:
        lines.append(f"- inference alone, our lanes vs the reference's session: **{ort_ref.median / ort.median:.2f}x**; "
                     f"inference alone the reference's way takes {ort_ref.median / ref.median:.0%} of the reference loop's time, so "
                     f"ours / reference can reach {ref.median / ort.median:.2f}x at most while inference costs "
                     f"what it costs")
    if "reference" in ctx.frames_json and "ours" in ctx.frames_json:
        lines.append(f"- same output as the reference: {parity(ctx.frames_json)}")
    if scores and "ours" in scores:
        time = f" at {ours.median:.3f} s" if ours else ""
        ref_score = f"; the reference's answer: {scores['reference']:.4f}" if "reference" in scores else ""
        lines.append(f"- keypoint score of our answer (as serve sends it): **{scores['ours']:.4f}**{time} "
                     f"(the validator's KP/100 by `scorevision score`, no CLIP: every frame a pitch frame)"
                     f"{ref_score}")
    for frames, mb in rss.items():
        lines.append(f"- peak RSS of scorevision process, {frames} frames: {mb:.0f} MB")
    if ref and "peak_rss_mb" in ref.extra:
        lines.append(f"- peak RSS of the reference loop, {ref.frames} frames: {ref.extra['peak_rss_mb']:.0f} MB")
    if ctx.stage_rounds:
        s = ctx.stage_rounds[-1]
        lines.append(f"- settings: {json.dumps(s['settings'])}; inputs {json.dumps(s['input_shapes'])}")
    lines.append(f"- models: {os.path.relpath(ctx.player, ROOT)}, {os.path.relpath(ctx.pitch, ROOT)}")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description="Benchmarks against the reference miner (see module docstring).")
    ap.add_argument("--runs", type=int, default=3, help="runs per row; the table shows medians")
    ap.add_argument("--scale", default="fixture", choices=["fixture", "n", "s", "m", "l", "x"],
                    help="fixture models, or YOLOv8 n..x made by tests/fixtures/make_models.py")
    ap.add_argument("--clip", default=FIXTURE_CLIP)
    ap.add_argument("--rows", help="comma-separated row names to run (default: all)")
    ap.add_argument("--rss", default="100,750", help="clip lengths for peak RSS ('' to skip)")
    ap.add_argument("--batch-size", type=int, help="pass --batch-size to our binaries")
    ap.add_argument("--intra-threads", type=int, help="pass --intra-threads to our binaries")
    ap.add_argument("--venv", default=".venv-bench")
    ap.add_argument("--scratch", default=os.path.join(ROOT, "out", "bench"))
    ap.add_argument("--out", help="report path without extension (default out/bench/bench-<scale>)")
    args = ap.parse_args()
    if args.runs < 1:
        sys.exit("bench: --runs must be at least 1")
    ctx = Context(args)
    wanted = set(args.rows.split(",")) if args.rows else None
    loads = [load_average()]
    log(f"load average {loads[0]:.2f}; {args.runs} runs per row, models {args.scale}")
    rows = [row for row in ROWS if not wanted or row.name in wanted]
    if wanted and len(rows) != len(wanted):
        sys.exit(f"bench: unknown rows {sorted(wanted - {r.name for r in rows})}; rows: {[r.name for r in ROWS]}")
    with ctx.exit_stack:
        results = measure(ctx, rows)
    lengths = [int(x) for x in args.rss.split(",") if x.strip()]
    rss = peak_rss(ctx, lengths)
    loads.append(load_average())
    scores = keypoint_scores(ctx)
    report = table(results, rss, ctx, loads, scores)
    print(report)
    base = args.out or os.path.join(ctx.scratch, f"bench-{args.scale}")
    os.makedirs(os.path.dirname(base), exist_ok=True)
    with open(base + ".md", "w") as f:
        f.write(report)
    with open(base + ".json", "w") as f:
        json.dump({
            "clip": ctx.clip, "scale": args.scale, "runs": args.runs, "load_average": loads,
            "rows": {k: {"seconds": r.seconds, "median": r.median, "frames": r.frames, "fps": r.fps, "note": r.note,
                         **r.extra} for k, r in results.items()},
            "peak_rss_mb": rss, "stages": ctx.stage_rounds, "keypoint_scores": scores,
        }, f, indent=1)
    log(f"wrote {base}.md and {base}.json")


if __name__ == "__main__":
    main()
