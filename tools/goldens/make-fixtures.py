#!/usr/bin/env python3
"""Random-weight CLIP checkpoints of the real architectures, and the golden values the Swift
tests compare with. Deterministic (fixed seeds, CPU, float32); rerun it and the tensors come
out the same.

Run from the repository root:

    VENV/bin/python tools/goldens/make-fixtures.py
        writes Tests/Fixtures/tiny-hf/, Tests/Fixtures/tiny-openclip/, Tests/Fixtures/safetensors/
        and refreshes the generated key listing in docs/fixtures.md

    VENV/bin/python tools/goldens/make-fixtures.py --vit-b32 B32_DIR
        local check only (about 1.2 GB, never committed): the real ViT-B/32 shapes in both
        layouts, OUTDIR/hf/ and OUTDIR/openclip/, with the same golden names

    VENV/bin/python tools/goldens/make-fixtures.py --vit-b16 B16_DIR   (about 600 MB)
    VENV/bin/python tools/goldens/make-fixtures.py --vit-l14 L14_DIR   (about 1.7 GB)
        local only, never committed: random weights of the real ViT-B/16 and ViT-L/14 shapes,
        OUTDIR/hf/ only and no goldens (tools/bench/memory-budget.sh measures memory with them);
        add --hf-only to --vit-b32 for the same there

References: transformers 5.24 (CLIPModel, CLIPProcessor), open_clip_torch 3.3.0, Pillow 13.
docs/fixtures.md documents every file and tensor name; tools/goldens/reference.py holds the
plain-torch forward pass and the name mapping both libraries are checked against.
"""

import argparse
import gzip
import json
import math
import re
import sys
import time
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

import open_clip
import transformers
from open_clip.tokenizer import bytes_to_unicode, default_bpe
from transformers import CLIPConfig, CLIPModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference as ref  # noqa: E402
from e2e import (dump_json, fresh_dir, hf_e2e, make_dtypes, make_images,  # noqa: E402
                 maxdiff, openclip_e2e, same)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "Tests" / "Fixtures"
DOC = ROOT / "docs" / "fixtures.md"

OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]

# Architectures. mlp width is 4 * width in both.
TINY = dict(image=32, patch=8, v_width=32, v_layers=2, v_heads=4,
            context=77, vocab=49408, t_width=32, t_layers=2, t_heads=4, embed=16)
VIT_B32 = dict(image=224, patch=32, v_width=768, v_layers=12, v_heads=12,
               context=77, vocab=49408, t_width=512, t_layers=12, t_heads=8, embed=512)

# Golden text inputs: short, empty (SOT+EOT only), punctuation/digits/non-ASCII, and one
# longer than the context so open_clip truncates it and forces EOT into slot 76.
TEXTS = [
    "a photo of a cat",
    "",
    "Hello, World! 123 naïve café: it's 2 o'clock & the dogs' bowls are EMPTY.",
    " ".join(["a long caption that keeps going"] * 16),
]

torch.set_grad_enabled(False)
torch.use_deterministic_algorithms(True)


# ----------------------------------------------------------------------------------------
# Models

def hf_config(a, act):
    return CLIPConfig(
        text_config=dict(vocab_size=a["vocab"], max_position_embeddings=a["context"],
                         hidden_size=a["t_width"], num_hidden_layers=a["t_layers"],
                         num_attention_heads=a["t_heads"], intermediate_size=4 * a["t_width"],
                         hidden_act=act, projection_dim=a["embed"]),
        vision_config=dict(image_size=a["image"], patch_size=a["patch"], hidden_size=a["v_width"],
                           num_hidden_layers=a["v_layers"], num_attention_heads=a["v_heads"],
                           intermediate_size=4 * a["v_width"], hidden_act=act,
                           projection_dim=a["embed"]),
        projection_dim=a["embed"])


