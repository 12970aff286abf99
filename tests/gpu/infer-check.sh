#!/usr/bin/env bash
# The GPU visit for inference (issues 13, 14, 22 and 26), as one bounded run on the
# lent machine (tests/gpu/README.md): after
#   bash .gpu-check/2/stage.sh && source /tmp/sv-gpu/env.sh
# run `bash tests/gpu/infer-check.sh` from the project root. Every step has
# its own time limit and writes its output under $OUT (steps.tsv: name, exit
# code, seconds); steps are in order of importance, and the optional ones at
# the end are skipped once BUDGET_S seconds have gone, so a cut-off run still
# brings back everything before it.
#
# Runs here on the CPU too (CPU_ONLY=1: fixture models instead of x-size
# ones, the sample clip, the CPU provider), so the visit is one clean run.
set -uo pipefail
# The device tool brings back only a few files per call: everything is
# written under WORK and packed into $OUT/results.tgz when the script ends,
# however it ends. On the H200 each sweep row (x-size models) took about
# 30 s (models loaded and warmed, then 750 frames), hence the time limits.
RESULTS=${OUT:-out/gpu-check}
mkdir -p "$RESULTS"
OUT=$(mktemp -d /tmp/sv-check.XXXXXX)
trap 'tar czf "$RESULTS/results.tgz" -C "$OUT" .' EXIT
BUDGET_S=${BUDGET_S:-330}
START=$(date +%s)
SV=${SV:-target/release/scorevision}
SV_BENCH=${SV_BENCH:-target/release/sv-bench}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PY:-python3}  # with onnx and numpy, for to_fp16.py

if [ "${CPU_ONLY:-0}" = 1 ]; then
  CLIP=tests/fixtures/clip/sample_720p.mp4
  P32=tests/fixtures/models/players.onnx; Q32=tests/fixtures/models/pitch.onnx
  P16=/tmp/sv-check-players_fp16.onnx; Q16=/tmp/sv-check-pitch_fp16.onnx
  PROV=cpu
else
  CLIP=$CLIP750
  P32=/tmp/players_x.onnx; Q32=/tmp/pitch_x.onnx
  P16=/tmp/players_x_tofp16.onnx; Q16=/tmp/pitch_x_tofp16.onnx
  PROV=cuda
fi
MODELS=(--player "$P32" --pitch "$Q32" --player-fp16 "$P16" --pitch-fp16 "$Q16")
# A crash prints its call stack (services/cli/src/crash.rs): the exit-crash check.
export SV_CRASH_REPORT=1

# step NAME LIMIT_S COMMAND...: runs it with a time limit, output to NAME.log.
step() {
  local name=$1 limit=$2; shift 2
  local t0; t0=$(date +%s.%N)
  timeout --kill-after=5 "$limit" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  printf '%s\t%s\t%s\n' "$name" "$rc" "$(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}")" | tee -a "$OUT/steps.tsv"
  return $rc
}
elapsed() { echo $(( $(date +%s) - START )); }
optional() { [ "$(elapsed)" -lt "$BUDGET_S" ] || { echo "skipped $1 (budget)" | tee -a "$OUT/steps.tsv"; return 1; }; }

step env 20 bash -c 'nvidia-smi || true; '"$SV"' --version; python3 -c "import onnx, numpy; print(\"onnx\", onnx.__version__, \"numpy\", numpy.__version__)"; nproc'

# 1. The models: x-size FP32 (dynamic) and their FP16 versions (to_fp16.py).
if [ "${CPU_ONLY:-0}" != 1 ]; then
  step models 150 python3 /tmp/sv-gpu/make_x_models.py /tmp
fi
step fp16 180 bash -c "$PY deploy/to_fp16.py $P32 $P16 && $PY deploy/to_fp16.py $Q32 $Q16"

