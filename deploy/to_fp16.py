#!/usr/bin/env python3
"""Convert an FP32 ultralytics YOLO ONNX export (detect or pose) to FP16.

    pip install -r deploy/fp16-requirements.txt        # onnx + numpy, nothing else
    python deploy/to_fp16.py models/players.onnx models/players_fp16.onnx
    python deploy/to_fp16.py models/pitch.onnx models/pitch_fp16io.onnx --fp16-io

Written for YOLOv8 and YOLO11 exports by ultralytics' own exporter (same
head naming; any opset; dynamic or static shapes; with or without onnxslim)
and checked on the YOLOv8 fixtures in tests/fixtures. Only onnx and numpy:
the rules below are the whole behaviour, and the same input gives the same
bytes.

Interface
---------
Default: the graph input and outputs stay float32, so the miner feeds f32 as
it does for an FP32 model. A Cast to float16 follows the input; the outputs
come out of the FP32 tail (below) as float32, with no Cast.
``--fp16-io``: the input and outputs are float16, the interface ultralytics'
own ``export(half=True)`` produces (the tail still computes in FP32, and one
Cast at the end rounds the finished output to float16).
``--all-fp16``: no FP32 tail (for comparison only; see "Why an FP32 tail").
The ultralytics metadata_props (names, imgsz, stride, task, kpt_shape, batch,
...) are copied unchanged; only model.doc_string records the conversion.

Precision rule
--------------
The head is the last ``/model.N/`` module (ultralytics names every node by
its module path: ``/model.22/cv2.0/cv2.0.0/conv/Conv``, ``/model.22/dfl/
conv/Conv``, ...; N is 22 for YOLOv8, 23 for YOLO11). Its learned branches are
the nodes named ``/model.N/cv2.*`` (box distribution), ``/model.N/cv3.*``
(class scores) and, for pose, ``/model.N/cv4.*`` (keypoints).

* FP16 ("body"): the head branches and every node they depend on, i.e. the
  backbone, the neck and the branches: all the convolutions, where FP16 pays.
* FP32 ("tail"): every other node. These are exactly the head's decoding
  nodes: the reshape/concat of the three scales, the DFL softmax and its fixed
  1x1 conv (weights 0..15), the anchors and strides, dist2bbox, the keypoint
  decoding ((k*2 + anchor - 0.5) * stride), the sigmoids and the final concat.
  A Cast to float32 sits on each branch output.

The body is found by graph topology (ancestors of the branch nodes), and the
names are then checked against it: a body node may not be named inside
``/model.N/`` unless it is a branch node, a tail node may not be named in
another module ``/model.K/`` (Constant nodes and nodes without a module name
are exempt). The script stops with an error, and writes nothing, when it
cannot find ``/model.N/cv2.*`` and ``/model.N/cv3.*`` Conv nodes (or
``cv4.*`` for a pose model), when the task metadata is neither detect nor
pose (segment/obb/classify heads hold convolutions outside those branches),
when the checks above fail, or when the model is already float16. It never
falls back to converting everything.

Why an FP32 tail: the tail outputs box centres, sizes and keypoints in input
pixels, up to 1280 at imgsz 1280. Float16 has 11 significant bits, so its
spacing is 0.25 px in [256, 512), 0.5 px in [512, 1024) and 1 px in [1024,
2048): each add/multiply of the decoding rounds coordinates to that grid
(box x2 = anchor*stride + dist*stride, etc.), several roundings in a row, and
the DFL softmax expectation over 16 bins loses its sub-bin resolution. The
class sigmoid too: in FP16 every score above 0.99976 is exactly 1.0, so NMS
can no longer rank near-certain neighbouring anchors (on the fixture pitch
model the top instance moved to another anchor on 24 of 50 frames with an
FP16 tail, 2 of 50 with the FP32 tail). The tail costs little in FP32 (no
learned convolution; the DFL conv is 1x1 over 16 bins), and in FP32 its only
error is what the FP16 branch outputs bring in, which are small numbers (DFL
logits, class logits, keypoint offsets in grid cells) where FP16 is
relatively precise.

Conversion rules (what "to FP16" means for each node)
-----------------------------------------------------
1. Float32 ``Constant`` nodes become initializers first (so constants are
   converted once, never cast at run time). Value_info is dropped and
   inferred again at the end with ONNX's strict shape inference.
2. A body node runs in FP16 when its ONNX schema allows float16 for the
   type constraint of its float inputs. Its float32 inputs with such a
   constraint become float16, and so do its outputs of the same constraint.
   Exceptions that stay float32: inputs whose schema type is fixed to
   ``tensor(float)`` (Resize ``scales``, Upsample ``scales``), Resize ``roi``
   (ONNX Runtime's Resize kernels read roi/scales as float32 only), and every
   input/output of an op whose schema has no float16 (e.g. Range): such a
   node stays FP32 with Casts around it.
3. Attributes that carry a float type in an FP16 node: Cast ``to=FLOAT``
   becomes ``to=FLOAT16``; ConstantOfShape's float ``value`` becomes float16.
   Tail nodes keep everything as exported (their Casts keep ``to=FLOAT``).
4. Initializers: one used only by FP16 inputs is stored as float16 (values
   beyond +-65504 are clamped, and counted in the report); one used by both
   FP16 and FP32 inputs (onnxslim merges identical tensors, so one constant
   can feed both the body and the tail) keeps its float32 copy and gains a
   float16 copy named ``<name>_fp16``. Integer initializers are never touched.
5. Wherever a tensor's type differs from what a consumer needs, one Cast node
   per (tensor, type) is inserted after its producer and shared by all such
   consumers: ``<tensor>_fp16`` / ``<tensor>_fp32``. ``Shape`` and ``Size``
   read any type and get no Cast. Graph outputs keep their names: when the
   producer's type is not the interface type, the producer writes
   ``<output>_fp16``/``_fp32`` and a Cast writes ``<output>``.
6. Subgraphs (If/Loop/Scan), non-default domains with float tensors, and
   float64 are refused.
"""

