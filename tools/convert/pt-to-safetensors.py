#!/usr/bin/env python3
"""Convert a PyTorch CLIP checkpoint (.pt / .bin / .pth) to the .safetensors PocketCLIP reads.

PocketCLIP reads safetensors only (no pickle: loading a pickle can run code). This tool turns
the pickled checkpoints people have into that, without changing a single weight:

  OpenAI CLIP (TorchScript JIT archive, or a state-dict .pt)   -> open_clip_model.safetensors
  open_clip .pt / .bin (plain, or {"state_dict": ...} with "module." prefixes)
                                                               -> open_clip_model.safetensors
  HF transformers CLIPModel pytorch_model.bin                  -> model.safetensors

Usage (VENV: a venv with torch, safetensors, open_clip):

    VENV/bin/python tools/convert/pt-to-safetensors.py ViT-B-32.pt --model-name ViT-B-32-quickgelu
    VENV/bin/python tools/convert/pt-to-safetensors.py epoch_32.pt -o out/ --model-name ViT-B-32
    VENV/bin/python tools/convert/pt-to-safetensors.py clip-vit-base-patch32/pytorch_model.bin
    VENV/bin/python tools/convert/pt-to-safetensors.py --self-test

Names stay the checkpoint's own (HF stays HF, OpenAI is open_clip's naming), dtypes stay as
stored (fp16 stays fp16), tensors are made contiguous, and non-weight buffers (`attn_mask`,
`position_ids`, OpenAI's `input_resolution` / `context_length` / `vocab_size`) are dropped.
Anything that is not a ViT CLIP in one of those layouts is refused with the reason. The
output is written to a temporary file and renamed, so a crash never leaves half a file.

`--self-test` builds tiny random-weight models with open_clip and transformers, saves them in
every wrapping above (including TorchScript via torch.jit.script and torch.jit.trace), converts
them, and checks that the safetensors reload bit-equal and load back through the libraries' own
loaders with the same outputs. It prints PASS/FAIL per case and exits non-zero on any FAIL.
"""
import argparse
import json
import os
import re
import sys
import tempfile
import warnings
import zipfile

import torch
from safetensors.torch import load_file, save_file

OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]

# Keys that are not weights: causal masks and ids a model rebuilds itself, and the scalar
# hyperparameters OpenAI's JIT archives keep as buffers.
DROPPED_SUFFIXES = ("attn_mask", "position_ids")
DROPPED_KEYS = {"input_resolution", "context_length", "vocab_size"}
# Prefixes a training wrapper adds: DistributedDataParallel, torch.compile.
WRAPPER_PREFIXES = ("module.", "_orig_mod.")

# ---------------------------------------------------------------------------------------------
# Layouts: what a checkpoint must contain, and which names it may contain
# ---------------------------------------------------------------------------------------------
OPENCLIP_REQUIRED = [
    "visual.conv1.weight", "visual.class_embedding", "visual.positional_embedding",
    "visual.ln_pre.weight", "visual.transformer.resblocks.0.attn.in_proj_weight",
    "visual.ln_post.weight", "visual.proj", "token_embedding.weight", "positional_embedding",
    "transformer.resblocks.0.attn.in_proj_weight", "ln_final.weight", "text_projection",
    "logit_scale",
]
_BLOCK = r"resblocks\.\d+\.(ln_[12]\.(weight|bias)|attn\.(in_proj_weight|in_proj_bias|out_proj\.(weight|bias))|mlp\.(c_fc|c_proj)\.(weight|bias))"
OPENCLIP_ALLOWED = re.compile(
    r"^(visual\.(conv1\.weight|class_embedding|positional_embedding|ln_pre\.(weight|bias)|"
    r"ln_post\.(weight|bias)|proj|transformer\." + _BLOCK + r")|token_embedding\.weight|"
    r"positional_embedding|transformer\." + _BLOCK + r"|ln_final\.(weight|bias)|"
    r"text_projection|logit_scale)$")
