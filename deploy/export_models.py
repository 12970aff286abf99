#!/usr/bin/env python3
"""Export your ultralytics weights (.pt) to the ONNX models the miner loads.

    pip install -r deploy/export-requirements.txt      # ultralytics, onnx, onnxslim
    python deploy/export_models.py --player football-player-detection.pt \
                                   --pitch football-pitch-detection.pt --out-dir models/

writes models/players.onnx (YOLOv8 detect, imgsz 1280) and models/pitch.onnx
(YOLOv8 pose, 32 keypoints, imgsz 640), the names the images and Kubernetes
manifests expect (SV_PLAYER_MODEL=/models/players.onnx,
SV_PITCH_MODEL=/models/pitch.onnx). Each export is ultralytics' own exporter
with dynamic=True (dynamic batch), simplify=True and its default opset, and
the script then prints the metadata the miner reads back from the ONNX file:
task, names, imgsz, stride, kpt_shape (plus inputs, outputs and opset).

It never downloads anything: the weights must be local files (ultralytics
would otherwise fetch unknown names from its hub), ultralytics runs offline and
may not pip-install missing packages by itself.

--half additionally writes FP16 copies, models/players_fp16.onnx and
models/pitch_fp16.onnx, converted from the FP32 exports by deploy/to_fp16.py
(imported, see its docstring): FP16 backbone, neck and head branches, FP32
box/keypoint decoding, float32 input and outputs, so the miner feeds them as
it feeds the FP32 models. It needs nothing beyond onnx and numpy, which the
export already has, and no GPU. (ultralytics' own half=True export, a GPU
and a static shape only, gives float16 input/outputs; the miner accepts
those too, deploy/README.md "FP16".)
"""
import argparse
import ast
import contextlib
import json
import os
import shutil
import sys
import tempfile

# Before ultralytics is imported: no hub access, no automatic pip installs.
os.environ["YOLO_OFFLINE"] = "true"
os.environ["YOLO_AUTOINSTALL"] = "false"
os.environ.setdefault("YOLO_CONFIG_DIR", os.path.join(tempfile.gettempdir(), "sv-export-yolo-config"))

# role -> (output file, expected task, default imgsz, expected kpt_shape)
ROLES = {
    "player": ("players.onnx", "detect", 1280, None),
    "pitch": ("pitch.onnx", "pose", 640, [32, 3]),
}
META_KEYS = ("task", "names", "imgsz", "stride", "kpt_shape", "batch", "half", "version")


def fail(msg: str) -> "NoReturn":  # noqa: F821
    print(f"export_models: error: {msg}", file=sys.stderr)
    sys.exit(2)


def check_environment() -> None:
    missing = []
    for mod in ("ultralytics", "onnx", "onnxslim", "numpy"):
        try:
            __import__(mod)
        except ImportError:
            missing.append(mod)
    if missing:
        fail(f"missing Python packages {missing}; pip install -r deploy/export-requirements.txt")


def read_metadata(path: str) -> dict:
    """The metadata ultralytics wrote, decoded the way the miner reads it."""
    import onnx

    model = onnx.load(path, load_external_data=False)
    raw = {p.key: p.value for p in model.metadata_props}
    meta = {}
    for key in META_KEYS:
        if key not in raw:
            continue
        try:
            meta[key] = ast.literal_eval(raw[key])
        except (ValueError, SyntaxError):
            meta[key] = raw[key]

    def dims(values):
        return {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in values}

    elem = {1: "float32", 10: "float16"}
    meta["inputs"] = dims(model.graph.input)
    meta["input_dtype"] = elem.get(model.graph.input[0].type.tensor_type.elem_type, "other")
    meta["outputs"] = dims(model.graph.output)
    meta["opset"] = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=None)
    return meta


def verify(role: str, meta: dict) -> list:
    """Problems that would make the miner refuse the model (or misread it)."""
    _, task, _, kpt_shape = ROLES[role]
    problems = []
    for key in ("task", "names", "imgsz", "stride"):
        if key not in meta:
            problems.append(f"metadata {key!r} missing")
    if meta.get("task") not in (None, task):
        problems.append(f"task is {meta.get('task')!r}, the {role} model must be {task!r}")
    if task == "pose" and list(meta.get("kpt_shape") or []) != kpt_shape:
        problems.append(f"kpt_shape is {meta.get('kpt_shape')!r}, expected {kpt_shape}")
    if role == "player" and isinstance(meta.get("names"), dict) and len(meta["names"]) != 4:
        problems.append(f"expected 4 classes (ball, goalkeeper, player, referee), got {meta['names']}")
    batch = next(iter(meta["inputs"].values()), [None])[0]
    if not isinstance(batch, str):
        problems.append(f"input batch dimension is fixed ({batch}); export with dynamic=True")
    return problems