import argparse
import re
import sys
from collections import Counter, defaultdict

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FLOAT, FLOAT16 = TensorProto.FLOAT, TensorProto.FLOAT16
FP16_MAX = float(np.finfo(np.float16).max)
# Inputs that ONNX Runtime's kernels read as float32 whatever the schema allows.
KEEP_FP32_INPUTS = {"Resize": {1, 2}, "Upsample": {1}}
# Inputs whose type does not matter to the op (no Cast needed in front).
ANY_TYPE_INPUTS = {"Shape": {0}, "Size": {0}}
HEAD_TASKS = ("detect", "pose")
NODE_MODULE = re.compile(r"^/model\.(\d+)/")


class ConversionError(Exception):
    """The graph is not one this script knows how to convert safely."""


def _dtype_name(t: int) -> str:
    return TensorProto.DataType.Name(t).lower()


def _metadata(model: onnx.ModelProto) -> dict:
    return {p.key: p.value for p in model.metadata_props}


def _elem_types(model: onnx.ModelProto) -> dict:
    """Element type of every tensor in the graph, from strict shape inference."""
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    types = {}
    g = inferred.graph
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type:
            types[vi.name] = vi.type.tensor_type.elem_type
    for init in g.initializer:
        types[init.name] = init.data_type
    return types


def _fold_float_constants(graph: onnx.GraphProto) -> int:
    """Rule 1: float32 Constant nodes -> initializers (same names)."""
    keep, folded = [], 0
    for node in graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and len(node.attribute) == 1:
            attr = node.attribute[0]
            if attr.name == "value" and attr.t.data_type == FLOAT:
                t = TensorProto()
                t.CopyFrom(attr.t)
                t.name = node.output[0]
                graph.initializer.append(t)
                folded += 1
                continue
        keep.append(node)
    del graph.node[:]
    graph.node.extend(keep)
    return folded


def find_head(model: onnx.ModelProto) -> dict:
    """Locate the head module and its learned branches; raise ConversionError if absent."""
    g = model.graph
    meta = _metadata(model)
    task = meta.get("task")
    if task is not None and task not in HEAD_TASKS:
        raise ConversionError(
            f"task {task!r} in the metadata: only {'/'.join(HEAD_TASKS)} heads are supported "
            "(other heads have convolutions outside cv2/cv3/cv4 that this rule would leave in FP32)"
        )
    modules = [int(m.group(1)) for n in g.node if (m := NODE_MODULE.match(n.name))]
    if not modules:
        raise ConversionError(
            "no node is named by an ultralytics module path ('/model.N/...'): cannot find the head. "
            "Export with ultralytics' own exporter (YOLO(...).export(format='onnx'))"
        )
    head = max(modules)
    prefix = f"/model.{head}/"
    branches = {b: [n for n in g.node if n.name.startswith(f"{prefix}{b}.")] for b in ("cv2", "cv3", "cv4")}
    need = ["cv2", "cv3"] + (["cv4"] if task == "pose" else [])
    missing = [b for b in need if not any(n.op_type == "Conv" for n in branches[b])]
    if missing:
        raise ConversionError(
            f"the last module {prefix} has no Conv nodes named {', '.join(prefix + b + '.*' for b in missing)}: "
            "not an ultralytics detect/pose head (or the node names were rewritten), refusing to guess"
        )
    return {
        "module": head,
        "prefix": prefix,
        "task": task,
        "branch_nodes": {b: len(v) for b, v in branches.items() if v},
        "has_dfl": any(n.name.startswith(prefix + "dfl/") for n in g.node),
    }