# 2. Parity on the GPU: the fixture models on the sample clip, CPU against
#    CUDA FP32 (TF32 off and on) and CUDA FP16.
FX=(tests/fixtures/clip/sample_720p.mp4 --player tests/fixtures/models/players.onnx --pitch tests/fixtures/models/pitch.onnx)
step parity-cpu 60 "$SV" process "${FX[@]}" --providers cpu --out "$OUT/parity-cpu.json"
step parity-cuda32 60 "$SV" process "${FX[@]}" --providers $PROV,cpu --precision fp32 --cuda-tf32 false --out "$OUT/parity-cuda32.json"
step parity-tf32 60 "$SV" process "${FX[@]}" --providers $PROV,cpu --precision fp32 --cuda-tf32 true --out "$OUT/parity-tf32.json"
step parity-cuda16 60 "$SV" process "${FX[@]}" --providers $PROV,cpu --player-fp16 tests/fixtures/models/players_fp16.onnx --pitch-fp16 tests/fixtures/models/pitch_fp16.onnx --precision fp16 --out "$OUT/parity-cuda16.json"
# Byte input must change nothing on the GPU either: compared with CUDA FP16.
step parity-cuda16-bytes 60 "$SV" process "${FX[@]}" --providers $PROV,cpu --player-fp16 tests/fixtures/models/players_fp16.onnx --pitch-fp16 tests/fixtures/models/pitch_fp16.onnx --precision fp16 --byte-input true --out "$OUT/parity-cuda16-bytes.json"
[ -f "$OUT/parity-cuda16-bytes.json" ] && [ -f "$OUT/parity-cuda16.json" ] && \
  python3 "$HERE/compare.py" "$OUT/parity-cuda16.json" "$OUT/parity-cuda16-bytes.json" cuda16-bytes >>"$OUT/parity.jsonl"
# So must I/O binding and a replayed CUDA graph (static shapes, padded batches).
step parity-cuda16-graph 60 "$SV" process "${FX[@]}" --providers $PROV,cpu --player-fp16 tests/fixtures/models/players_fp16.onnx --pitch-fp16 tests/fixtures/models/pitch_fp16.onnx --precision fp16 --pad-batches on --static-shapes true --io-binding true --cuda-graph true --out "$OUT/parity-cuda16-graph.json"
[ -f "$OUT/parity-cuda16-graph.json" ] && [ -f "$OUT/parity-cuda16.json" ] && \
  python3 "$HERE/compare.py" "$OUT/parity-cuda16.json" "$OUT/parity-cuda16-graph.json" cuda16-graph >>"$OUT/parity.jsonl"
for v in cuda32 tf32 cuda16; do
  [ -f "$OUT/parity-$v.json" ] && python3 "$HERE/compare.py" "$OUT/parity-cpu.json" "$OUT/parity-$v.json" "$v" >>"$OUT/parity.jsonl"
done

# 2b. Memory (issue 26): x-size models at 1536 px in batches of 32 under a
#     16 GB limit, as on a 16 GB card (RTX 5070 Ti). The log's profile line
#     says where each model's batch settled and why ("settled at warm-up:
#     ... (32 ran out of memory)"), "Memory limited." that the device's CUDA
#     arena took the cap (else a warning that each session's own did); the
#     answer is compared with batch 1's at the same size (mem.jsonl). On
#     the CPU (CPU_ONLY=1) the fixture models under a 256 MB arena settle
#     the same way.
if [ "${CPU_ONLY:-0}" = 1 ]; then MEM_MB=256; else MEM_MB=16384; fi
MEM=("$CLIP" "${MODELS[@]}" --providers $PROV,cpu --precision fp16 --player-imgsz 1536)
step mem-b1 150 "$SV" process "${MEM[@]}" --batch-size 1 --out "$OUT/mem-b1.json"
step mem-b32 150 "$SV" process "${MEM[@]}" --batch-size 32 --memory-limit-mb "$MEM_MB" --out "$OUT/mem-b32.json"
[ -f "$OUT/mem-b1.json" ] && [ -f "$OUT/mem-b32.json" ] && \
  python3 "$HERE/compare.py" "$OUT/mem-b1.json" "$OUT/mem-b32.json" "mem-b32-${MEM_MB}mb" >>"$OUT/mem.jsonl"