HF_REQUIRED = [
    "vision_model.embeddings.patch_embedding.weight", "vision_model.embeddings.class_embedding",
    "vision_model.embeddings.position_embedding.weight", "vision_model.pre_layrnorm.weight",
    "vision_model.encoder.layers.0.self_attn.q_proj.weight", "vision_model.post_layernorm.weight",
    "visual_projection.weight", "text_model.embeddings.token_embedding.weight",
    "text_model.embeddings.position_embedding.weight",
    "text_model.encoder.layers.0.self_attn.q_proj.weight", "text_model.final_layer_norm.weight",
    "text_projection.weight", "logit_scale",
]
_HF_LAYER = r"encoder\.layers\.\d+\.(layer_norm[12]\.(weight|bias)|self_attn\.(q|k|v|out)_proj\.(weight|bias)|mlp\.fc[12]\.(weight|bias))"
HF_ALLOWED = re.compile(
    r"^(vision_model\.(embeddings\.(patch_embedding\.weight|class_embedding|position_embedding\.weight)|"
    r"pre_layrnorm\.(weight|bias)|post_layernorm\.(weight|bias)|" + _HF_LAYER + r")|"
    r"text_model\.(embeddings\.(token_embedding|position_embedding)\.weight|"
    r"final_layer_norm\.(weight|bias)|" + _HF_LAYER + r")|"
    r"visual_projection\.weight|text_projection\.weight|logit_scale)$")


def note(quiet, message):
    """Warnings go to stderr so the 'wrote ...' lines on stdout stay clean."""
    if not quiet:
        print(message, file=sys.stderr)


