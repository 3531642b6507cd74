#!/usr/bin/env python3
"""Writes the libFuzzer seed corpora under Fuzz/corpus/ (rerunnable, deterministic).

    python3 tools/fuzz/make-fuzz-seeds.py                # from the repository root; needs the `zstd` CLI
    python3 tools/fuzz/make-fuzz-seeds.py --head-index   # also FuzzHead and FuzzIndex (runs swift test)

FuzzPclip seeds are tiny hand-built .pclip files following formats/pclip.md (a few hundred
bytes each, every dtype and both compressions), plus truncated copies and copies with one
field corrupted but every checksum fixed up, so the fuzzer starts past the CRC gates.
FuzzSafetensors seeds are the dtypes fixture plus hand-made headers, valid and not.
Only the standard library and the zstd CLI: no dependency on the Swift writer under test.

FuzzHead and FuzzIndex seeds are different: they are made by the real writers (ClassHead.write,
EmbeddingIndex.write, PclipWriter) in Tests/CLIPRuntimeTests/FuzzRegressionRuntimeTests.swift,
which writes them when POCKETCLIP_WRITE_FUZZ_SEEDS=1 and otherwise checks the committed ones;
--head-index runs that test in regeneration mode.
"""
import json, os, shutil, struct, subprocess, sys, tempfile, zlib

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MAGIC = b"\x89PCLIP\r\n"
F32, F16, Q8, BYTES = 1, 2, 3, 4
RAW, ZSTD = 0, 1


def crc(b):
    return zlib.crc32(b) & 0xFFFFFFFF


def align(x, a=64):
    return (x + a - 1) // a * a


def zstd_frame(data):
    # The CLI records the content size when it reads a regular file (the reader requires it).
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "x")
        with open(src, "wb") as f:
            f.write(data)
        return subprocess.run(["zstd", "-q", "-19", "--no-check", "-c", src],
                              check=True, capture_output=True).stdout


