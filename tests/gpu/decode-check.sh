#!/usr/bin/env bash
# The GPU visit for decode (issue 14 items 1, 3, 4; issue 12 item 1), one
# bounded run (under 90 s) on the lent machine (tests/gpu/README.md):
# after `make release && cargo build --release -p sv-bench` and pack.sh here,
# then there
#   bash .gpu-check/1/stage.sh; bash .gpu-check/2/stage.sh; source /tmp/sv-gpu/env.sh
#   bash tests/gpu/decode-check.sh            # from the project root
# Everything lands under $OUT (default out/gpu-decode-check): one log or JSON
# file per step and steps.tsv (step, exit code, seconds); summary.txt gathers
# the figures. A step that fails or times out does not stop the others.
#
# On the development machine (no GPU, GStreamer with avdec):
#   CPU_ONLY=1 bash tests/gpu/decode-check.sh
# uses target/release/sv-bench and /tmp/clip750.mp4 (made with ffmpeg when
# missing); `auto` then decodes with avdec_h264 like `off`.
set -uo pipefail
OUT=${OUT:-out/gpu-decode-check}
mkdir -p "$OUT"
: >"$OUT/steps.tsv"
BUDGET_S=${BUDGET_S:-85}
START=$(date +%s)
SV_BENCH=${SV_BENCH:-target/release/sv-bench}
CLIP=${CLIP750:-/tmp/clip750.mp4}
FIXTURE=tests/fixtures/clip/sample_720p.mp4
RUNS=${RUNS:-4}

# Pixels of the CPU decoder (avdec_h264, bit-exact with OpenCV) on the same
# files, recorded on the development machine with `sv-bench decode --digest`.
CLIP750_MD5=52829b4c8fc7f1b710bd253fd05aefdb   # pack.sh's ffmpeg command, this machine
CLIP750_PIXELS=72e4dff3e87669c61db5b3c65eeff82a
FIXTURE_PIXELS=edd838e1fb23532f1da3034a3673931e

if [ "${CPU_ONLY:-0}" = 1 ] && [ ! -f "$CLIP" ]; then
  ffmpeg -v error -y -stream_loop 14 -i "$FIXTURE" -frames:v 750 -c:v libx264 \
    -preset veryfast -crf 20 -pix_fmt yuv420p "$CLIP"
fi

# step NAME LIMIT_S COMMAND...: stdout to NAME.json, stderr to NAME.log.
step() {
  local name=$1 limit=$2; shift 2
  local left=$(( BUDGET_S - ($(date +%s) - START) ))
  if [ "$left" -le 2 ]; then
    printf '%s\tskipped\t0\n' "$name" | tee -a "$OUT/steps.tsv"
    return 0
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  local t0; t0=$(date +%s.%N)
  timeout --kill-after=3 "$limit" "$@" >"$OUT/$name.json" 2>"$OUT/$name.log"
  local rc=$?
  printf '%s\t%s\t%s\n' "$name" "$rc" "$(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}")" | tee -a "$OUT/steps.tsv"
  return 0
}

step env 10 bash -c "nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true; nproc; md5sum '$CLIP' '$FIXTURE'; '$SV_BENCH' --version || true"

# 1. Which decoders the registry has, ranked as the stage ranks them; `off`
#    must leave no hardware decoder autopluggable (exit 1 otherwise).
step decoders-off 20 "$SV_BENCH" decoders --hardware-decode off
step decoders-auto 20 "$SV_BENCH" decoders --hardware-decode auto

# 2. Decode alone, several clips in one process: run 1 pays the process's
#    costs (NVDEC's CUDA context), later runs what each further clip costs.
step decode-auto 25 "$SV_BENCH" decode "$CLIP" --runs "$RUNS" --hardware-decode auto
step decode-off 25 "$SV_BENCH" decode "$CLIP" --runs 2 --hardware-decode off

# 3. Are NVDEC's pixels the CPU decoder's? (MD5 of every frame's RGB.)
step pixels-fixture 15 "$SV_BENCH" decode "$FIXTURE" --runs 1 --digest --hardware-decode auto
step pixels-clip750 20 "$SV_BENCH" decode "$CLIP" --runs 1 --digest --hardware-decode auto

# 4. Conversion threads against NVDEC's rate (0 = automatic).
for t in 1 2 8; do
  step "threads-$t" 15 "$SV_BENCH" decode "$CLIP" --runs 2 --hardware-decode auto --convert-threads "$t"
done

# 5. A warm stage (warmed up at start as `serve` is) fed by a loopback server:
#    first frame after the first byte, and decoding while downloading
#    against downloading first.
step stream 30 "$SV_BENCH" stream "$CLIP" --rates 50,200 --runs 2 --hardware-decode auto

python3 - "$OUT" "$CLIP750_MD5" "$CLIP750_PIXELS" "$FIXTURE_PIXELS" >"$OUT/summary.txt" <<'PY' 2>&1
import json, os, statistics, sys
out, clip_md5, clip_pixels, fixture_pixels = sys.argv[1:5]

def load(name):
    try:
        with open(os.path.join(out, name + ".json")) as f:
            return json.load(f)
    except Exception as e:
        return None

for name in ("decoders-off", "decoders-auto"):
    d = load(name)
    if d:
        hw = [x["name"] + ":" + str(x["rank"]) for x in d["decoders"] if x["hardware"]]
        print(f"{name}: hardware {hw or 'none'}; H.264 order {d['h264_order'][:4]}; left on {d['hardware_left_on']}")
for name in ["decode-auto", "decode-off"] + [f"threads-{t}" for t in (1, 2, 8)]:
    d = load(name)
    if not d:
        print(f"{name}: no result"); continue
    r = d["runs"]
    warm = [x["fps"] for x in r[1:]] or [r[0]["fps"]]
    print(f"{name}: decoder {r[0]['decoder']}, {d['convert_threads']} convert threads "
          f"({d['convert_one_thread_ms']:.2f} ms/frame on one), cold {r[0]['fps']:.0f} fps "
          f"(first frame {r[0]['first_frame_s']*1e3:.0f} ms), warm median {statistics.median(warm):.0f} fps "
          f"(first frames {[round(x['first_frame_s']*1e3) for x in r[1:]]} ms), "
          f"pipelines/fds after each run {[(x['live_pipelines_after'], x['open_fds_after']) for x in r]}")
for name, want, note in (("pixels-fixture", fixture_pixels, ""), ("pixels-clip750", clip_pixels, clip_md5)):
    d = load(name)
    if not d or not d.get("digest"):
        print(f"{name}: no result"); continue
    got = d["digest"]
    verdict = "EQUAL to avdec" if got["md5"] == want else "DIFFERENT from avdec"
    print(f"{name}: {got['decoder']} {got['frames']} frames md5 {got['md5']} {verdict}"
          + (f" (valid only if the clip's md5 is {note}; see env.json/env.log)" if note else ""))
d = load("stream")
if d:
    for row in d["rates"]:
        last, first = row["median_last_frame_s"], row["median_first_frame_s"]
        print(f"stream {row['rate_mb_s']:g} MB/s: last frame streaming {last['streaming']:.3f} s vs "
              f"download-then-decode {last['download_then_decode']:.3f} s; first frame {first['streaming']*1e3:.0f} ms vs "
              f"{first['download_then_decode']*1e3:.0f} ms; first frame after first byte {row['median_first_frame_after_first_byte_s']*1e3:.0f} ms")
PY
cat "$OUT/summary.txt"
echo "total $(( $(date +%s) - START )) s; results in $OUT"