class ConversionError(Exception):
    """A checkpoint this tool will not convert; the message says why and what to do."""


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------
def is_torchscript(path):
    """A TorchScript archive is a zip with a `code/` directory and `constants.pkl`."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    return any(n.endswith("/constants.pkl") for n in names) and any("/code/" in n for n in names)


def load_checkpoint(path, unsafe_pickle=False, quiet=False):
    """Returns (object loaded, is_jit). Never runs pickled code unless `unsafe_pickle`."""
    if is_torchscript(path):
        note(quiet, "warning: %s is a TorchScript (JIT) archive, as OpenAI's original CLIP files are; "
              "loading it with torch.jit.load, which runs the archive's code. Only do this with "
              "files from a source you trust." % path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)   # "torch.jit.load is deprecated"
            module = torch.jit.load(path, map_location="cpu")
        return dict(module.state_dict()), True
    try:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=not unsafe_pickle, mmap=True)
        except RuntimeError as err:
            if "mmap" not in str(err):
                raise
            # Legacy (non-zip) pickles cannot be memory-mapped.
            obj = torch.load(path, map_location="cpu", weights_only=not unsafe_pickle)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        if not unsafe_pickle and "weights_only" in str(err):
            raise ConversionError(
                "%s holds Python objects besides tensors, which torch.load(weights_only=True) "
                "refuses (%s). If you trust the file, rerun with --unsafe-pickle."
                % (path, str(err).splitlines()[0])) from None
        raise ConversionError("cannot read %s as a PyTorch checkpoint: %s" % (path, err)) from None
    return obj, False


def extract_state_dict(obj, path):
    """Unwraps {"state_dict": ...} / {"model": ...} and strips "module." style prefixes."""
    if not isinstance(obj, dict):
        raise ConversionError("%s holds a %s, not a state dict (a dict of tensor names to tensors)"
                              % (path, type(obj).__name__))
    for wrapper in ("state_dict", "model", "module"):
        inner = obj.get(wrapper)
        if isinstance(inner, dict) and inner and not isinstance(obj.get("visual.conv1.weight"), torch.Tensor):
            obj = inner
            break
    sd = {}
    for key, value in obj.items():
        if not isinstance(key, str):
            raise ConversionError("%s: a state-dict key is a %s, not a name" % (path, type(key).__name__))
        name = key
        stripped = True
        while stripped:
            stripped = False
            for prefix in WRAPPER_PREFIXES:
                if name.startswith(prefix):
                    name, stripped = name[len(prefix):], True
        if name in sd:
            raise ConversionError("%s: '%s' appears twice once wrapper prefixes are removed" % (path, name))
        sd[name] = value
    non_tensors = [k for k, v in sd.items() if not isinstance(v, torch.Tensor)]
    if non_tensors:
        raise ConversionError("%s: not a state dict: %s are not tensors (top-level keys: %s)"
                              % (path, ", ".join(non_tensors[:5]), ", ".join(list(obj)[:8])))
    return sd


def detect_layout(sd, path):
    """'openclip' or 'hf', or a ConversionError saying what the checkpoint looks like."""
    keys = set(sd)
    if any(k.startswith("visual.layer1.") or k.startswith("visual.attnpool.") for k in keys):
        raise ConversionError("%s is a ResNet CLIP (visual.layer1.*, visual.attnpool.*); PocketCLIP "
                              "runs ViT CLIP models only" % path)
    if any(k.startswith("visual.trunk.") or k.startswith("text.transformer.") for k in keys):
        raise ConversionError("%s is an open_clip model with a timm or HF tower (visual.trunk.* / "
                              "text.*); PocketCLIP runs the plain CLIP ViT and text transformer only" % path)
    if "visual.conv1.weight" in keys or "token_embedding.weight" in keys:
        return "openclip"
    if any(k.startswith("vision_model.") or k.startswith("text_model.") for k in keys):
        return "hf"
    raise ConversionError("%s is not a CLIP checkpoint in a layout PocketCLIP knows (OpenAI/open_clip: "
                          "visual.conv1.weight, token_embedding.weight, ...; HF CLIPModel: "
                          "vision_model.*, text_model.*). Its first keys: %s"
                          % (path, ", ".join(sorted(keys)[:6])))


def clean_state_dict(sd, layout, path, allow_extra=False):
    """Drops non-weight buffers, checks names against the layout; returns (tensors, dropped)."""
    kept, dropped = {}, []
    for name, t in sd.items():
        if name in DROPPED_KEYS or name.endswith(DROPPED_SUFFIXES):
            dropped.append(name)
        else:
            kept[name] = t
    required = OPENCLIP_REQUIRED if layout == "openclip" else HF_REQUIRED
    allowed = OPENCLIP_ALLOWED if layout == "openclip" else HF_ALLOWED
    missing = [k for k in required if k not in kept]
    if missing:
        raise ConversionError("%s looks like a %s checkpoint but lacks %s; it is incomplete or a "
                              "variant PocketCLIP does not run" % (path, layout, ", ".join(missing)))
    extra = sorted(k for k in kept if not allowed.match(k))
    if extra and not allow_extra:
        raise ConversionError("%s has tensors a plain CLIP ViT does not (%s%s): an architecture "
                              "variant PocketCLIP does not run. Pass --allow-extra to copy them "
                              "anyway." % (path, ", ".join(extra[:5]), ", ..." if len(extra) > 5 else ""))
    return kept, dropped


# ---------------------------------------------------------------------------------------------
# open_clip_config.json
# ---------------------------------------------------------------------------------------------
def shapes_config(sd):
    """The hyperparameters the OpenCLIP-layout tensors themselves fix."""
    def layers(prefix):
        ids = {int(m.group(1)) for k in sd for m in [re.match(prefix + r"resblocks\.(\d+)\.", k)] if m}
        return max(ids) + 1
    conv = sd["visual.conv1.weight"]
    grid = int(round((sd["visual.positional_embedding"].shape[0] - 1) ** 0.5))
    return {"embed_dim": sd["visual.proj"].shape[1],
            "vision_cfg": {"width": conv.shape[0], "patch_size": conv.shape[2],
                           "image_size": grid * conv.shape[2], "layers": layers(r"visual\.transformer\.")},
            "text_cfg": {"width": sd["token_embedding.weight"].shape[1],
                         "vocab_size": sd["token_embedding.weight"].shape[0],
                         "context_length": sd["positional_embedding"].shape[0],
                         "layers": layers(r"transformer\.")}}


def open_clip_config(sd, model_name, activation, is_openai, mean, std, quiet=False):
    """The open_clip_config.json for a known open_clip architecture, checked against the tensors."""
    import open_clip  # only needed here
    cfg = open_clip.get_model_config(model_name)
    if cfg is None:
        raise ConversionError("--model-name '%s' is not an open_clip architecture (see "
                              "open_clip.list_models(), e.g. ViT-B-32, ViT-B-16-quickgelu)" % model_name)
    cfg = json.loads(json.dumps(cfg))
    defaults = {"vision_cfg": {"layers": 12, "width": 768, "patch_size": 16, "image_size": 224},
                "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 512, "layers": 12}}
    actual = shapes_config(sd)
    for tower in ("vision_cfg", "text_cfg"):
        got = cfg.get(tower, {})
        if any(k in got for k in ("timm_model_name", "hf_model_name")):
            raise ConversionError("--model-name '%s' uses a timm/HF tower, which PocketCLIP does not run" % model_name)
        for key, want in actual[tower].items():
            declared = got.get(key, defaults[tower][key])
            if isinstance(declared, (list, tuple)):
                declared = declared[0] if len(set(declared)) == 1 else declared
            if declared != want:
                raise ConversionError("--model-name '%s' says %s.%s = %s but the checkpoint has %s: "
                                      "pick the architecture this checkpoint was trained as"
                                      % (model_name, tower, key, declared, want))
    if cfg.get("embed_dim") != actual["embed_dim"]:
        raise ConversionError("--model-name '%s' says embed_dim = %s but the checkpoint has %s"
                              % (model_name, cfg.get("embed_dim"), actual["embed_dim"]))
    quick = bool(cfg.get("quick_gelu", False)) or model_name.endswith("-quickgelu")
    if is_openai and not quick and activation is None:
        note(quiet, "note: OpenAI-trained weights use QuickGELU; setting quick_gelu true (open_clip "
                    "does the same for pretrained='openai'). Pass --activation gelu to override.")
        quick = True
    if activation is not None:
        quick = activation == "quick_gelu"
    cfg["quick_gelu"] = quick
    return {"model_cfg": cfg, "preprocess_cfg": {"mean": mean, "std": std}}


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------
def prepare_tensors(sd):
    """Contiguous CPU tensors, none sharing memory (safetensors refuses shared storage)."""
    out, seen = {}, set()
    for name in sorted(sd):
        t = sd[name].detach().to("cpu").contiguous()
        ptr = t.untyped_storage().data_ptr() if t.numel() else None
        if ptr is not None and ptr in seen:
            t = t.clone()
        elif ptr is not None:
            seen.add(ptr)
        out[name] = t
    return out


def atomic_write(path, write):
    """Calls write(temp_path) and renames the temp file over `path`."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def convert(path, output_dir=None, model_name=None, activation=None, mean=None, std=None,
            force=False, unsafe_pickle=False, allow_extra=False, quiet=False):
    """Converts one checkpoint; returns the list of files written."""
    def say(msg):
        if not quiet:
            print(msg)
    if not os.path.isfile(path):
        raise ConversionError("no file at %s" % path)
    obj, is_jit = load_checkpoint(path, unsafe_pickle, quiet)
    sd = extract_state_dict(obj, path)
    layout = detect_layout(sd, path)
    is_openai = is_jit or "input_resolution" in sd
    tensors, dropped = clean_state_dict(sd, layout, path, allow_extra)
    tensors = prepare_tensors(tensors)

    output_dir = output_dir or os.path.dirname(os.path.abspath(path))
    out = os.path.join(output_dir, "model.safetensors" if layout == "hf" else "open_clip_model.safetensors")
    cfg_path = os.path.join(output_dir, "open_clip_config.json")
    # Everything that can refuse runs before anything is written.
    cfg = None
    if layout == "openclip" and model_name:
        cfg = open_clip_config(sd, model_name, activation, is_openai,
                               mean or OPENAI_MEAN, std or OPENAI_STD, quiet)
    for target in [out] + ([cfg_path] if cfg else []):
        if os.path.exists(target) and not force:
            raise ConversionError("%s already exists; pass --force to replace it" % target)

    os.makedirs(output_dir, exist_ok=True)
    written = []
    atomic_write(out, lambda tmp: save_file(tensors, tmp, metadata={"format": "pt"}))
    n_bytes = sum(t.numel() * t.element_size() for t in tensors.values())
    dtypes = sorted({str(t.dtype).replace("torch.", "") for t in tensors.values()})
    say("wrote %s: %d tensors, %d bytes of weights (%s), file %d bytes; layout %s%s"
        % (out, len(tensors), n_bytes, "/".join(dtypes), os.path.getsize(out), layout,
           " (OpenAI)" if is_openai else ""))
    if dropped:
        say("dropped %d non-weight buffers: %s" % (len(dropped), ", ".join(sorted(dropped)[:6])
                                                   + (", ..." if len(dropped) > 6 else "")))
    written.append(out)

    if layout == "hf":
        if model_name:
            say("note: --model-name is for OpenAI/open_clip checkpoints; HF reads config.json")
        if not os.path.isfile(os.path.join(output_dir, "config.json")):
            say("note: PocketCLIP needs the model's config.json (and preprocessor_config.json, "
                "vocab.json, merges.txt) in %s beside model.safetensors" % output_dir)
    elif cfg:
        text = json.dumps(cfg, indent=2) + "\n"

        def write_cfg(tmp):
            with open(tmp, "w") as f:
                f.write(text)
        atomic_write(cfg_path, write_cfg)
        say("wrote %s: %s, quick_gelu %s" % (cfg_path, model_name, str(cfg["model_cfg"]["quick_gelu"]).lower()))
        written.append(cfg_path)
    else:
        hint = "quick_gelu" if is_openai else "quick_gelu or gelu"
        say("note: no open_clip_config.json written (no --model-name). PocketCLIP cannot tell "
            "QuickGELU from GELU by the weights: pass --activation %s when converting %s with "
            "pocketclip, or rerun this with --model-name (e.g. ViT-B-32%s)."
            % (hint, out, "-quickgelu" if is_openai else ""))
    return written