def _split_body_tail(graph: onnx.GraphProto, head: dict, all_fp16: bool) -> list:
    """Per node: True when it belongs to the FP16 body (branches and their ancestors)."""
    prefix = head["prefix"]
    branch = tuple(f"{prefix}{b}." for b in head["branch_nodes"])
    producer = {}
    for i, node in enumerate(graph.node):
        for out in node.output:
            if out:
                producer[out] = i
    body = [False] * len(graph.node)
    stack = [i for i, n in enumerate(graph.node) if n.name.startswith(branch)]
    while stack:
        i = stack.pop()
        if body[i]:
            continue
        body[i] = True
        stack.extend(producer[x] for x in graph.node[i].input if x in producer)
    # Constants (no inputs) go wherever they are used; every other node must sit where its name says.
    bad_body = [
        n.name
        for i, n in enumerate(graph.node)
        if body[i] and n.input and n.name.startswith(prefix) and not n.name.startswith(branch)
    ]
    if bad_body:
        raise ConversionError(
            f"head nodes outside cv2/cv3/cv4 feed the head branches ({bad_body[:3]}...): "
            "the graph is not laid out like an ultralytics detect/pose head"
        )
    bad_tail = [
        n.name
        for i, n in enumerate(graph.node)
        if not body[i] and n.input and NODE_MODULE.match(n.name) and not n.name.startswith(prefix)
    ]
    if bad_tail:
        raise ConversionError(
            f"nodes outside {prefix} do not lead to the head branches ({bad_tail[:3]}...): "
            "cannot tell the body from the decoding tail"
        )
    learned = [
        n.name
        for i, n in enumerate(graph.node)
        if not body[i]
        and n.op_type in ("Conv", "ConvTranspose", "Gemm", "MatMul")
        and not n.name.startswith(prefix + "dfl/")
    ]
    if learned:
        raise ConversionError(
            f"the decoding tail would hold learned layers ({learned[:3]}...): a head with more than cv2/cv3/cv4 "
            "(segment proto?) is not supported"
        )
    return [True] * len(graph.node) if all_fp16 else body


def _formal(schema, idx: int, outputs: bool):
    params = schema.outputs if outputs else schema.inputs
    if not params:
        return None
    if idx < len(params):
        return params[idx]
    last = params[-1]
    return last if last.option == onnx.defs.OpSchema.FormalParameterOption.Variadic else None


def _fp16_constraints(node, schema, types: dict) -> set:
    """Rule 2: the type constraints of this node that switch to float16 (empty: node stays FP32)."""
    if schema is None:
        return set()
    allowed = {c.type_param_str: set(c.allowed_type_strs) for c in schema.type_constraints}
    keep = KEEP_FP32_INPUTS.get(node.op_type, set())
    chosen, blocked = set(), set()
    for i, name in enumerate(node.input):
        if not name or types.get(name) != FLOAT:
            continue
        p = _formal(schema, i, outputs=False)
        if p is None or p.type_str not in allowed:  # fixed type such as tensor(float)
            continue
        if i in keep or "tensor(float16)" not in allowed[p.type_str]:
            blocked.add(p.type_str)
        else:
            chosen.add(p.type_str)
    if chosen & blocked:
        return set()
    return chosen


