#!/usr/bin/env python3
"""The reference miner's video loop, for timing: what score-vision's
`process_soccer_video` (miner/endpoints/soccer.py @1791fe1, PARITY.md "Scope")
does with a downloaded clip, on the same ONNX models our pipeline runs.

- Models are loaded before the clock starts, as the miner's ModelManager does
  at start-up: `YOLO(pitch, task="pose")`, `YOLO(players, task="detect")`.
- The clock covers what the miner's `processing_time` covers: the
  VideoProcessor readability check (open + read one frame), then an asyncio
  loop that reads each frame with `cv2.VideoCapture.read` in the default
  executor, runs the pitch model on it, `sv.KeyPoints.from_ultralytics`, the
  player model with imgsz=1280, `sv.Detections.from_ultralytics`,
  `sv.ByteTrack().update_with_detections`, and builds the frame's JSON dict.
- --warm-up (on by default) first runs both models once on the clip's first
  frame, untimed: a miner that has answered one challenge is warm, and this
  keeps ORT's first-run allocations out of the reference's time.

Prints one JSON object on stdout: frames, processing_time (s), and counts that
let the driver check both sides saw the same content.
"""
import argparse
import asyncio
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("YOLO_OFFLINE", "true")
os.environ.setdefault("YOLO_CONFIG_DIR", os.path.join(tempfile.gettempdir(), "sv-bench-yolo-config"))
os.makedirs(os.environ["YOLO_CONFIG_DIR"], exist_ok=True)

import cv2  # noqa: E402
import supervision as sv  # noqa: E402
from ultralytics import YOLO  # noqa: E402
from ultralytics.utils import SETTINGS  # noqa: E402

SETTINGS.update({"sync": False})


async def stream_frames(video_path):
    """The miner's VideoProcessor.stream_frames: cap.read in the default executor."""
    cap = cv2.VideoCapture(str(video_path))
    if not cap.isOpened():
        raise ValueError(f"Could not open video file: {video_path}")
    try:
        frame_count = 0
        while True:
            ret, frame = await asyncio.get_event_loop().run_in_executor(None, cap.read)
            if not ret:
                break
            yield frame_count, frame
            frame_count += 1
            await asyncio.sleep(0)
    finally:
        cap.release()


async def ensure_video_readable(video_path):
    cap = cv2.VideoCapture(str(video_path))
    if not cap.isOpened():
        return False
    ret, _ = cap.read()
    cap.release()
    return ret


async def process_soccer_video(video_path, player_model, pitch_model):
    start_time = time.time()
    if not await ensure_video_readable(video_path):
        raise RuntimeError("Video file is not readable or corrupted")
    tracker = sv.ByteTrack()
    tracking_data = {"frames": []}
    async for frame_number, frame in stream_frames(video_path):
        pitch_result = pitch_model(frame, verbose=False)[0]
        keypoints = sv.KeyPoints.from_ultralytics(pitch_result)
        player_result = player_model(frame, imgsz=1280, verbose=False)[0]
        detections = sv.Detections.from_ultralytics(player_result)
        detections = tracker.update_with_detections(detections)
        tracking_data["frames"].append({
            "frame_number": int(frame_number),
            "keypoints": keypoints.xy[0].tolist() if keypoints and keypoints.xy is not None else [],
            "objects": [
                {"id": int(tracker_id), "bbox": [float(x) for x in bbox], "class_id": int(class_id)}
                for tracker_id, bbox, class_id in zip(detections.tracker_id, detections.xyxy, detections.class_id)
            ] if detections and detections.tracker_id is not None else [],
        })
    tracking_data["processing_time"] = time.time() - start_time
    return tracking_data


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("clip")
    ap.add_argument("--player", required=True)
    ap.add_argument("--pitch", required=True)
    ap.add_argument("--no-warm-up", dest="warm_up", action="store_false")
    ap.add_argument("--out", help="also write the frames' JSON here")
    args = ap.parse_args()

    pitch_model = YOLO(args.pitch, task="pose")
    player_model = YOLO(args.player, task="detect")
    if args.warm_up:
        cap = cv2.VideoCapture(args.clip)
        ok, frame = cap.read()
        cap.release()
        if not ok:
            sys.exit(f"reference: cannot read {args.clip}")
        pitch_model(frame, verbose=False)
        player_model(frame, imgsz=1280, verbose=False)

    data = asyncio.run(process_soccer_video(args.clip, player_model, pitch_model))
    frames = data["frames"]
    if args.out:
        with open(args.out, "w") as f:
            json.dump(frames, f)
    print(json.dumps({
        "frames": len(frames),
        "processing_time": data["processing_time"],
        "objects": sum(len(f["objects"]) for f in frames),
        "with_pitch": sum(1 for f in frames if f["keypoints"]),
    }))


if __name__ == "__main__":
    main()
