#!/usr/bin/env bash
# Makes warmup.mp4: the tiny clip the decode stage decodes once per process
# at start-up (src/warm.rs) so the first challenge does not pay for the
# decoder's set-up. Two frames of ffmpeg's test pattern, H.264 High, 4:2:0,
# index first, the profile real clips use (NVDEC and the software decoders
# take the same path as for a challenge).
set -euo pipefail
cd "$(dirname "$0")"
ffmpeg -loglevel error -y -f lavfi -i testsrc2=size=160x96:rate=25 -frames:v 2 \
  -c:v libx264 -profile:v high -pix_fmt yuv420p -threads 1 \
  -movflags +faststart -map_metadata -1 -fflags +bitexact -flags:v +bitexact \
  warmup.mp4
ls -l warmup.mp4
