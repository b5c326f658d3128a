#!/usr/bin/env python3
"""Export a Hugging Face CLIP checkpoint into the layout Vista loads.

    pip install "torch>=2.1" "transformers>=4.40" onnx
    python scripts/export_clip_onnx.py openai/clip-vit-base-patch32 models/clip-vit-b-32 [--fp16]

Writes config.json, preprocessor_config.json, tokenizer.json and
onnx/vision_model.onnx (pixel_values -> image_embeds) and onnx/text_model.onnx
(input_ids, attention_mask -> text_embeds), the layout of Hugging Face's
split-modality ONNX exports (e.g. Xenova/clip-vit-base-patch32), with a dynamic batch axis.
"""
import argparse
import os

import torch
from transformers import (
    CLIPImageProcessor,
    CLIPTextModelWithProjection,
    CLIPTokenizerFast,
    CLIPVisionModelWithProjection,
    CLIPConfig,
)


class Vision(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pixel_values):
        return self.model(pixel_values=pixel_values).image_embeds


class Text(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask).text_embeds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model_id")
    parser.add_argument("out_dir")
    parser.add_argument("--fp16", action="store_true", help="export fp16 weights and I/O (needs a CUDA GPU)")
    args = parser.parse_args()

    os.makedirs(os.path.join(args.out_dir, "onnx"), exist_ok=True)
    CLIPConfig.from_pretrained(args.model_id).save_pretrained(args.out_dir)
    CLIPImageProcessor.from_pretrained(args.model_id).save_pretrained(args.out_dir)
    CLIPTokenizerFast.from_pretrained(args.model_id).save_pretrained(args.out_dir)  # writes tokenizer.json

    device = "cuda" if args.fp16 else "cpu"
    dtype = torch.float16 if args.fp16 else torch.float32
    vision = Vision(CLIPVisionModelWithProjection.from_pretrained(args.model_id)).to(device, dtype).eval()
    text = Text(CLIPTextModelWithProjection.from_pretrained(args.model_id)).to(device, dtype).eval()
    size = vision.model.config.image_size

    torch.onnx.export(
        vision,
        (torch.randn(2, 3, size, size, device=device, dtype=dtype),),
        os.path.join(args.out_dir, "onnx", "vision_model.onnx"),
        input_names=["pixel_values"],
        output_names=["image_embeds"],
        dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}},
        opset_version=17,
    )
    ids = torch.ones(2, 77, dtype=torch.long, device=device)
    torch.onnx.export(
        text,
        (ids, torch.ones_like(ids)),
        os.path.join(args.out_dir, "onnx", "text_model.onnx"),
        input_names=["input_ids", "attention_mask"],
        output_names=["text_embeds"],
        dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"}, "text_embeds": {0: "batch"}},
        opset_version=17,
    )
    print(f"wrote {args.out_dir}")


if __name__ == "__main__":
    main()
