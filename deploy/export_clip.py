#!/usr/bin/env python3
"""Export CLIP ViT-B/32 (OpenAI weights) for `scorevision score --clip-image
--clip-text`: the image tower as ONNX, and the text embeddings of the 14
prompts the validator asks CLIP about.

    pip install -r deploy/clip-requirements.txt     # torch (CPU), transformers, onnx, onnxruntime
    python deploy/export_clip.py --out-dir models/

writes models/clip_image.onnx (input pixel_values float32 [batch, 3, 224, 224],
output image_embeds float32 [batch, 512], dynamic batch) and
models/clip_text.json ({"model": ..., "texts": {prompt: [512 floats]}}).

It needs a machine with internet access: it downloads
openai/clip-vit-base-patch32 from the Hugging Face hub (about 600 MB), the
checkpoint the validator's box score loads; its pitch filter loads the same
OpenAI weights through open_clip ("ViT-B-32", "openai"). The project's build
machines have no model hub, so this script was not run there; the scorer's
CLIP path is tested with a small random stand-in of the same shapes
(tests/fixtures/score/make_clip_fixture.py).

After exporting it checks the ONNX file against the PyTorch model on a few
random inputs (ONNX Runtime on the CPU) and prints the largest difference of
the unit-length embeddings; it fails above 1e-4.
"""
import argparse
import json
from pathlib import Path

# The validator's prompts (validator/utils/frame_filter.py and
# validator/evaluation/bbox_clip.py at score-vision 1791fe1), by question.
PROMPTS = [
    "a football pitch", "a close-up of a football player",
    "person", "grass",
    "a photo of a round object on grass", "a random object",
    "a small soccer ball on the field", "just grass without any ball", "other",
    "football player", "goalkeeper", "referee", "crowd", "black shape",
]
CHECKPOINT = "openai/clip-vit-base-patch32"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, default=Path("models"))
    ap.add_argument("--checkpoint", default=CHECKPOINT, help="a hub name or a local directory")
    ap.add_argument("--opset", type=int, default=17)
    args = ap.parse_args()

    import numpy as np
    import onnxruntime as ort
    import torch
    from transformers import CLIPModel, CLIPTokenizer

    args.out_dir.mkdir(parents=True, exist_ok=True)
    model = CLIPModel.from_pretrained(args.checkpoint).eval()
    tokenizer = CLIPTokenizer.from_pretrained(args.checkpoint)

    class ImageTower(torch.nn.Module):
        def __init__(self, clip):
            super().__init__()
            self.clip = clip

        def forward(self, pixel_values):
            return self.clip.get_image_features(pixel_values=pixel_values)

    image_path = args.out_dir / "clip_image.onnx"
    tower = ImageTower(model).eval()
    with torch.no_grad():
        torch.onnx.export(
            tower, (torch.zeros(1, 3, 224, 224),), str(image_path),
            input_names=["pixel_values"], output_names=["image_embeds"],
            dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}},
            opset_version=args.opset,
        )

    texts = {}
    with torch.no_grad():
        for prompt in PROMPTS:
            tokens = tokenizer([prompt], padding=True, truncation=True, return_tensors="pt")
            texts[prompt] = model.get_text_features(**tokens)[0].tolist()
    text_path = args.out_dir / "clip_text.json"
    text_path.write_text(json.dumps({"model": args.checkpoint, "texts": texts}) + "\n")

    session = ort.InferenceSession(str(image_path), providers=["CPUExecutionProvider"])
    x = torch.randn(4, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = tower(x).numpy()
    got = session.run(None, {"pixel_values": x.numpy()})[0]

    def unit(v):
        return v / np.linalg.norm(v, axis=-1, keepdims=True)

    diff = float(np.abs(unit(got) - unit(want)).max())
    print(f"{image_path}: {image_path.stat().st_size / 1e6:.1f} MB; {text_path}: {len(texts)} prompts; "
          f"ONNX vs PyTorch, largest difference of unit embeddings: {diff:.2e}")
    if diff > 1e-4:
        raise SystemExit("the ONNX export does not match the PyTorch model")


if __name__ == "__main__":
    main()