def convert(model: onnx.ModelProto, *, fp16_io: bool = False, all_fp16: bool = False) -> tuple:
    """Return (float16 ModelProto, report dict). The input model is not modified."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    for node in g.node:
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
            raise ConversionError(f"node {node.name!r} ({node.op_type}) has a subgraph: not supported")
    io_types = [vi.type.tensor_type.elem_type for vi in list(g.input) + list(g.output)]
    if FLOAT16 in io_types or any(t.data_type == FLOAT16 for t in g.initializer):
        raise ConversionError("the model already holds float16 tensors: convert the FP32 export")
    if any(t != FLOAT for t in io_types):
        raise ConversionError(f"expected float32 graph inputs/outputs, got {[_dtype_name(t) for t in io_types]}")

    head = find_head(m)
    folded = _fold_float_constants(g)
    del g.value_info[:]
    types = _elem_types(m)
    if TensorProto.DOUBLE in types.values():
        raise ConversionError("the graph has float64 tensors: not supported")
    opset = {o.domain or "ai.onnx": o.version for o in m.opset_import}
    body = _split_body_tail(g, head, all_fp16)

    # New element type of every node output, and the type each node input needs.
    new_type = {vi.name: (FLOAT16 if fp16_io else FLOAT) for vi in g.input}
    need = []  # per node: {input index: required type or None (any)}
    fp16_nodes = fp32_nodes = 0
    demoted = Counter()
    for i, node in enumerate(g.node):
        domain = node.domain or "ai.onnx"
        schema = None
        if domain == "ai.onnx":
            try:
                schema = onnx.defs.get_schema(node.op_type, opset[domain], "")
            except onnx.defs.SchemaError:
                schema = None
        elif any(types.get(x) == FLOAT for x in list(node.input) + list(node.output)):
            raise ConversionError(f"node {node.name!r} is in domain {node.domain!r}: not supported")
        chosen = set()
        if body[i]:
            attrs = {a.name: a for a in node.attribute}
            if node.op_type == "Cast" and attrs["to"].i == FLOAT:
                chosen = {"<cast>"}
            elif node.op_type == "ConstantOfShape" and "value" in attrs and attrs["value"].t.data_type == FLOAT:
                chosen = {"<value>"}
            else:
                chosen = _fp16_constraints(node, schema, types)
                has_float = any(types.get(x) == FLOAT for x in list(node.input) + list(node.output) if x)
                if not chosen and has_float and node.op_type not in ANY_TYPE_INPUTS:
                    demoted[node.op_type] += 1
        req = {}
        for j, name in enumerate(node.input):
            if not name:
                continue
            if j in ANY_TYPE_INPUTS.get(node.op_type, ()):
                req[j] = None
                continue
            t = types.get(name)
            p = _formal(schema, j, outputs=False) if schema else None
            req[j] = FLOAT16 if (t == FLOAT and p is not None and p.type_str in chosen) else t
        need.append(req)
        for k, out in enumerate(node.output):
            if not out:
                continue
            t = types.get(out)
            if t is None:
                raise ConversionError(f"no type inferred for {out!r} (node {node.name!r})")
            p = _formal(schema, k, outputs=True) if schema else None
            if t == FLOAT and ("<cast>" in chosen or "<value>" in chosen or (p is not None and p.type_str in chosen)):
                t = FLOAT16
            new_type[out] = t
        if chosen:
            fp16_nodes += 1
        elif any(types.get(x) == FLOAT for x in list(node.input) + list(node.output) if x):
            fp32_nodes += 1
        if chosen:
            if "<cast>" in chosen:
                for a in node.attribute:
                    if a.name == "to":
                        a.i = FLOAT16
            if "<value>" in chosen:
                for a in node.attribute:
                    if a.name == "value" and a.t.data_type == FLOAT:
                        arr = numpy_helper.to_array(a.t).astype(np.float16)
                        a.t.CopyFrom(numpy_helper.from_array(arr, a.t.name))

    # Rule 4: initializers.
    inits = {t.name: t for t in g.initializer}
    init_uses = defaultdict(set)
    for i, node in enumerate(g.node):
        for j, name in enumerate(node.input):
            if name in inits and inits[name].data_type == FLOAT and need[i][j] is not None:
                init_uses[name].add(need[i][j])
    out_names = {o.name for o in g.output}
    clamped = 0
    fp16_name = {}
    converted = duplicated = 0
    new_inits = []
    for t in g.initializer:
        uses = init_uses.get(t.name, set())
        if t.data_type != FLOAT or FLOAT16 not in uses:
            new_inits.append(t)
            continue
        arr = numpy_helper.to_array(t)
        clamped += int(np.count_nonzero(np.abs(arr) > FP16_MAX))
        half = np.clip(arr, -FP16_MAX, FP16_MAX).astype(np.float16)
        if uses == {FLOAT16} and t.name not in out_names:
            new_inits.append(numpy_helper.from_array(half, t.name))
            fp16_name[t.name] = t.name
            new_type[t.name] = FLOAT16
            converted += 1
        else:
            new_inits.append(t)
            new_inits.append(numpy_helper.from_array(half, t.name + "_fp16"))
            fp16_name[t.name] = t.name + "_fp16"
            duplicated += 1
    for t in g.initializer:
        new_type.setdefault(t.name, t.data_type)
    del g.initializer[:]
    g.initializer.extend(new_inits)

    # Rule 5: Casts where a consumer needs another type than the tensor has.
    casts = {}  # (tensor, type) -> cast output name
    after = defaultdict(list)  # producer index (-1: graph input) -> cast nodes

    def cast_of(name: str, to: int, where: int) -> str:
        key = (name, to)
        if key not in casts:
            out = f"{name}_{'fp16' if to == FLOAT16 else 'fp32'}"
            casts[key] = out
            after[where].append(helper.make_node("Cast", [name], [out], name=f"{out}/Cast", to=to))
        return casts[key]

    producer = {out: i for i, node in enumerate(g.node) for out in node.output if out}
    for i, node in enumerate(g.node):
        for j, name in list(enumerate(node.input)):
            want = need[i].get(j)
            if not name or want is None:
                continue
            if name in fp16_name and want == FLOAT16:
                node.input[j] = fp16_name[name]
                continue
            if new_type.get(name) != want:
                node.input[j] = cast_of(name, want, producer.get(name, -1))

    # Graph outputs keep their names and get the interface type.
    io_type = FLOAT16 if fp16_io else FLOAT
    for vi in g.output:
        vi.type.tensor_type.elem_type = io_type
        if new_type.get(vi.name) == io_type:
            continue
        p = producer[vi.name]
        inner = f"{vi.name}_{'fp16' if new_type[vi.name] == FLOAT16 else 'fp32'}"
        for node in g.node:
            node.output[:] = [inner if o == vi.name else o for o in node.output]
            node.input[:] = [inner if x == vi.name else x for x in node.input]
        after[p].append(helper.make_node("Cast", [inner], [vi.name], name=f"{vi.name}/Cast", to=io_type))
        casts[(vi.name, io_type)] = vi.name
    for vi in g.input:
        vi.type.tensor_type.elem_type = new_type[vi.name]

    nodes = list(after.get(-1, []))
    for i, node in enumerate(g.node):
        nodes.append(node)
        nodes.extend(after.get(i, []))
    del g.node[:]
    g.node.extend(nodes)

    mode = "all-fp16" if all_fp16 else "fp16 body, fp32 head tail"
    io = "float16" if fp16_io else "float32"
    m.doc_string = f"Converted to float16 by deploy/to_fp16.py ({mode}; {io} input/outputs; head {head['prefix']})."
    m = onnx.shape_inference.infer_shapes(m, strict_mode=True)
    onnx.checker.check_model(m)
    report = {
        "head": head["prefix"],
        "task": head["task"],
        "branch_nodes": head["branch_nodes"],
        "dfl": head["has_dfl"],
        "mode": mode,
        "io": io,
        "nodes": len(model.graph.node),
        "fp16_nodes": fp16_nodes,
        "fp32_nodes": fp32_nodes,
        "kept_fp32_in_body": dict(demoted),
        "casts_inserted": len(casts),
        "constants_folded": folded,
        "initializers_fp16": converted,
        "initializers_duplicated": duplicated,
        "values_clamped": clamped,
    }
    return m, report


def convert_file(src: str, dst: str, *, fp16_io: bool = False, all_fp16: bool = False) -> dict:
    """Load src, convert, save dst (metadata_props unchanged). Returns the report."""
    model = onnx.load(src)
    out, report = convert(model, fp16_io=fp16_io, all_fp16=all_fp16)
    if _metadata(out) != _metadata(model) or [p.key for p in out.metadata_props] != [
        p.key for p in model.metadata_props
    ]:
        raise ConversionError("metadata_props changed during conversion (bug)")
    with open(dst, "wb") as f:  # same bytes as make_fp16.py writes; no proto maps, so stable
        f.write(out.SerializeToString(deterministic=True))
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description="FP32 ultralytics YOLO ONNX (detect/pose) -> FP16 ONNX.")
    ap.add_argument("src", metavar="IN.onnx")
    ap.add_argument("dst", metavar="OUT.onnx")
    ap.add_argument("--fp16-io", action="store_true", help="float16 input and outputs (as ultralytics half=True)")
    ap.add_argument("--all-fp16", action="store_true", help="no FP32 head tail (for comparison)")
    args = ap.parse_args()
    try:
        report = convert_file(args.src, args.dst, fp16_io=args.fp16_io, all_fp16=args.all_fp16)
    except ConversionError as e:
        print(f"to_fp16: error: {args.src}: {e}", file=sys.stderr)
        return 2
    print(f"{args.dst}:")
    for k, v in report.items():
        print(f"  {k:<24} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