# ---------------------------------------------------------------------------------------------
# Self-test: tiny random-weight models in every wrapping, converted and reloaded
# ---------------------------------------------------------------------------------------------
TINY_OPENCLIP = {"embed_dim": 16, "quick_gelu": True,
                 "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 8, "patch_size": 8},
                 "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 4, "layers": 2}}


def self_test():
    import argparse as _argparse
    import open_clip
    from open_clip.model import CLIP
    from transformers import CLIPConfig, CLIPModel
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore")

    torch.manual_seed(0)
    results = []
    tmp_root = tempfile.mkdtemp(prefix="pt2st-selftest-")

    def case_dir(name):
        d = os.path.join(tmp_root, name)
        os.makedirs(d)
        return d

    def expect_equal(out_path, expected):
        got = load_file(out_path)
        if set(got) != set(expected):
            return "keys differ: missing %s, extra %s" % (sorted(set(expected) - set(got))[:3],
                                                         sorted(set(got) - set(expected))[:3])
        for k, t in expected.items():
            g = got[k]
            if g.dtype != t.dtype or g.shape != t.shape or not torch.equal(g, t):
                return "%s differs (%s %s vs %s %s)" % (k, g.dtype, tuple(g.shape), t.dtype, tuple(t.shape))
        return None

    def run(name, fn):
        try:
            problem = fn()
        except Exception as err:  # a case that crashes is a FAIL with its reason
            problem = "%s: %s" % (type(err).__name__, err)
        results.append(problem is None)
        print("%s  %s%s" % ("PASS" if problem is None else "FAIL", name, "" if problem is None else ": " + problem))

    def refused(fn, must_contain):
        try:
            fn()
        except ConversionError as err:
            return None if must_contain in str(err) else "refused with the wrong reason: %s" % err
        return "was not refused"

    # The tiny open_clip architecture, registered so --model-name can name it.
    cfg_dir = case_dir("configs")
    with open(os.path.join(cfg_dir, "pocketclip-tiny.json"), "w") as f:
        json.dump({k: v for k, v in TINY_OPENCLIP.items() if k != "quick_gelu"}, f)
    open_clip.add_model_config(cfg_dir)

    oc = CLIP(**TINY_OPENCLIP).eval()
    with torch.no_grad():
        for p in oc.parameters():
            p.copy_(torch.randn_like(p) * 0.1)
    oc_sd = {k: v.clone() for k, v in oc.state_dict().items()}
    image = torch.randn(2, 3, 32, 32)
    text = torch.randint(0, 49408, (2, 77))
    with torch.no_grad():
        oc_image, oc_text = oc.encode_image(image), oc.encode_text(text)

    def openclip_roundtrip(d):
        """The converted directory loads through open_clip's own loader, outputs equal."""
        model = open_clip.create_model("local-dir:" + d).eval()
        with torch.no_grad():
            di = (model.encode_image(image) - oc_image).abs().max().item()
            dt = (model.encode_text(text) - oc_text).abs().max().item()
        return None if di == 0 and dt == 0 else "open_clip reload differs by %g / %g" % (di, dt)

    def c_plain():
        d = case_dir("openclip-plain")
        p = os.path.join(d, "epoch_1.pt")
        torch.save(oc.state_dict(), p)
        convert(p, model_name="pocketclip-tiny",
                activation="quick_gelu", quiet=True)
        return expect_equal(os.path.join(d, "open_clip_model.safetensors"), oc_sd) or openclip_roundtrip(d)
    run("open_clip plain state dict .pt, --model-name + --activation quick_gelu -> open_clip reload", c_plain)

    def c_bin():
        d = case_dir("openclip-bin")
        p = os.path.join(d, "open_clip_pytorch_model.bin")
        torch.save(oc.state_dict(), p)
        convert(p, quiet=True)
        if os.path.exists(os.path.join(d, "open_clip_config.json")):
            return "wrote a config without --model-name"
        return expect_equal(os.path.join(d, "open_clip_model.safetensors"), oc_sd)
    run("open_clip_pytorch_model.bin, no --model-name (no config written)", c_bin)

    def c_wrapped():
        d = case_dir("openclip-ddp")
        p = os.path.join(d, "epoch_32.pt")
        torch.save({"epoch": 32, "name": "tiny-run",
                    "state_dict": {"module." + k: v for k, v in oc.state_dict().items()},
                    "optimizer": {"state": {}, "param_groups": [{"lr": 1e-3, "params": [0, 1]}]}}, p)
        out = os.path.join(d, "out")
        convert(p, output_dir=out, model_name="pocketclip-tiny", activation="quick_gelu", quiet=True)
        return expect_equal(os.path.join(out, "open_clip_model.safetensors"), oc_sd) or openclip_roundtrip(out)
    run("open_clip training checkpoint {'state_dict': 'module.*', 'optimizer', ...} -> -o dir", c_wrapped)

    def c_fp16():
        d = case_dir("openclip-fp16")
        p = os.path.join(d, "fp16.pt")
        half = {k: v.half() if v.is_floating_point() else v for k, v in oc_sd.items()}
        torch.save(half, p)
        convert(p, quiet=True)
        return expect_equal(os.path.join(d, "open_clip_model.safetensors"), half)
    run("open_clip fp16 state dict (dtype kept: f16 stays f16)", c_fp16)

    def openai_module():
        m = CLIP(**TINY_OPENCLIP).eval()
        m.load_state_dict(oc_sd)
        m.register_buffer("input_resolution", torch.tensor(32))
        for n, v in (("context_length", 77), ("vocab_size", 49408)):
            delattr(m, n)                       # open_clip keeps these as ints; OpenAI as buffers
            m.register_buffer(n, torch.tensor(v))
        return m

    def c_openai_sd():
        d = case_dir("openai-sd")
        p = os.path.join(d, "ViT-tiny.pt")
        sd = dict(openai_module().state_dict())
        sd["transformer.attn_mask"] = torch.full((77, 77), float("-inf")).triu(1)
        torch.save(sd, p)
        convert(p, model_name="pocketclip-tiny", quiet=True)   # no --activation: OpenAI -> quick_gelu
        with open(os.path.join(d, "open_clip_config.json")) as f:
            if json.load(f)["model_cfg"]["quick_gelu"] is not True:
                return "OpenAI weights did not get quick_gelu"
        return expect_equal(os.path.join(d, "open_clip_model.safetensors"), oc_sd) or openclip_roundtrip(d)
    run("OpenAI state-dict .pt (input_resolution/context_length/vocab_size/attn_mask dropped)", c_openai_sd)

    def c_jit(kind):
        def body():
            d = case_dir("openai-jit-" + kind)
            p = os.path.join(d, "ViT-tiny.pt")
            m = openai_module()
            if kind == "script":
                jm = torch.jit.script(m)
            else:
                jm = torch.jit.trace(m, (image, text), strict=False, check_trace=False)
            jm.save(p)
            convert(p, model_name="pocketclip-tiny", quiet=True)
            return expect_equal(os.path.join(d, "open_clip_model.safetensors"), oc_sd) or openclip_roundtrip(d)
        return body
    run("OpenAI-style TorchScript archive (torch.jit.script) via torch.jit.load", c_jit("script"))
    run("OpenAI-style TorchScript archive (torch.jit.trace, has attn_mask) via torch.jit.load", c_jit("trace"))

    hf_cfg = CLIPConfig(
        text_config=dict(vocab_size=49408, hidden_size=32, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=77),
        vision_config=dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=128,
                           num_hidden_layers=2, num_attention_heads=4),
        projection_dim=16)
    hf = CLIPModel(hf_cfg).eval()
    hf_sd = {k: v.clone() for k, v in hf.state_dict().items()}
    with torch.no_grad():
        hf_image = hf.get_image_features(pixel_values=image)
        hf_image = getattr(hf_image, "pooler_output", hf_image)

    def c_hf(dtype):
        def body():
            d = case_dir("hf-" + str(dtype).replace("torch.", ""))
            hf_cfg.save_pretrained(d)
            sd = {k: v.to(dtype) if v.is_floating_point() else v for k, v in hf_sd.items()}
            legacy = dict(sd)
            legacy["text_model.embeddings.position_ids"] = torch.arange(77)[None]   # older files had it
            legacy["vision_model.embeddings.position_ids"] = torch.arange(17)[None]
            p = os.path.join(d, "pytorch_model.bin")
            torch.save(legacy, p)
            convert(p, quiet=True)
            problem = expect_equal(os.path.join(d, "model.safetensors"), sd)
            if problem or dtype != torch.float32:
                return problem
            os.unlink(p)                         # make from_pretrained read the safetensors
            model = CLIPModel.from_pretrained(d).eval()
            with torch.no_grad():
                got = model.get_image_features(pixel_values=image)
                got = getattr(got, "pooler_output", got)
            diff = (got - hf_image).abs().max().item()
            return None if diff == 0 else "transformers reload differs by %g" % diff
        return body
    run("HF pytorch_model.bin (+ legacy position_ids) -> model.safetensors -> CLIPModel.from_pretrained", c_hf(torch.float32))
    run("HF pytorch_model.bin in fp16 (dtype kept)", c_hf(torch.float16))

    # Refusals: each must raise a ConversionError that says why.
    def save_and_convert(name, obj, **kw):
        d = case_dir(name)
        p = os.path.join(d, "ckpt.pt")
        torch.save(obj, p)
        return lambda: convert(p, quiet=True, **kw)

    rn = {"visual.conv1.weight": torch.zeros(8, 3, 3, 3), "visual.layer1.0.conv1.weight": torch.zeros(8, 8, 1, 1),
          "token_embedding.weight": torch.zeros(10, 8)}
    run("refuses a ResNet CLIP", lambda: refused(save_and_convert("rn", rn), "ResNet"))
    run("refuses an unknown layout (a classifier)",
        lambda: refused(save_and_convert("unknown", {"fc.weight": torch.zeros(2, 2)}), "not a CLIP checkpoint"))
    run("refuses a pickle that is not a dict", lambda: refused(save_and_convert("list", [torch.zeros(2)]), "not a state dict"))
    run("refuses a state dict missing tensors",
        lambda: refused(save_and_convert("partial", {k: v for k, v in oc_sd.items() if k != "visual.proj"}), "lacks visual.proj"))
    extra = dict(oc_sd, logit_bias=torch.zeros(1))
    run("refuses extra tensors (SigLIP logit_bias) without --allow-extra",
        lambda: refused(save_and_convert("extra", extra), "logit_bias"))
    def c_mismatch():
        problem = refused(save_and_convert("mismatch", oc_sd, model_name="ViT-B-32"), "vision_cfg.width")
        left = sorted(set(os.listdir(os.path.join(tmp_root, "mismatch"))) - {"ckpt.pt"})
        return problem or ("a refused conversion left %s" % left if left else None)
    run("refuses --model-name whose shapes disagree (ViT-B-32 on the tiny model), writes nothing", c_mismatch)
    run("refuses an unknown --model-name",
        lambda: refused(save_and_convert("badname", oc_sd, model_name="no-such-model"), "not an open_clip architecture"))
    ns = {"state_dict": oc_sd, "args": _argparse.Namespace(lr=1)}
    run("refuses a pickle with Python objects unless --unsafe-pickle",
        lambda: refused(save_and_convert("namespace", ns), "--unsafe-pickle"))

    def c_unsafe():
        d = case_dir("namespace-unsafe")
        p = os.path.join(d, "ckpt.pt")
        torch.save(ns, p)
        convert(p, unsafe_pickle=True, quiet=True)
        return expect_equal(os.path.join(d, "open_clip_model.safetensors"), oc_sd)
    run("converts that pickle with --unsafe-pickle", c_unsafe)

    def c_exists():
        d = os.path.join(tmp_root, "openclip-bin")       # converted above
        before = os.path.getmtime(os.path.join(d, "open_clip_model.safetensors"))
        problem = refused(lambda: convert(os.path.join(d, "open_clip_pytorch_model.bin"), quiet=True), "--force")
        if problem:
            return problem
        if os.path.getmtime(os.path.join(d, "open_clip_model.safetensors")) != before:
            return "the existing file was touched"
        leftovers = [f for f in os.listdir(d) if f.endswith(".tmp")]
        return "temp files left: %s" % leftovers if leftovers else None
    run("refuses to overwrite without --force (existing file untouched, no temp files)", c_exists)

    import shutil
    shutil.rmtree(tmp_root)
    print("%d/%d passed" % (sum(results), len(results)))
    return 0 if all(results) else 1


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------
def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Convert a PyTorch CLIP checkpoint (.pt/.bin/.pth) to the .safetensors PocketCLIP reads.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="""examples:
  # OpenAI's original JIT file (QuickGELU); writes open_clip_model.safetensors + open_clip_config.json
  pt-to-safetensors.py ~/.cache/clip/ViT-B-32.pt --model-name ViT-B-32-quickgelu -o vit-b32/

  # an open_clip training checkpoint ({"state_dict": {"module.…"}}) of a GELU model
  pt-to-safetensors.py logs/run/checkpoints/epoch_32.pt --model-name ViT-B-32 -o run-b32/

  # an HF repo with only pytorch_model.bin: writes model.safetensors beside config.json
  pt-to-safetensors.py clip-vit-base-patch32/pytorch_model.bin

  # then
  pocketclip convert vit-b32/ -o vit-b32.pclip --dtype q8

  # check this tool on tiny random models (needs open_clip and transformers)
  pt-to-safetensors.py --self-test""")
    parser.add_argument("checkpoint", nargs="?", help=".pt / .bin / .pth file")
    parser.add_argument("-o", "--output-dir", help="where to write (default: the checkpoint's directory)")
    parser.add_argument("--model-name", help="open_clip architecture of an OpenAI/open_clip checkpoint "
                        "(e.g. ViT-B-32, ViT-B-16-quickgelu): writes open_clip_config.json")
    parser.add_argument("--activation", choices=["quick_gelu", "gelu"],
                        help="override the MLP activation written to open_clip_config.json")
    parser.add_argument("--mean", type=float, nargs=3, help="preprocess mean (default OpenAI's)")
    parser.add_argument("--std", type=float, nargs=3, help="preprocess std (default OpenAI's)")
    parser.add_argument("--force", action="store_true", help="replace existing output files")
    parser.add_argument("--allow-extra", action="store_true",
                        help="copy tensors a plain CLIP ViT does not have instead of refusing")
    parser.add_argument("--unsafe-pickle", action="store_true",
                        help="load with weights_only=False (runs pickled code: trusted files only)")
    parser.add_argument("--self-test", action="store_true", help="run the built-in round-trip tests")
    args = parser.parse_args(argv)
    if args.self_test:
        return self_test()
    if not args.checkpoint:
        parser.error("give a checkpoint file (or --self-test)")
    try:
        convert(args.checkpoint, args.output_dir, args.model_name, args.activation, args.mean,
                args.std, args.force, args.unsafe_pickle, args.allow_extra)
    except ConversionError as err:
        print("error: %s" % err, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
