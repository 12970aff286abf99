#!/usr/bin/env python3
"""Compares two miner answers (the validator JSON) frame by frame: tracked
objects matched one to one (same class, IoU >= 0.9), the ids they carry, and
the keypoints. For checking a GPU run against the CPU run of the same clip.

  compare.py REFERENCE.json OTHER.json [LABEL]   prints one JSON line"""
import json
import sys


def iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def main():
    ref = json.load(open(sys.argv[1]))["frames"]
    other = json.load(open(sys.argv[2]))["frames"]
    label = sys.argv[3] if len(sys.argv) > 3 else sys.argv[2]
    n_ref = n_other = matched = exact = 0
    ids = {}
    kp_worst, kp_frames_differ = 0.0, 0
    for a, b in zip(ref, other):
        n_ref += len(a["objects"])
        n_other += len(b["objects"])
        pairs = sorted(
            ((iou(x["bbox"], y["bbox"]), i, j)
             for i, x in enumerate(a["objects"]) for j, y in enumerate(b["objects"])
             if x["class_id"] == y["class_id"]),
            reverse=True)
        used_a, used_b = set(), set()
        for overlap, i, j in pairs:
            if overlap < 0.9 or i in used_a or j in used_b:
                continue
            used_a.add(i); used_b.add(j); matched += 1
            exact += a["objects"][i]["bbox"] == b["objects"][j]["bbox"]
            key = (a["objects"][i]["id"], b["objects"][j]["id"])
            ids[key] = ids.get(key, 0) + 1
        if len(a["keypoints"]) != len(b["keypoints"]):
            kp_frames_differ += 1
        else:
            for p, q in zip(a["keypoints"], b["keypoints"]):
                if (p == [0.0, 0.0]) != (q == [0.0, 0.0]):
                    continue
                kp_worst = max(kp_worst, abs(p[0] - q[0]), abs(p[1] - q[1]))
    # one-to-one id agreement, greedy by count
    agree, seen_a, seen_b = 0, set(), set()
    for (ia, ib), n in sorted(ids.items(), key=lambda kv: -kv[1]):
        if ia in seen_a or ib in seen_b:
            continue
        seen_a.add(ia); seen_b.add(ib); agree += n
    print(json.dumps({
        "label": label,
        "frames": [len(ref), len(other)],
        "objects": [n_ref, n_other],
        "recall": round(matched / max(n_ref, 1), 4),
        "precision": round(matched / max(n_other, 1), 4),
        "identical_boxes": round(exact / max(matched, 1), 4),
        "id_agreement": round(agree / max(matched, 1), 4),
        "keypoints_max_px": round(kp_worst, 3),
        "keypoint_count_differs_frames": kp_frames_differ,
        "identical_json_frames": sum(x == y for x, y in zip(ref, other)),
    }))


if __name__ == "__main__":
    main()