@contextlib.contextmanager
def stdout_to_stderr():
    """ultralytics logs to stdout; keep stdout for our report (and --json)."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def export(role: str, weights: str, imgsz: int, args) -> str:
    from ultralytics import YOLO

    out_name, task, _, _ = ROLES[role]
    if not os.path.isfile(weights):
        fail(f"{weights}: no such file (weights are never downloaded; pass a local .pt)")
    if not weights.endswith(".pt"):
        fail(f"{weights}: expected an ultralytics .pt checkpoint")
    os.makedirs(args.out_dir, exist_ok=True)
    # Export from a scratch copy: ultralytics writes <stem>.onnx beside the
    # weights and may drop files in the working directory.
    work = tempfile.mkdtemp(prefix="sv-export-")
    cwd = os.getcwd()
    try:
        pt = os.path.join(work, os.path.basename(weights))
        shutil.copyfile(weights, pt)
        os.chdir(work)
        with stdout_to_stderr():
            model = YOLO(pt, task=task)
        kwargs = dict(format="onnx", imgsz=imgsz, dynamic=True, simplify=True, device=args.device)
        if args.opset is not None:
            kwargs["opset"] = args.opset
        with stdout_to_stderr():
            produced = model.export(**kwargs)
        out = os.path.join(os.path.abspath(os.path.join(cwd, args.out_dir)), out_name)
        shutil.copyfile(produced, out)
    finally:
        os.chdir(cwd)
        shutil.rmtree(work, ignore_errors=True)
    return out


def half_copy(role: str, fp32_path: str) -> dict:
    """<name>_fp16.onnx beside the FP32 export, by deploy/to_fp16.py (FP32 input/outputs)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import to_fp16

    root, ext = os.path.splitext(fp32_path)
    out = f"{root}_fp16{ext}"
    try:
        conv = to_fp16.convert_file(fp32_path, out)
    except to_fp16.ConversionError as e:
        fail(f"{fp32_path}: FP16 conversion refused: {e}")
    meta = read_metadata(out)
    problems = verify(role, meta)
    if meta["input_dtype"] != "float32":
        problems.append(f"input is {meta['input_dtype']}, expected float32")
    summary = (
        f"head {conv['head']}: {conv['fp16_nodes']} nodes FP16, {conv['fp32_nodes']} FP32 (decoding tail), "
        f"{conv['casts_inserted']} Casts, {conv['values_clamped']} weights clamped to the float16 range"
    )
    return {"path": out, **meta, "fp16": summary, "problems": problems}


def main() -> int:
    ap = argparse.ArgumentParser(description="Export ultralytics .pt weights to the miner's ONNX models.")
    ap.add_argument("--player", metavar="PT", help="player detector weights (YOLOv8 detect, 4 classes)")
    ap.add_argument("--pitch", metavar="PT", help="pitch keypoint weights (YOLOv8 pose, 32 keypoints)")
    ap.add_argument("--player-imgsz", type=int, default=ROLES["player"][2])
    ap.add_argument("--pitch-imgsz", type=int, default=ROLES["pitch"][2])
    ap.add_argument("--out-dir", default="models", help="where players.onnx / pitch.onnx go (default: models)")
    ap.add_argument("--opset", type=int, default=None, help="ONNX opset (default: ultralytics' choice)")
    ap.add_argument("--half", action="store_true", help="also write <name>_fp16.onnx (deploy/to_fp16.py, float32 I/O)")
    ap.add_argument("--device", default="cpu", help="export device: cpu (default) or a CUDA index such as 0")
    ap.add_argument("--json", action="store_true", help="print the metadata as one JSON object")
    args = ap.parse_args()
    if not (args.player or args.pitch):
        ap.error("give --player and/or --pitch")
    check_environment()

    report, bad = {}, False
    for role, weights, imgsz in (("player", args.player, args.player_imgsz), ("pitch", args.pitch, args.pitch_imgsz)):
        if not weights:
            continue
        out = export(role, weights, imgsz, args)
        meta = read_metadata(out)
        problems = verify(role, meta)
        bad |= bool(problems)
        report[role] = {"path": out, **meta, "problems": problems}
        if args.half:
            info = half_copy(role, out)
            bad |= bool(info["problems"])
            report[f"{role}_fp16"] = info

    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        for role, info in report.items():
            print(f"{role}: {info['path']}")
            for key in (*META_KEYS, "inputs", "input_dtype", "outputs", "opset"):
                if key in info:
                    print(f"  {key:<12} {info[key]}")
            for p in info["problems"]:
                print(f"  PROBLEM      {p}")
            if "fp16" in info:
                print(f"  {'fp16':<12} {info['fp16']}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
