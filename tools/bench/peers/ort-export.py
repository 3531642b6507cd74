#!/usr/bin/env python3
"""Exports the HF CLIPModel's two towers to ONNX, quantizes them with ONNX Runtime's dynamic int8,
and writes the benchmark inputs and the PyTorch float reference embeddings into WORKDIR.

    VENV/bin/python tools/bench/peers/ort-export.py CHECKPOINT_DIR WORKDIR

tools/bench/bench-peers.py runs this in a child process (so torch is never loaded in the process
that times ONNX Runtime) and skips it when WORKDIR/manifest.json matches the checkpoint.

Files in WORKDIR:
  image.png, pixels.npy                  the 224x224 image and its [1,3,224,224] tensor
  ids_short.npy, ids_long.npy            [1,77] int64 token ids (HF pads with <|endoftext|>)
  ids_labels.npy                         [3,77] the prompts "a photo of a {cat,dog,car}."
  vision_fp32.onnx, text_fp32.onnx       torch.onnx.export, opset 17, legacy (TorchScript) exporter
  vision_int8.onnx, text_int8.onnx       quantize_dynamic(weight_type=QInt8), defaults otherwise
  ref_image.npy, ref_text_short.npy, ref_text_long.npy, ref_text_labels.npy
                                         PyTorch float32 embeddings (projected, not normalized)
  manifest.json                          prompts, settings, file sizes, ONNX-vs-PyTorch cosines
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from transformers import CLIPImageProcessor, CLIPModel, CLIPTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
import inputs  # noqa: E402

OPSET = 17
LABELS = ["cat", "dog", "car"]
LABEL_TEMPLATE = "a photo of a {}."
# Bump when the export or the inputs change, so cached work dirs are rebuilt.
EXPORT_VERSION = 1

# quantize_dynamic's arguments, written into the manifest and docs/benchmarks.md. Everything not
# named is ONNX Runtime's default: per_channel=False (one scale per weight tensor),
# reduce_range=False, all op types it supports (MatMul, Gather, Attention, ...), no
# quant_pre_process step: what a user following the ONNX Runtime docs gets.
QUANT_ARGS = dict(weight_type=QuantType.QInt8)

torch.set_grad_enabled(False)


class VisionTower(torch.nn.Module):
    """pixel_values [B,3,224,224] -> image_embeds [B,512] (ln_post(cls) @ proj)."""

    def __init__(self, model):
        super().__init__()
        self.vision_model, self.proj = model.vision_model, model.visual_projection

    def forward(self, pixel_values):
        return self.proj(self.vision_model(pixel_values=pixel_values).pooler_output)


class TextTower(torch.nn.Module):
    """input_ids [B,77] -> text_embeds [B,512], pooled at the first <|endoftext|>. All 77
    positions are computed: that is what the exported graph (and so ONNX Runtime) does."""

    def __init__(self, model):
        super().__init__()
        self.text_model, self.proj = model.text_model, model.text_projection

    def forward(self, input_ids):
        return self.proj(self.text_model(input_ids=input_ids).pooler_output)


def cosine(a, b):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def fingerprint(ckpt):
    st = (ckpt / "model.safetensors").stat()
    return {"checkpoint": str(ckpt), "bytes": st.st_size, "mtime": st.st_mtime,
            "export_version": EXPORT_VERSION}


def export(module, example, path, input_name, output_name):
    torch.onnx.export(module, (example,), str(path), opset_version=OPSET, dynamo=False,
                      input_names=[input_name], output_names=[output_name],
                      dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}})


def run_onnx(path, feed):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, feed)[0]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    ckpt, work = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    work.mkdir(parents=True, exist_ok=True)
    manifest_path = work / "manifest.json"
    if manifest_path.exists() and json.loads(manifest_path.read_text()).get("fingerprint") == fingerprint(ckpt):
        print(f"ort-export: {work} is up to date", file=sys.stderr)
        return

    model = CLIPModel.from_pretrained(str(ckpt), attn_implementation="eager").eval()
    tok = CLIPTokenizer.from_pretrained(str(ckpt))
    proc = CLIPImageProcessor.from_pretrained(str(ckpt))

    # Inputs. The tensor is checked against HF's own image processor on the same file.
    inputs.write_image(work / "image.png")
    px = inputs.pixels(work / "image.png", proc.image_mean, proc.image_std)
    from PIL import Image
    hf_px = proc(images=Image.open(work / "image.png"), return_tensors="np")["pixel_values"]
    pixel_diff = float(np.abs(hf_px - px).max())
    np.save(work / "pixels.npy", px)

    def ids(texts):
        return tok(texts, padding="max_length", max_length=inputs.CONTEXT, return_tensors="np")["input_ids"].astype(np.int64)

    long_text = inputs.long_prompt(lambda t: len(tok(t)["input_ids"]))
    label_texts = [LABEL_TEMPLATE.format(label) for label in LABELS]
    feeds = {"short": ids([inputs.SHORT_PROMPT]), "long": ids([long_text]), "labels": ids(label_texts)}
    for name, value in feeds.items():
        np.save(work / f"ids_{name}.npy", value)

    # PyTorch float reference.
    vision, text = VisionTower(model).eval(), TextTower(model).eval()
    ref = {"image": vision(torch.from_numpy(px)).numpy()}
    for name, value in feeds.items():
        ref[f"text_{name}"] = text(torch.from_numpy(value)).numpy()
    for name, value in ref.items():
        np.save(work / f"ref_{name}.npy", value)

    # Export, quantize, verify.
    t0 = time.time()
    export(vision, torch.from_numpy(np.repeat(px, 2, axis=0)), work / "vision_fp32.onnx", "pixel_values", "image_embeds")
    export(text, torch.from_numpy(feeds["labels"]), work / "text_fp32.onnx", "input_ids", "text_embeds")
    t_export = time.time() - t0
    t0 = time.time()
    for tower in ("vision", "text"):
        quantize_dynamic(str(work / f"{tower}_fp32.onnx"), str(work / f"{tower}_int8.onnx"), **QUANT_ARGS)
    t_quant = time.time() - t0

    checks = {}
    for variant in ("fp32", "int8"):
        got = run_onnx(work / f"vision_{variant}.onnx", {"pixel_values": np.repeat(px, 8, axis=0)})
        checks[f"vision_{variant}"] = min(cosine(g, ref["image"]) for g in got)
        for name, value in feeds.items():
            got = run_onnx(work / f"text_{variant}.onnx", {"input_ids": value})
            checks[f"text_{variant}_{name}"] = min(cosine(g, r) for g, r in zip(got, ref[f"text_{name}"]))
    for key, value in checks.items():
        print(f"ort-export: cosine(ONNX {key}, PyTorch) = {value:.6f}", file=sys.stderr)

    manifest = {
        "fingerprint": fingerprint(ckpt),
        "short_prompt": inputs.SHORT_PROMPT, "long_prompt": long_text, "label_prompts": label_texts,
        "tokens": {name: int((value[0] == tok.eos_token_id).argmax()) + 1 for name, value in feeds.items()},
        "pixel_max_abs_diff_vs_CLIPImageProcessor": pixel_diff,
        "onnx": {"opset": OPSET, "exporter": "torch.onnx.export(dynamo=False)", "torch": torch.__version__,
                 "onnxruntime": ort.__version__, "attn_implementation": "eager",
                 "quantize_dynamic": {k: str(v) for k, v in QUANT_ARGS.items()},
                 "export_seconds": round(t_export, 1), "quantize_seconds": round(t_quant, 1),
                 "bytes": {p.name: p.stat().st_size for p in sorted(work.glob("*.onnx"))}},
        "onnx_vs_pytorch_cosine": checks,
    }
    manifest_path.write_text(json.dumps(manifest, indent=1))


if __name__ == "__main__":
    main()