# 3. What the first visit (2026-11-30) left open: FP16 on the CUDA provider
#    ran at 12-16 ms a frame plus about 95 ms per run (batch 16, 2 lanes:
#    12.0 s for 750 frames). One row each, batch 16 and 2 lanes, end to end:
#    FP32 against FP16 in the same visit, NHWC convolutions, cuDNN's
#    heuristic algorithm choice, byte input (a quarter of the bytes to copy,
#    scaled on the device), static shapes (the 36 nodes ONNX Runtime put on
#    the CPU were likely the dynamic export's shape arithmetic, which static
#    shapes fold: 304 -> 221 nodes for the fixture player model), both, and
#    the float16-I/O file (half the bytes), I/O binding (page-locked buffers
#    the letterbox writes, DMA copies) and CUDA graphs (one replay instead
#    of hundreds of kernel launches per run; they need static shapes and
#    binding). The log of each names the operators ONNX Runtime put on the
#    CPU and the profile line says whether the graph was refused.
ONE=(--sweep-providers $PROV --sweep-batch 16 --sweep-lanes 2 --runs 1)
step v-fp32 120 "$SV" bench "$CLIP" "${MODELS[@]}" "${ONE[@]}" --sweep-precisions fp32 --json "$OUT/v-fp32.json"
step v-fp16 120 "$SV" bench "$CLIP" "${MODELS[@]}" "${ONE[@]}" --sweep-precisions fp16 --json "$OUT/v-fp16.json"
step v-bytes 120 "$SV" bench "$CLIP" "${MODELS[@]}" "${ONE[@]}" --sweep-precisions fp16 --byte-input true --json "$OUT/v-bytes.json"
step v-static 120 "$SV" bench "$CLIP" "${MODELS[@]}" "${ONE[@]}" --sweep-precisions fp16 --static-shapes true --json "$OUT/v-static.json"
step v-bytes-static 120 "$SV" bench "$CLIP" "${MODELS[@]}" "${ONE[@]}" --sweep-precisions fp16 --byte-input true --static-shapes true --json "$OUT/v-bytes-static.json"
BOUND=(--static-shapes true --io-binding true)
step v-bind 120 "$SV" bench "$CLIP" "${MODELS[@]}" "${ONE[@]}" --sweep-precisions fp16 "${BOUND[@]}" --json "$OUT/v-bind.json"
step v-graph 120 "$SV" bench "$CLIP" "${MODELS[@]}" "${ONE[@]}" --sweep-precisions fp16 "${BOUND[@]}" --cuda-graph true --json "$OUT/v-graph.json"
step v-bytes-graph 120 "$SV" bench "$CLIP" "${MODELS[@]}" "${ONE[@]}" --sweep-precisions fp16 --byte-input true "${BOUND[@]}" --cuda-graph true --json "$OUT/v-bytes-graph.json"
step v-nhwc 120 "$SV" bench "$CLIP" "${MODELS[@]}" "${ONE[@]}" --sweep-precisions fp16 --cuda-nhwc true --json "$OUT/v-nhwc.json"
step v-heuristic 120 "$SV" bench "$CLIP" "${MODELS[@]}" "${ONE[@]}" --sweep-precisions fp16 --cudnn-conv-search heuristic --json "$OUT/v-heuristic.json"
step fp16io 180 bash -c "$PY deploy/to_fp16.py $P32 ${P16%.onnx}io.onnx --fp16-io && $PY deploy/to_fp16.py $Q32 ${Q16%.onnx}io.onnx --fp16-io"
step v-fp16io 120 "$SV" bench "$CLIP" --player "$P32" --pitch "$Q32" --player-fp16 "${P16%.onnx}io.onnx" \
  --pitch-fp16 "${Q16%.onnx}io.onnx" "${ONE[@]}" --sweep-precisions fp16 --json "$OUT/v-fp16io.json"

# The fastest of those, as flags for the rest (FP16 plain if none answered):
# its precision, then its provider options.
mapfile -t VARIANT < <(python3 - "$OUT" <<'PY' || printf '%s\n' fp16
import glob, json, os, sys
flags = {"v-fp32": ["fp32"], "v-fp16": ["fp16"], "v-bytes": ["fp16", "--byte-input", "true"],
         "v-static": ["fp16", "--static-shapes", "true"],
         "v-bytes-static": ["fp16", "--byte-input", "true", "--static-shapes", "true"],
         "v-bind": ["fp16", "--static-shapes", "true", "--io-binding", "true"],
         "v-graph": ["fp16", "--static-shapes", "true", "--io-binding", "true", "--cuda-graph", "true"],
         "v-bytes-graph": ["fp16", "--byte-input", "true", "--static-shapes", "true", "--io-binding", "true",
                           "--cuda-graph", "true"],
         "v-nhwc": ["fp16", "--cuda-nhwc", "true"],
         "v-heuristic": ["fp16", "--cudnn-conv-search", "heuristic"]}
best = None
for name, f in flags.items():
    path = os.path.join(sys.argv[1], name + ".json")
    rows = [r for r in json.load(open(path)) if not r["error"]] if os.path.exists(path) else []
    if rows and (best is None or rows[0]["seconds"] < best[0]):
        best = (rows[0]["seconds"], f)
print("\n".join(best[1]))
PY
)
PREC=${VARIANT[0]}; OPTS=("${VARIANT[@]:1}")
echo "best variant: $PREC ${OPTS[*]}" | tee -a "$OUT/steps.tsv"