def q8_decoded(rows, k, g):
    q = bytes((i * 37 - 60) & 0xFF for i in range(rows * k))
    q += b"\0" * (align(len(q), 4) - len(q))
    scales = b"".join(struct.pack("<f", 0.01 * (i + 1)) for i in range(rows * (k // g)))
    return q + scales


def pclip(tensors, metadata=None, mutate=None):
    """tensors: list of dicts name, dtype, comp, dims, group, decoded (bytes).
    `mutate(entry_fields, index)` may change an entry's fields before the directory is packed."""
    meta = json.dumps(metadata if metadata is not None else {"producer": "fuzz seed"},
                      separators=(",", ":")).encode()
    stored = [zstd_frame(t["decoded"]) if t["comp"] == ZSTD else t["decoded"] for t in tensors]

    def directory(offsets):
        out = b""
        for i, (t, s, off) in enumerate(zip(tensors, stored, offsets)):
            f = dict(name=t["name"].encode(), dtype=t["dtype"], comp=t["comp"], rank=len(t["dims"]),
                     reserved=0, group=t.get("group", 0), dims=t["dims"], offset=off,
                     stored=len(s), decoded=len(t["decoded"]), crc=crc(s))
            if mutate:
                mutate(f, i)
            out += struct.pack("<H", len(f["name"])) + f["name"]
            out += struct.pack("<BBBBI", f["dtype"], f["comp"], f["rank"], f["reserved"], f["group"])
            out += b"".join(struct.pack("<Q", d) for d in f["dims"])
            out += struct.pack("<QQQI", f["offset"], f["stored"], f["decoded"], f["crc"])
        return out

    # The directory's size does not depend on the offsets, so lay out once with zeros.
    dir_off = 64 + len(meta)
    pos = dir_off + len(directory([0] * len(tensors)))
    offsets = []
    for s in stored:
        pos = align(pos)
        offsets.append(pos)
        pos += len(s)
    d = directory(offsets)
    body = bytearray(pos)
    body[64:64 + len(meta)] = meta
    body[dir_off:dir_off + len(d)] = d
    for off, s in zip(offsets, stored):
        body[off:off + len(s)] = s
    head = MAGIC + struct.pack("<HHIQQQQIIII", 1, 0, 0, 64, len(meta), dir_off, len(d), len(tensors),
                               crc(meta), crc(d), 0)
    head = head[:60] + struct.pack("<I", crc(head[:60]))
    body[0:64] = head
    return bytes(body)


def f32(vals):
    return b"".join(struct.pack("<f", v) for v in vals)


def f16(vals):
    return b"".join(struct.pack("<e", v) for v in vals)


TENSORS = [
    dict(name="vision.proj", dtype=F32, comp=RAW, dims=[2, 4], decoded=f32([0.5 * i - 1 for i in range(8)])),
    dict(name="logit_scale", dtype=F32, comp=RAW, dims=[], decoded=f32([4.6052])),
    dict(name="vision.class_embedding", dtype=F16, comp=RAW, dims=[6], decoded=f16([1, -2, 0.5, 0, 65504, -0.25])),
    dict(name="vision.blocks.0.attn.in.weight", dtype=Q8, comp=RAW, dims=[2, 8], group=4, decoded=q8_decoded(2, 8, 4)),
    dict(name="vision.blocks.0.mlp.fc1.weight", dtype=Q8, comp=ZSTD, dims=[3, 8], group=8, decoded=q8_decoded(3, 8, 8)),
    dict(name="vision.pos_embedding", dtype=F32, comp=ZSTD, dims=[4, 4], decoded=f32([0.0] * 12 + [1, 2, 3, 4])),
    dict(name="tokenizer.vocabulary", dtype=BYTES, comp=ZSTD, dims=[12], decoded=b"a</w>\nb</w>\n"),
    dict(name="tokenizer.merges", dtype=BYTES, comp=RAW, dims=[4], decoded=b"a b\n"),
]
META = {"model": {"vision": {"image_size": 32, "patch_size": 16, "width": 8, "layers": 1, "heads": 2, "mlp_width": 16},
                  "embed_dim": 4, "activation": "quick_gelu", "layer_norm_eps": 1e-05, "logit_scale": 4.6052},
        "producer": "fuzz seed"}


def write(target, name, data):
    d = os.path.join(ROOT, "Fuzz", "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def pclip_seeds():
    shutil.rmtree(os.path.join(ROOT, "Fuzz", "corpus", "FuzzPclip"), ignore_errors=True)
    valid = pclip(TENSORS, META)
    write("FuzzPclip", "valid.pclip", valid)
    write("FuzzPclip", "empty-directory.pclip", pclip([], {}))
    write("FuzzPclip", "one-f32.pclip", pclip(TENSORS[:1]))
    for cut in (63, 64, 100, 300, len(valid) - 1):
        write("FuzzPclip", f"truncated-{cut}.pclip", valid[:cut])
    flipped = bytearray(valid)
    flipped[-3] ^= 0x40                       # payload CRC no longer matches
    write("FuzzPclip", "payload-crc.pclip", bytes(flipped))

    def field(i_target, key, value, **more):
        def m(f, i):
            if i == i_target:
                f[key] = value
                f.update(more)
        return m
    # One field wrong, checksums consistent: each reaches a different validation step.
    write("FuzzPclip", "bad-dtype.pclip", pclip(TENSORS, META, field(0, "dtype", 9)))
    write("FuzzPclip", "zstd-size-lie.pclip", pclip(TENSORS, META, field(5, "decoded", 128, dims=[8, 4])))
    write("FuzzPclip", "q8-group.pclip", pclip(TENSORS, META, field(3, "group", 3)))
    write("FuzzPclip", "overlap.pclip", pclip(TENSORS[:3], META, field(1, "offset", 64)))


def st(header, data=b"", length=None):
    h = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h) if length is None else length) + h + data


def safetensors_seeds():
    shutil.rmtree(os.path.join(ROOT, "Fuzz", "corpus", "FuzzSafetensors"), ignore_errors=True)
    with open(os.path.join(ROOT, "Tests", "Fixtures", "safetensors", "dtypes.safetensors"), "rb") as f:
        write("FuzzSafetensors", "dtypes.safetensors", f.read())
    w = f32([1, -2, 3.5, 0])
    write("FuzzSafetensors", "empty.safetensors", st({}))
    write("FuzzSafetensors", "metadata.safetensors",
          st({"__metadata__": {"format": "pt"}, "w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}, w))
    write("FuzzSafetensors", "halves.safetensors",
          st({"h": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]},
              "b": {"dtype": "BF16", "shape": [1, 2], "data_offsets": [4, 8]},
              "z": {"dtype": "F32", "shape": [0, 3], "data_offsets": [8, 8]},
              "u": {"dtype": "U8", "shape": [4], "data_offsets": [8, 12]}}, f16([1, -0.5]) + b"\x80\x3f\x00\xc0" + b"abcd"))
    write("FuzzSafetensors", "overlap.safetensors",
          st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
              "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, w))
    write("FuzzSafetensors", "offsets-outside.safetensors",
          st({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, w[:8]))
    write("FuzzSafetensors", "huge-shape.safetensors",
          st({"a": {"dtype": "F32", "shape": [1 << 30, 1 << 30, 16], "data_offsets": [0, 16]}}, w))
    write("FuzzSafetensors", "header-length-lie.safetensors", st({}, b"", length=1 << 40))
    write("FuzzSafetensors", "short.safetensors", b"\x02\0\0\0")


def head_index_seeds():
    subprocess.run(["swift", "test", "--filter", "FuzzRegressionRuntimeTests/testSeeds|FuzzRegressionIndexTests/testSeeds"], cwd=ROOT, check=True,
                   env=dict(os.environ, POCKETCLIP_WRITE_FUZZ_SEEDS="1"))


if __name__ == "__main__":
    pclip_seeds()
    safetensors_seeds()
    if "--head-index" in sys.argv[1:]:
        head_index_seeds()