def openclip_model_cfg(a, quick_gelu):
    """model_cfg as HF-hub open_clip repos write it (heads of the vision tower via head_width)."""
    return dict(
        embed_dim=a["embed"], quick_gelu=quick_gelu,
        vision_cfg=dict(image_size=a["image"], layers=a["v_layers"], width=a["v_width"],
                        head_width=a["v_width"] // a["v_heads"], patch_size=a["patch"]),
        text_cfg=dict(context_length=a["context"], vocab_size=a["vocab"], width=a["t_width"],
                      heads=a["t_heads"], layers=a["t_layers"]))


def new_hf(a, act, seed):
    torch.manual_seed(seed)
    model = CLIPModel(hf_config(a, act)).eval()
    randomize(model, seed)
    return model


def new_openclip(a, quick_gelu, seed):
    torch.manual_seed(seed)
    cfg = openclip_model_cfg(a, quick_gelu)
    model = open_clip.CLIP(**cfg).eval()
    randomize(model, seed)
    return model


def randomize(model, seed):
    """Overwrite every parameter so that nothing is trivially 0 or 1 and activations stay O(1).

    Matrices ~ N(0, 1/fan_in) (attention logits then have unit scale, so softmax is far from
    uniform); LayerNorm weights 1 + N(0, 0.1^2), LayerNorm and all other biases N(0, 0.1^2);
    token / class embeddings N(0, 0.5^2), position embeddings N(0, 0.2^2);
    logit_scale = ln(1/0.07) + U(-0.5, 0.5). Parameters are visited in sorted name order.
    """
    g = torch.Generator().manual_seed(seed)
    ln = set()
    for mname, mod in model.named_modules():
        if isinstance(mod, nn.LayerNorm):
            ln |= {f"{mname}.weight", f"{mname}.bias"}
    for name, p in sorted(model.named_parameters()):
        n = torch.randn(p.shape, generator=g)
        if name in ln:
            v = 1 + 0.1 * n if name.endswith("weight") else 0.1 * n
        elif name == "logit_scale":
            v = torch.full(p.shape, math.log(1 / 0.07)) + torch.rand(p.shape, generator=g) - 0.5
        elif name.endswith("bias"):
            v = 0.1 * n
        elif "token_embedding" in name or "class_embedding" in name:
            v = 0.5 * n
        elif "position" in name:
            v = 0.2 * n
        elif name in ("visual.proj", "text_projection"):  # OpenCLIP [in, out], used as x @ W
            v = n / math.sqrt(p.shape[0])
        elif p.ndim == 2:  # Linear / in_proj [out, in]
            v = n / math.sqrt(p.shape[1])
        elif p.ndim == 4:  # patch conv [D, 3, p, p]
            v = n / math.sqrt(p[0].numel())
        else:
            raise ValueError(f"randomize: no rule for {name} {tuple(p.shape)}")
        p.copy_(v)


# ----------------------------------------------------------------------------------------
# Goldens: library forward with per-layer capture, held to the plain reference

def golden_inputs(n_images, image_size, seed):
    g = torch.Generator().manual_seed(seed)
    pixels = torch.randn(n_images, 3, image_size, image_size, generator=g)
    ids = open_clip.tokenize(TEXTS)  # [M, 77] int64, 0-padded
    return pixels, ids


def hf_goldens(model, pixels, ids):
    vo = model.vision_model(pixel_values=pixels, output_hidden_states=True)
    to = model.text_model(input_ids=ids, output_hidden_states=True)
    image_embeds = model.visual_projection(vo.pooler_output)
    text_embeds = model.text_projection(to.pooler_output)
    # The public entry points must agree with the captured path.
    same(model.get_image_features(pixel_values=pixels).pooler_output, image_embeds, 0, "hf image")
    same(model.get_text_features(input_ids=ids).pooler_output, text_embeds, 0, "hf text")
    out = model(input_ids=ids, pixel_values=pixels)
    same(out.image_embeds, unit(image_embeds), 1e-6, "hf forward image_embeds")
    same(out.text_embeds, unit(text_embeds), 1e-6, "hf forward text_embeds")
    g = assemble(pixels, ids, list(vo.hidden_states), vo.pooler_output, image_embeds,
                 list(to.hidden_states), to.pooler_output, text_embeds, model.logit_scale)
    same(out.logits_per_image, g["logits_per_image"], 1e-5, "hf forward logits")
    return g


def openclip_goldens(model, pixels, ids):
    caught = {}

    def keep(key, pick=lambda t: t):
        def hook(_mod, inputs, output):
            caught[key] = pick(output if output is not None else inputs[0])
        return hook

    v, handles = model.visual, []
    handles.append(v.ln_pre.register_forward_hook(keep("v0")))
    for i, blk in enumerate(v.transformer.resblocks):
        handles.append(blk.register_forward_hook(keep(f"v{i + 1}")))
    handles.append(v.ln_post.register_forward_hook(keep("vpool", lambda t: t[:, 0])))
    handles.append(model.transformer.register_forward_pre_hook(
        lambda _m, inputs: caught.__setitem__("t0", inputs[0])))
    for i, blk in enumerate(model.transformer.resblocks):
        handles.append(blk.register_forward_hook(keep(f"t{i + 1}")))
    rows = torch.arange(ids.shape[0])
    handles.append(model.ln_final.register_forward_hook(
        keep("tpool", lambda t: t[rows, ids.argmax(-1)])))
    image_embeds = model.encode_image(pixels)
    text_embeds = model.encode_text(ids)
    for h in handles:
        h.remove()
    assert model.transformer.batch_first and v.transformer.batch_first
    nv, nt = len(v.transformer.resblocks), len(model.transformer.resblocks)
    g = assemble(pixels, ids, [caught[f"v{i}"] for i in range(nv + 1)], caught["vpool"],
                 image_embeds, [caught[f"t{i}"] for i in range(nt + 1)], caught["tpool"],
                 text_embeds, model.logit_scale)
    li, _ = model.get_logits(pixels, ids)
    same(li, g["logits_per_image"], 1e-5, "open_clip get_logits")
    return g


def reference_goldens(hf_sd, pixels, ids, v_heads, t_heads, act, dtype):
    sd = {k: v.to(dtype) for k, v in hf_sd.items()}
    vh, vp, ie = ref.vision_forward(sd, pixels.to(dtype), v_heads, act)
    th, tp, te = ref.text_forward(sd, ids, t_heads, act)
    return assemble(pixels, ids, vh, vp, ie, th, tp, te, sd["logit_scale"])


def assemble(pixels, ids, vh, vpool, ie, th, tpool, te, scale):
    g = {"pixel_values": pixels}
    g.update({f"vision.hidden.{i}": h for i, h in enumerate(vh)})
    g["vision.pooled"], g["image_embeds"] = vpool, ie
    g["input_ids"], g["eot_index"] = ids.float(), ref.eot_positions(ids).float()
    g.update({f"text.hidden.{i}": h for i, h in enumerate(th)})
    g["text.pooled"], g["text_embeds"] = tpool, te
    g["logit_scale"] = scale.detach().reshape(1)
    g["logits_per_image"] = ref.logits(ie, te, scale.detach())
    return {k: v.detach().contiguous() for k, v in g.items()}


def unit(x):
    return x / x.norm(dim=-1, keepdim=True)


def check_and_hints(lib, run_again, hf_sd, pixels, ids, a, act):
    """Hold the library goldens to the plain reference; return tolerance hints for golden.json."""
    r32 = reference_goldens(hf_sd, pixels, ids, a["v_heads"], a["t_heads"], act, torch.float32)
    r64 = reference_goldens(hf_sd, pixels, ids, a["v_heads"], a["t_heads"], act, torch.float64)
    assert lib.keys() == r32.keys(), (sorted(lib), sorted(r32))
    hints = {}
    for k in lib:
        scale = float(lib[k].abs().max())
        # 1e-4 relative to the tensor's own range: far above float32 rounding here, far below
        # any real mistake (a wrong activation or a wrong mask moves values by >1e-2).
        same(lib[k], r32[k], 1e-4 * max(1.0, scale), f"{k}: library vs plain reference")
        hints[k] = dict(max_abs_value=scale,
                        lib_f32_vs_ref_f64=maxdiff(lib[k], r64[k]),
                        ref_f32_vs_ref_f64=maxdiff(r32[k], r64[k]),
                        lib_run_twice=maxdiff(lib[k], run_again[k]))
    floats = [h for k, h in hints.items() if k not in ("input_ids", "eot_index")]
    worst = {f: max(h[f] for h in floats) for f in floats[0]}
    print("   max |value| %.3g, lib f32 vs ref f64 %.3g, ref f32 vs f64 %.3g, run twice %.3g" % (
        worst["max_abs_value"], worst["lib_f32_vs_ref_f64"], worst["ref_f32_vs_ref_f64"],
        worst["lib_run_twice"]))
    return {"summary_max_over_tensors": worst, "per_tensor": hints}


def cross_check(hf_model, oc_model, a, pixels, ids):
    """Same weights in the other layout and library must give the same embeddings."""
    hf_act = hf_model.config.vision_config.hidden_act
    oc = open_clip.CLIP(**openclip_model_cfg(a, hf_act == "quick_gelu")).eval()
    oc.load_state_dict(ref.hf_to_openclip(hf_model.state_dict()), strict=True)
    d1 = max(same(oc.encode_image(pixels), hf_model.get_image_features(pixel_values=pixels)
                  .pooler_output, 1e-4, "HF weights run by open_clip (image)"),
             same(oc.encode_text(ids), hf_model.get_text_features(input_ids=ids).pooler_output,
                  1e-4, "HF weights run by open_clip (text)"))
    oc_act = "quick_gelu" if isinstance(oc_model.visual.transformer.resblocks[0].mlp.gelu,
                                        open_clip.transformer.QuickGELU) else "gelu"
    hf = CLIPModel(hf_config(a, oc_act)).eval()
    hf.load_state_dict(ref.openclip_to_hf(oc_model.state_dict()), strict=True)
    d2 = max(same(hf.get_image_features(pixel_values=pixels).pooler_output,
                  oc_model.encode_image(pixels), 1e-4, "open_clip weights run by HF (image)"),
             same(hf.get_text_features(input_ids=ids).pooler_output, oc_model.encode_text(ids),
                  1e-4, "open_clip weights run by HF (text)"))
    print(f"   cross-layout check: HF->open_clip {d1:.3g}, open_clip->HF {d2:.3g}")
    return {"hf_weights_in_open_clip": d1, "open_clip_weights_in_hf": d2}


def write_goldens(outdir, g, act, hints, cross, extra=None):
    save_file(g, str(outdir / "golden.safetensors"))
    info = dict(texts=TEXTS, activation=act, n_images=int(g["pixel_values"].shape[0]),
                eot_index=[int(x) for x in g["eot_index"]],
                tolerance_hints=hints, cross_layout_max_abs_diff=cross,
                note="hidden.0 enters block 0 (vision: after ln_pre; text: token + position); "
                     "hidden.k leaves block k-1. Text rows are computed on the 0-padded "
                     "sequence with the causal mask; compare positions <= eot_index.")
    info.update(extra or {})
    dump_json(outdir / "golden.json", info)


# ----------------------------------------------------------------------------------------
# Checkpoint files

def write_tokenizer(outdir):
    """vocab.json + merges.txt in HF's format, built from open_clip's bundled BPE file.

    Ids: 256 byte symbols, the same with </w>, the merges, then <|startoftext|> = 49406 and
    <|endoftext|> = 49407 (the order open_clip's SimpleTokenizer uses).
    """
    lines = gzip.open(default_bpe()).read().decode("utf-8").split("\n")
    merges = lines[1:49152 - 256 - 2 + 1]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab] + ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    assert len(vocab) == 49408 == len(set(vocab))
    with open(outdir / "vocab.json", "w", encoding="utf-8") as f:
        json.dump({v: i for i, v in enumerate(vocab)}, f, ensure_ascii=False, separators=(",", ":"))
    with open(outdir / "merges.txt", "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
    dump_json(outdir / "tokenizer_config.json", dict(
        tokenizer_class="CLIPTokenizer", model_max_length=77, bos_token="<|startoftext|>",
        eos_token="<|endoftext|>", unk_token="<|endoftext|>", pad_token="<|endoftext|>"))


def save_hf(model, outdir, image_size):
    fresh_dir(outdir)
    model.save_pretrained(outdir, safe_serialization=True)
    write_tokenizer(outdir)
    dump_json(outdir / "preprocessor_config.json", dict(
        image_processor_type="CLIPImageProcessor", do_resize=True,
        size={"shortest_edge": image_size}, resample=3, do_center_crop=True,
        crop_size={"height": image_size, "width": image_size}, do_rescale=True,
        rescale_factor=1 / 255, do_normalize=True, image_mean=OPENAI_MEAN, image_std=OPENAI_STD,
        do_convert_rgb=True))
    for f in outdir.iterdir():  # only the files documented in docs/fixtures.md
        if f.name not in {"config.json", "model.safetensors", "vocab.json", "merges.txt",
                          "tokenizer_config.json", "preprocessor_config.json"}:
            raise AssertionError(f"unexpected file written by save_pretrained: {f}")
    # Reload through transformers' own loaders: the directory must be a usable checkpoint.
    back = CLIPModel.from_pretrained(outdir).eval()
    for k, v in model.state_dict().items():
        assert torch.equal(back.state_dict()[k], v), k
    return back


def save_openclip(model, outdir, a, quick_gelu, mean, std, dtype):
    fresh_dir(outdir)
    sd = model.state_dict()
    assert "attn_mask" not in sd and "logit_scale" in sd
    save_file({k: v.to(dtype).contiguous() for k, v in sd.items()},
              str(outdir / "open_clip_model.safetensors"))
    dump_json(outdir / "open_clip_config.json", dict(
        model_cfg=openclip_model_cfg(a, quick_gelu), preprocess_cfg=dict(mean=mean, std=std)))


def round_to_f16(model):
    """Round every parameter to float16 in place, so goldens use exactly the stored values."""
    for p in model.parameters():
        p.copy_(p.half().float())




# ----------------------------------------------------------------------------------------
# Drivers

def build_pair(a, hf_dir, oc_dir, n_images, seeds, oc_quick_gelu, oc_f16, oc_mean, oc_std):
    pixels, ids = golden_inputs(n_images, a["image"], seeds["pixels"])

    print(f"== HF CLIPModel -> {hf_dir}")
    hf = new_hf(a, "quick_gelu", seeds["hf"])
    save_hf(hf, hf_dir, a["image"])
    g = hf_goldens(hf, pixels, ids)
    hints = check_and_hints(g, hf_goldens(hf, pixels, ids), hf.state_dict(), pixels, ids, a,
                            "quick_gelu")

    oc_act = "quick_gelu" if oc_quick_gelu else "gelu"
    print(f"== open_clip CLIP ({oc_act}, {'F16' if oc_f16 else 'F32'}) -> {oc_dir}")
    oc = new_openclip(a, oc_quick_gelu, seeds["openclip"])
    if oc_f16:
        round_to_f16(oc)
    save_openclip(oc, oc_dir, a, oc_quick_gelu, oc_mean, oc_std,
                  torch.float16 if oc_f16 else torch.float32)
    go = openclip_goldens(oc, pixels, ids)
    hints_o = check_and_hints(go, openclip_goldens(oc, pixels, ids),
                              ref.openclip_to_hf(oc.state_dict()), pixels, ids, a, oc_act)

    cross = cross_check(hf, oc, a, pixels, ids)
    write_goldens(hf_dir, g, "quick_gelu", hints, cross)
    write_goldens(oc_dir, go, oc_act, hints_o, cross,
                  {"weights": "float16-rounded; goldens computed in float32 from exactly the "
                              "stored values"} if oc_f16 else None)
    return g, go


def tiny():
    hf_dir, oc_dir = FIXTURES / "tiny-hf", FIXTURES / "tiny-openclip"
    g, go = build_pair(TINY, hf_dir, oc_dir, 3, dict(pixels=11, hf=1234, openclip=5678),
                       oc_quick_gelu=False, oc_f16=True, oc_mean=[0.5] * 3, oc_std=[0.5] * 3)
    print("== end-to-end goldens")
    names = make_images(oc_dir / "images")
    openclip_e2e(oc_dir, names, go)
    hf_e2e(hf_dir, oc_dir / "images", names, g)
    print("== dtypes")
    make_dtypes(FIXTURES / "safetensors")
    write_key_listing()
    sizes()


def vit_b32(outdir):
    t0 = time.time()
    build_pair(VIT_B32, outdir / "hf", outdir / "openclip", 2,
               dict(pixels=21, hf=4321, openclip=8765),
               oc_quick_gelu=True, oc_f16=False, oc_mean=OPENAI_MEAN, oc_std=OPENAI_STD)
    ref_cfg = open_clip.get_model_config("ViT-B-32-quickgelu")
    ours = openclip_model_cfg(VIT_B32, True)
    ours["vision_cfg"].pop("head_width")  # 768 / 64 = 12 heads: open_clip's default head_width
    assert ours == ref_cfg, (ours, ref_cfg)
    print(f"ViT-B/32 fixtures written to {outdir} in {time.time() - t0:.1f} s")

VIT_B16 = dict(VIT_B32, patch=16)
VIT_L14 = dict(image=224, patch=14, v_width=1024, v_layers=24, v_heads=16,
               context=77, vocab=49408, t_width=768, t_layers=12, t_heads=12, embed=768)


def hf_only(a, outdir, seed, name):
    """An HF CLIPModel directory of shapes `a` with random weights, no goldens: for sizes and
    memory, where a forward pass in torch would only cost time."""
    t0 = time.time()
    save_hf(new_hf(a, "quick_gelu", seed), outdir / "hf", a["image"])
    print(f"{name} (HF layout, random weights) written to {outdir / 'hf'} in {time.time() - t0:.1f} s")


def write_key_listing():
    """Regenerate the key tables between the markers in docs/fixtures.md."""
    files = ["tiny-hf/model.safetensors", "tiny-openclip/open_clip_model.safetensors",
             "tiny-hf/golden.safetensors", "tiny-openclip/golden.safetensors",
             "tiny-openclip/e2e.safetensors", "tiny-hf/e2e.safetensors",
             "safetensors/dtypes.safetensors"]
    out = []
    for rel in files:
        out.append(f"\n#### `{rel}`\n\n```")
        with safe_open(FIXTURES / rel, "pt") as f:
            for k in sorted(f.keys(), key=natural):
                s = f.get_slice(k)
                out.append(f"{k} {s.get_dtype()} {list(s.get_shape())}")
        out.append("```")
    text = DOC.read_text(encoding="utf-8")
    begin, end = "<!-- BEGIN GENERATED KEYS -->", "<!-- END GENERATED KEYS -->"
    i, j = text.index(begin) + len(begin), text.index(end)
    DOC.write_text(text[:i] + "\n" + "\n".join(out) + "\n" + text[j:], encoding="utf-8")


def natural(s):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", s)]


def sizes():
    total = 0
    for d in ["tiny-hf", "tiny-openclip", "safetensors"]:
        for f in sorted((FIXTURES / d).rglob("*")):
            if f.is_file():
                total += f.stat().st_size
                assert f.stat().st_size < 7_000_000, f"{f} is over the 7 MB per-file budget"
                print(f"   {f.stat().st_size:>9}  {f.relative_to(FIXTURES)}")
    print(f"   {total:>9}  total")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--vit-b32", metavar="OUTDIR", type=Path,
                    help="write ViT-B/32 checkpoints + goldens to OUTDIR (not committed)")
    ap.add_argument("--hf-only", action="store_true",
                    help="with --vit-b32: only OUTDIR/hf/, no goldens")
    ap.add_argument("--vit-b16", metavar="OUTDIR", type=Path,
                    help="write a ViT-B/16 HF checkpoint to OUTDIR/hf/ (no goldens; not committed)")
    ap.add_argument("--vit-l14", metavar="OUTDIR", type=Path,
                    help="write a ViT-L/14 HF checkpoint to OUTDIR/hf/ (no goldens; not committed)")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, "
          f"open_clip {open_clip.__version__}")
    if args.vit_b32 and args.hf_only:
        hf_only(VIT_B32, args.vit_b32.resolve(), 4321, "ViT-B/32")
    elif args.vit_b32:
        vit_b32(args.vit_b32.resolve())
    elif args.vit_b16:
        hf_only(VIT_B16, args.vit_b16.resolve(), 1616, "ViT-B/16")
    elif args.vit_l14:
        hf_only(VIT_L14, args.vit_l14.resolve(), 1414, "ViT-L/14")
    else:
        tiny()


if __name__ == "__main__":
    main()