# Batch sizes and lanes with that variant.
step sweep 300 "$SV" bench "$CLIP" "${MODELS[@]}" --sweep-providers $PROV --sweep-precisions "$PREC" "${OPTS[@]}" \
  --sweep-batch 8,16,32 --sweep-lanes 1,2,3 --runs 1 --json "$OUT/sweep.json"
read -r BEST_B BEST_L < <(python3 - "$OUT/sweep.json" <<'PY' || echo "16 2"
import json, sys
rows = [r for r in json.load(open(sys.argv[1])) if not r["error"]]
b = min(rows, key=lambda r: r["seconds"])
print(b["batch_size"], b["lanes"])
PY
)
BEST=(--providers $PROV,cpu --precision "$PREC" "${OPTS[@]}" --batch-size "$BEST_B" --lanes "$BEST_L")
echo "best: ${BEST[*]}" | tee -a "$OUT/steps.tsv"

# 4. ONNX Runtime alone on the same prepared batches (the efficiency bound).
step ort-alone 150 "$SV_BENCH" stages "$CLIP" --player "$P32" --pitch "$Q32" --player-fp16 "$P16" --pitch-fp16 "$Q16" \
  "${BEST[@]}" --runs 2

# 5. End to end as a miner runs it: the best setting with NVDEC and with
#    software decode (exit codes and SV_CRASH_REPORT are the crash check).
step e2e-best 90 "$SV" process "$CLIP" "${MODELS[@]}" "${BEST[@]}" --out "$OUT/e2e-best.json"
step e2e-swdecode 90 "$SV" process "$CLIP" "${MODELS[@]}" "${BEST[@]}" --hardware-decode off --out "$OUT/e2e-swdecode.json"

# 5b. The infer interval (issue 22): the best setting with the models on
#     every frame, one in 2 and one in 3, in one sweep (the same process, so
#     the times compare); each interval's box agreement with the every-frame
#     answer is in interval.json and the recommendation holds it to 0.95.
#     The x-size models have random weights, so the agreement here says
#     little; the times say what the interval saves on a GPU. Then the
#     interval's answer end to end, for the exit code and the summary line
#     (frames inferred, between keyframes, filled).
step interval 240 "$SV" bench "$CLIP" "${MODELS[@]}" --sweep-providers $PROV --sweep-precisions "$PREC" "${OPTS[@]}" \
  --sweep-batch "$BEST_B" --sweep-lanes "$BEST_L" --sweep-interval 1,2,3 --min-agreement 0.95 --runs 1 \
  --json "$OUT/interval.json"
step e2e-interval2 90 "$SV" process "$CLIP" "${MODELS[@]}" "${BEST[@]}" --infer-interval 2 --out "$OUT/e2e-interval2.json"

# 6. Decode alone: NVDEC and software fps, first frame, streaming (decode-check.sh).
if [ -f "$HERE/decode-check.sh" ]; then
  optional decode && step decode-check 120 env OUT="$OUT/decode" bash "$HERE/decode-check.sh"
fi

# 7. NHWC on the best FP16 setting; the PyTorch peer (decode not timed); the
#    default provider list (TensorRT first: it must fall back to CUDA and say why).
if [ "${CPU_ONLY:-0}" != 1 ]; then
  optional peer && step peer-fp16b4 120 python3 /tmp/sv-gpu/peer.py "$CLIP" 250 fp16b4
fi
optional default && step e2e-default 90 "$SV" process "$CLIP" "${MODELS[@]}" --out "$OUT/e2e-default.json"
optional options && step opt-tf32 120 "$SV" bench "$CLIP" "${MODELS[@]}" --sweep-providers $PROV --sweep-precisions fp32 \
  --sweep-batch "$BEST_B" --sweep-lanes "$BEST_L" --runs 1 --cuda-tf32 true --json "$OUT/opt-tf32.json"

# 8. ultralytics' own FP16 export (half=True: static, float16 I/O, batch 1).
if [ "${CPU_ONLY:-0}" != 1 ]; then
  optional half && step half-export 120 python3 /tmp/sv-gpu/make_x_models.py /tmp --half \
    && step e2e-ultralytics-half 90 "$SV" process "$CLIP" --player /tmp/players_x_fp16.onnx --pitch /tmp/pitch_x_fp16.onnx \
      --providers $PROV,cpu --out "$OUT/e2e-half.json"
fi
echo "done in $(elapsed) s" | tee -a "$OUT/steps.tsv"
