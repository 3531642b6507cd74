#!/usr/bin/env python3
"""The committed bad-file corpus for the .pclip reader (formats/bad/).

Regenerate (deterministic; the committed files are this script's output):

    VENV/bin/python tools/goldens/make-pclip-bad-corpus.py

Writes, straight from formats/pclip.md and independently of the Swift writer (struct, zlib.crc32,
zstandard), a valid micro CLIP file holding only the vision tower (base-valid.pclip), then one file
per mutation, and formats/bad/manifest.json saying for each file what was done and which error the
reader must give: the Swift error case, a substring its message must contain, the layer that must
catch it ("container": PclipFile(path:) or its data/verifyAll; "model": CLIPModel.load(pclip:)) and
the stage ("open": PclipFile(path:) throws; "payload": opening succeeds and verifyAll throws;
"model": the whole container is sound and only the model load throws).

Header, directory and metadata mutations recompute the CRCs over the declared ranges so that the
mutation reaches the check it targets; the "bitflip-*" cases flip one bit and leave every CRC alone,
so they must give checksum errors.

Cross-check with the independent container checker of the test vectors: it must accept exactly the
"valid" files and the "model"-stage ones, and refuse every other file:

    for f in formats/bad/*.pclip; do VENV/bin/python tools/goldens/make-pclip-vectors.py --check "$f"; done

Read by Tests/CLIPFormatTests/BadFileCorpusTests.swift, Tests/CLIPRuntimeTests/BadModelFileTests.swift
and Tests/CLITests/BadPclipCLITests.swift.
"""

import json
import os
import shutil
import struct
import sys
import types
import zlib

import numpy as np
import zstandard

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "formats", "bad")

MAGIC = b"\x89PCLIP\r\n"
HEADER_SIZE = 64
ALIGN = 64
F32, F16, Q8, BYTES = 1, 2, 3, 4
RAW, ZSTD = 0, 1
ZSTD_LEVEL = 19

# The micro model: vision tower only, so no tokenizer tensors are needed.
D, P, IMAGE, H, E, LAYERS = 8, 8, 16, 32, 4, 1
T = (IMAGE // P) ** 2 + 1


def base_metadata():
    return {
        "model": {
            "vision": {"image_size": IMAGE, "patch_size": P, "width": D, "layers": LAYERS, "heads": 2, "mlp_width": H},
            "text": {"vocabulary_size": 10, "context_length": 4, "width": 8, "layers": 1, "heads": 2, "mlp_width": 32},
            "embed_dim": E,
            "activation": "quick_gelu",
            "layer_norm_eps": f32(1e-05),
            "logit_scale": f32(4.6052),
        },
        "preprocess": {
            "size": IMAGE,
            "mean": [f32(v) for v in (0.48145466, 0.4578275, 0.40821073)],
            "std": [f32(v) for v in (0.26862954, 0.26130258, 0.27577711)],
            "crop_rounding": "openclip",
            "order": "resize_then_convert",
        },
        "tokenizer": {"kind": "clip_bpe", "context_length": 4},
        "source": {"layout": "openclip", "dtype": "q8", "group_size": 0},
        "producer": "tools/goldens/make-pclip-bad-corpus.py",
    }


def f32(x):
    """A float as the spec writes it: the binary64 value of the binary32 number (1e-5 becomes
    9.999999747378752e-06), which Python's repr prints in its shortest round-trip form."""
    return float(np.float32(x))


def dump(meta):
    return json.dumps(meta, separators=(",", ":")).encode()


# ---------------------------------------------------------------- tensors

def q8_encode(x, group):
    """The reference quantizer of formats/pclip.md: int8 q[n], pad to 4, f32 scales[rows][K/G]."""
    k = x.shape[-1]
    rows = x.size // k
    g = x.reshape(rows, k // group, group).astype(np.float32)
    amax = np.abs(g).max(axis=-1).astype(np.float32)
    scale = (amax / np.float32(127)).astype(np.float32)
    safe = np.where(scale == 0, np.float32(1), scale)[..., None]
    v = (g / safe).astype(np.float32)
    q = np.sign(v) * np.floor(np.abs(v) + np.float32(0.5))
    q = np.where(scale[..., None] == 0, 0, np.clip(q, -127, 127)).astype(np.int8)
    body = q.tobytes()
    body += b"\0" * (-len(body) % 4)
    return body + scale.astype("<f4").tobytes()


def decoded_size(dtype, dims, group):
    n = int(np.prod(dims)) if dims else 1
    if dtype == F32:
        return 4 * n
    if dtype == F16:
        return 2 * n
    if dtype == BYTES:
        return n
    k = dims[-1]
    return n + (-n % 4) + 4 * (n // k) * (k // group)


def zstd(data, content_size=True):
    return zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_content_size=content_size).compress(data)


def tensor(name, dims, dtype, compression, group=0, seed=0, role="weight"):
    """A tensor spec with deterministic values: LayerNorm gains near 1, the rest small."""
    rng = np.random.RandomState(seed)
    n = int(np.prod(dims)) if dims else 1
    x = rng.standard_normal(n).astype(np.float32) * np.float32(0.05)
    if role == "gain":
        x = x + np.float32(1)
    if dtype == Q8:
        decoded = q8_encode(x.reshape(dims), group)
    elif dtype == F16:
        decoded = x.astype("<f2").tobytes()
    elif dtype == BYTES:
        decoded = bytes(rng.randint(0, 256, n, dtype=np.uint8))
    else:
        decoded = x.astype("<f4").tobytes()
    assert len(decoded) == decoded_size(dtype, dims, group)
    stored = zstd(decoded) if compression == ZSTD else decoded
    return {"name": name.encode() if isinstance(name, str) else name, "dims": list(dims), "dtype": dtype,
            "compression": compression, "group": group, "stored": stored, "decoded": len(decoded), "entry": {}}


def base_tensors():
    """The vision tensors, named and ordered exactly as CLIPWeights.visitTensors names them."""
    ts, seed = [], iter(range(1000))

    def add(name, dims, dtype, compression, group=0, role="weight"):
        ts.append(tensor(name, dims, dtype, compression, group, next(seed), role))

    def norm(p, compression=RAW):
        add(p + ".weight", [D], F32, compression, role="gain")
        add(p + ".bias", [D], F32, compression)

    add("vision.patch_embed", [D, 3 * P * P], Q8, ZSTD, 3 * P * P)
    add("vision.class_embed", [D], F32, RAW)
    add("vision.pos_embed", [T, D], F32, ZSTD)
    norm("vision.ln_pre")
    b = "vision.blocks.0."
    norm(b + "ln_1")
    add(b + "attn.qkv.weight", [3 * D, D], Q8, RAW, D)
    add(b + "attn.qkv.bias", [3 * D], F32, ZSTD)
    add(b + "attn.out.weight", [D, D], Q8, ZSTD, D)
    add(b + "attn.out.bias", [D], F32, RAW)
    norm(b + "ln_2", ZSTD)
    add(b + "mlp.fc.weight", [H, D], Q8, ZSTD, D)
    add(b + "mlp.fc.bias", [H], F32, RAW)
    add(b + "mlp.proj.weight", [D, H], Q8, RAW, 16)  # grouped: two scales per row
    add(b + "mlp.proj.bias", [D], F32, RAW)
    norm("vision.ln_post")
    add("vision.proj", [E, D], Q8, RAW, D)
    return ts


def index_of(ts, name):
    return next(i for i, t in enumerate(ts) if t["name"] == name.encode())


# ---------------------------------------------------------------- writer

def encode_entry(t, offset):
    """One TensorEntry; t["entry"] overrides fields (the payload is still placed honestly)."""
    o = t["entry"]
    name = o.get("name", t["name"])
    dims = o.get("dims", t["dims"])
    fields = [
        struct.pack("<H", o.get("name_length", len(name))), name,
        struct.pack("<BBBBI", o.get("dtype", t["dtype"]), o.get("compression", t["compression"]),
                    o.get("rank", len(dims)), o.get("reserved", 0), o.get("group_size", t["group"])),
        b"".join(struct.pack("<Q", d) for d in dims),
        struct.pack("<QQQI", o.get("offset", offset), o.get("stored_size", len(t["stored"])),
                    o.get("decoded_size", t["decoded"]), o.get("crc32", zlib.crc32(t["stored"]))),
    ]
    return b"".join(fields)


def layout(ts, metadata):
    """Where every section and payload goes, as the spec's writers do: metadata at 64, the
    directory after it, every payload (raw or zstd) at the next multiple of 64, in directory order."""
    entry_sizes = [2 + len(t["entry"].get("name", t["name"])) + 8 + 8 * len(t["entry"].get("dims", t["dims"])) + 28
                   for t in ts]
    directory_offset = HEADER_SIZE + len(metadata)
    position = directory_offset + sum(entry_sizes)
    offsets = []
    for t in ts:
        position += -position % ALIGN
        offsets.append(position)
        position += len(t["stored"])
    return directory_offset, offsets


def build(ts, metadata=None, header=None, pad_to=None):
    """The file's bytes. `header` overrides header fields; the CRCs are computed over the
    declared ranges (after the overrides), unless the override gives them too."""
    metadata = dump(base_metadata()) if metadata is None else metadata
    header = header or {}
    directory_offset, offsets = layout(ts, metadata)
    directory = b"".join(encode_entry(t, off) for t, off in zip(ts, offsets))
    end = max([off + len(t["stored"]) for t, off in zip(ts, offsets)] + [directory_offset + len(directory)])
    buf = bytearray(end if pad_to is None else max(end, pad_to))
    buf[HEADER_SIZE:HEADER_SIZE + len(metadata)] = metadata
    buf[directory_offset:directory_offset + len(directory)] = directory
    for t, off in zip(ts, offsets):
        buf[off:off + len(t["stored"])] = t["stored"]
    h = {"version_major": 1, "version_minor": 0, "flags": 0, "metadata_offset": HEADER_SIZE,
         "metadata_size": len(metadata), "directory_offset": directory_offset, "directory_size": len(directory),
         "tensor_count": len(ts)}
    h.update(header)
    write_header(buf, h)
    return buf, {"metadata": (HEADER_SIZE, len(metadata)), "directory": (directory_offset, len(directory)),
                 "offsets": offsets}


HEADER_FORMAT = "<8sHHIQQQQIIII"


def write_header(buf, h):
    def crc_of(offset, size):
        inside = offset <= len(buf) and size <= len(buf) - offset
        return zlib.crc32(bytes(buf[offset:offset + size])) if inside else 0

    mcrc = h.get("metadata_crc32", crc_of(h["metadata_offset"], h["metadata_size"]))
    dcrc = h.get("directory_crc32", crc_of(h["directory_offset"], h["directory_size"]))
    body = struct.pack(HEADER_FORMAT, h.get("magic", MAGIC), h["version_major"], h["version_minor"], h["flags"],
                       h["metadata_offset"], h["metadata_size"], h["directory_offset"], h["directory_size"],
                       h["tensor_count"], mcrc, dcrc, 0)[:60]
    buf[0:60] = body
    buf[60:64] = struct.pack("<I", h.get("header_crc32", zlib.crc32(body)))


def flip(buf, position, bit=0):
    out = bytearray(buf)
    out[position] ^= 1 << bit
    return out


def set_frame_content_size(frame, value):
    """Rewrites the Frame_Content_Size field of a zstd frame header (RFC 8878 3.1.1.1), same width."""
    fhd = frame[4]
    fcs_flag, single, did_flag = fhd >> 6, (fhd >> 5) & 1, fhd & 3
    pos = 5 + (0 if single else 1) + [0, 1, 2, 4][did_flag]
    width = [1 if single else 0, 2, 4, 8][fcs_flag]
    assert width == 2, "the patched frames are mid-sized: a 2-byte content size field"
    out = bytearray(frame)
    out[pos:pos + 2] = struct.pack("<H", value - 256)
    return bytes(out)


def bad_checksum_frame(data):
    """A frame with Content_Checksum_flag set whose 4-byte checksum (the frame's last bytes) is wrong."""
    frame = bytearray(zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True).compress(data))
    assert frame[4] & 0x04, "the checksum flag is set"
    frame[-1] ^= 0xFF
    return bytes(frame)


def with_payload(t, stored):
    """The tensor with its stored bytes replaced (directory stored_size and CRC follow them)."""
    t = dict(t)
    t["stored"] = stored
    return t


# ---------------------------------------------------------------- the corpus

PE = "PclipError"
EB, BP, BM = f"{PE}.badEntry", f"{PE}.badPayload", f"{PE}.badMetadata"
# The tensors most mutations target: one of each storage kind.
raw_name = "vision.blocks.0.attn.qkv.weight"   # raw q8 [24, 8]
zstd_name = "vision.patch_embed"               # zstd q8 [8, 192]
f32_name = "vision.class_embed"                # raw f32 [8]

class Corpus:
    def __init__(self):
        self.cases = []
        self.files = {}

    def add(self, case, group, what, data, error=None, contains=None, layer="container", stage="open"):
        assert case not in self.files, case
        self.files[case] = bytes(data)
        entry = {"case": case, "file": case + ".pclip", "group": group, "what": what}
        if error is None:
            entry.update({"expect": "valid"})
        else:
            entry.update({"expect": "error", "error": error, "message_contains": contains, "layer": layer,
                          "stage": stage})
        self.cases.append(entry)


def entry_case(c, ts, name, overrides, case, what, error, contains, stage="open", group="directory"):
    ts2 = [dict(t) for t in ts]
    i = index_of(ts2, name)
    ts2[i]["entry"] = dict(overrides)
    c.add(case, group, what, build(ts2)[0], error, contains, stage=stage)


def replace(ts, name, new):
    ts2 = list(ts)
    ts2[index_of(ts, name)] = new
    return ts2


def truncation_cases(c, b):
    # Truncation at every section boundary and in the middle of every section.
    ts, base, offsets, names = b.ts, b.base, b.offsets, b.names
    meta_off, meta_size, dir_off, dir_size = b.meta_off, b.meta_size, b.dir_off, b.dir_size
    c.add("truncate-empty", "truncation", "the empty file", b"", f"{PE}.tooSmall", "0 bytes is shorter than the 64-byte header")
    for n, where in [(8, "after the magic"), (32, "in the middle of the header"), (63, "one byte short of the header")]:
        c.add(f"truncate-header-{n}", "truncation", f"truncated to {n} bytes ({where})", base[:n], f"{PE}.tooSmall",
              f"{n} bytes is shorter than the 64-byte header")
    c.add("truncate-at-metadata", "truncation", "truncated right after the header (where the metadata starts)",
          base[:meta_off], f"{PE}.badSection", "metadata is corrupt: bytes 64..<")
    c.add("truncate-mid-metadata", "truncation", "truncated in the middle of the metadata",
          base[:meta_off + meta_size // 2], f"{PE}.badSection", "metadata is corrupt: bytes 64..<")
    c.add("truncate-at-directory", "truncation", "truncated right after the metadata (where the directory starts)",
          base[:dir_off], f"{PE}.badSection", "directory is corrupt: bytes")
    c.add("truncate-mid-directory", "truncation", "truncated in the middle of the directory",
          base[:dir_off + dir_size // 2], f"{PE}.badSection", "directory is corrupt: bytes")
    c.add("truncate-after-directory", "truncation", "truncated right after the directory (before any payload)",
          base[:dir_off + dir_size], f"{PE}.badEntry", "at entry 0 ('vision.patch_embed'): stored bytes")
    for i, (t, off) in enumerate(zip(ts, offsets)):
        name = names[i]
        # Truncating at a payload's start cuts it whole; in its middle leaves half of it.
        for cut, where in [(off, "start"), (off + len(t["stored"]) // 2, "middle")]:
            c.add(f"truncate-payload-{i:02d}-{where}", "truncation",
                  f"truncated at the {where} of payload {i} ({name}, {'zstd' if t['compression'] else 'raw'})",
                  base[:cut], f"{PE}.badEntry", f"at entry {i} ('{name}'): stored bytes")
    c.add("truncate-last-byte", "truncation", "the last byte of the last payload missing", base[:-1],
          f"{PE}.badEntry", f"at entry {len(ts) - 1} ('{names[-1]}'): stored bytes")


def bitflip_cases(c, b):
    # Single bit flips, CRCs left alone: the checksums must catch them.
    ts, base, offsets = b.ts, b.base, b.offsets
    meta_off, meta_size, dir_off, dir_size = b.meta_off, b.meta_size, b.dir_off, b.dir_size
    c.add("bitflip-magic", "bitflip", "bit 0 of magic byte 1 ('P') flipped", flip(base, 1), f"{PE}.badMagic", "magic")
    c.add("bitflip-magic-high-bit", "bitflip", "the high bit of magic byte 0 cleared (a 7-bit transfer)",
          flip(base, 0, 7), f"{PE}.badMagic", "magic")
    for pos, field in [(8, "version_major"), (12, "flags"), (16, "metadata_offset"), (32, "directory_offset"),
                       (40, "directory_size"), (48, "tensor_count"), (52, "metadata_crc32"), (60, "header_crc32")]:
        c.add(f"bitflip-header-{field}", "bitflip", f"one bit of header field {field} (byte {pos}) flipped, CRC not fixed",
              flip(base, pos, 3), f"{PE}.headerChecksum", "header is corrupt: its CRC-32 is")
    for pos, where in [(meta_off, "first byte"), (meta_off + meta_size // 2, "middle"), (meta_off + meta_size - 1, "last byte")]:
        c.add(f"bitflip-metadata-{where.replace(' ', '-')}", "bitflip", f"one bit of the metadata ({where}) flipped",
              flip(base, pos, 2), f"{PE}.sectionChecksum", "metadata is corrupt: its CRC-32 is")
    for pos, where in [(dir_off, "first-byte"), (dir_off + dir_size // 2, "middle"), (dir_off + dir_size - 1, "last-byte")]:
        c.add(f"bitflip-directory-{where}", "bitflip", f"one bit of the directory ({where}) flipped",
              flip(base, pos, 5), f"{PE}.sectionChecksum", "directory is corrupt: its CRC-32 is")
    for name in ["vision.patch_embed", "vision.pos_embed", "vision.blocks.0.attn.qkv.weight", "vision.class_embed", "vision.proj"]:
        i = index_of(ts, name)
        t, off = ts[i], offsets[i]
        kind = "zstd" if t["compression"] == ZSTD else "raw"
        c.add(f"bitflip-payload-{kind}-{name}", "bitflip", f"one bit in the middle of {kind} payload {name} flipped",
              flip(base, off + len(t["stored"]) // 2, 6), f"{PE}.payloadChecksum", f"tensor '{name}' is corrupt: its CRC-32 is",
              stage="payload")


def header_cases(c, b):
    # Header fields (header CRC recomputed).
    ts, base = b.ts, b.base
    meta_size, dir_off, dir_size = b.meta_size, b.dir_off, b.dir_size
    c.add("version-2.0", "header", "version_major 2", build(ts, header={"version_major": 2})[0],
          f"{PE}.unsupportedVersion", "version 2.0; this pocketclip reads version 1.x")
    c.add("version-0.9", "header", "version 0.9", build(ts, header={"version_major": 0, "version_minor": 9})[0],
          f"{PE}.unsupportedVersion", "version 0.9")
    c.add("version-65535.0", "header", "version_major 65535",
          build(ts, header={"version_major": 65535})[0], f"{PE}.unsupportedVersion", "version 65535.0")
    c.add("flags-bit0", "header", "flags = 1", build(ts, header={"flags": 1})[0], f"{PE}.unknownFlags", "flags 0x00000001")
    c.add("flags-bit31", "header", "flags = 0x80000000", build(ts, header={"flags": 1 << 31})[0],
          f"{PE}.unknownFlags", "flags 0x80000000")
    size = len(base)
    for case, what, h, contains in [
        ("metadata-offset-past-eof", "metadata_offset = file size + 64", {"metadata_offset": size + 64},
         "metadata is corrupt: bytes"),
        ("metadata-offset-2^63", "metadata_offset = 2^63", {"metadata_offset": 1 << 63}, "metadata is corrupt: bytes"),
        ("metadata-size-past-eof", "metadata_size = file size", {"metadata_size": size}, "metadata is corrupt: bytes"),
        ("metadata-size-2^64-1", "metadata_size = 2^64 - 1", {"metadata_size": (1 << 64) - 1},
         "metadata is corrupt: size 18446744073709551615 is outside 2...16777216"),
        ("metadata-size-0", "metadata_size = 0", {"metadata_size": 0}, "metadata is corrupt: size 0 is outside 2..."),
        ("metadata-offset-in-header", "metadata_offset = 0: the metadata overlaps the header", {"metadata_offset": 0},
         "overlaps the header"),
        ("directory-offset-past-eof", "directory_offset = file size + 1", {"directory_offset": size + 1},
         "directory is corrupt: bytes"),
        ("directory-offset-2^64-1", "directory_offset = 2^64 - 1", {"directory_offset": (1 << 64) - 1},
         "directory is corrupt: bytes"),
        ("directory-size-past-eof", "directory_size reaches one byte past the end of the file",
         {"directory_size": size - dir_off + 1}, "directory is corrupt: bytes"),
        ("directory-size-2^64-1", "directory_size = 2^64 - 1", {"directory_size": (1 << 64) - 1},
         "directory is corrupt: size 18446744073709551615 is outside 0...67108864"),
        ("directory-overlaps-metadata", "directory_offset moved 10 bytes into the metadata",
         {"directory_offset": dir_off - 10}, "directory is corrupt: it overlaps the metadata"),
        ("metadata-overlaps-directory", "metadata_size grown 10 bytes into the directory",
         {"metadata_size": meta_size + 10}, "directory is corrupt: it overlaps the metadata"),
        ("directory-offset-in-header", "directory_offset = 8: the directory overlaps the header",
         {"directory_offset": 8}, "overlaps the header"),
    ]:
        c.add(case, "section", what, build(ts, header=h)[0], f"{PE}.badSection", contains)
    c.add("directory-size-short-by-one", "section", "directory_size one byte short (CRC over the shorter range)",
          build(ts, header={"directory_size": dir_size - 1})[0], f"{PE}.badSection",
          "directory is corrupt: it ends inside a tensor entry (at crc32)")
    c.add("tensor-count-2^32-1", "section", "tensor_count = 2^32 - 1",
          build(ts, header={"tensor_count": (1 << 32) - 1})[0], f"{PE}.badSection", "4294967295 tensors (limit 65536)")
    c.add("tensor-count-65537", "section", "tensor_count = 65,537, one past the limit",
          build(ts, header={"tensor_count": 65537})[0], f"{PE}.badSection", "65537 tensors (limit 65536)")
    c.add("tensor-count-plus-one", "section", "tensor_count one more than the entries",
          build(ts, header={"tensor_count": len(ts) + 1})[0], f"{PE}.badSection",
          "directory is corrupt: it ends inside a tensor entry (at name_length)")
    c.add("tensor-count-minus-one", "section", "tensor_count one less than the entries",
          build(ts, header={"tensor_count": len(ts) - 1})[0], f"{PE}.badSection",
          f"bytes after the last of {len(ts) - 1} entries")


def entry_cases(c, b):
    # Directory entries (directory and header CRCs recomputed).
    ts, base, offsets = b.ts, b.base, b.offsets
    dir_off, dir_size = b.dir_off, b.dir_size
    raw_i, f32_i = index_of(ts, raw_name), index_of(ts, f32_name)
    entry_case(c, ts, raw_name, {"offset": 1 << 63}, "entry-offset-2^63", "a raw payload's offset = 2^63",
               EB, f"('{raw_name}'): stored bytes 9223372036854775808..<")
    entry_case(c, ts, raw_name, {"offset": len(base) + 64 - len(base) % 64}, "entry-offset-past-eof",
               "a raw payload's offset = the first aligned position past the end", EB, "are not inside the")
    entry_case(c, ts, zstd_name, {"stored_size": len(base)}, "entry-stored-size-past-eof",
               "a zstd payload's stored_size = the file size", EB, f"('{zstd_name}'): stored bytes")
    entry_case(c, ts, zstd_name, {"offset": (1 << 64) - 1, "stored_size": 2}, "entry-offset-plus-size-wraps",
               "offset 2^64 - 1 and stored_size 2: the end wraps past 2^64", EB, "are not inside the")
    entry_case(c, ts, raw_name, {"offset": offsets[f32_i]}, "entry-overlaps-payload",
               f"{raw_name}'s offset moved onto {f32_name}'s payload: two payloads overlap", f"{PE}.overlap",
               "overlap in the file")
    in_directory = dir_off + (-dir_off % ALIGN)
    assert in_directory + 64 < dir_off + dir_size
    entry_case(c, ts, f32_name, {"offset": in_directory}, "entry-overlaps-directory",
               "a raw payload placed (64-aligned) inside the directory", f"{PE}.overlap", "'<directory>'")
    entry_case(c, ts, f32_name, {"offset": 64}, "entry-overlaps-metadata",
               "a raw payload at offset 64, inside the metadata", f"{PE}.overlap", "'<metadata>'")
    entry_case(c, ts, f32_name, {"offset": 0}, "entry-overlaps-header",
               "a raw payload at offset 0, over the header", f"{PE}.overlap", "'<header>'")
    entry_case(c, ts, raw_name, {"offset": offsets[raw_i] + 4}, "entry-raw-misaligned",
               "a raw payload's offset moved 4 bytes off its 64-byte alignment", EB, "not a multiple of 64")
    entry_case(c, ts, f32_name, {"decoded_size": 36}, "entry-decoded-size-lies-raw",
               "a raw f32 [8] entry declares decoded_size 36 (needs 32)", EB, "decoded size 36 but f32 [8] needs 32")
    entry_case(c, ts, zstd_name, {"decoded_size": ts[0]["decoded"] + 4}, "entry-decoded-size-lies-zstd",
               "a zstd q8 entry declares 4 more decoded bytes than its dtype and dims need", EB,
               f"decoded size {ts[0]['decoded'] + 4} but q8 [8, 192] needs {ts[0]['decoded']}")
    entry_case(c, ts, raw_name, {"crc32": zlib.crc32(ts[raw_i]["stored"]) ^ 1}, "entry-crc32-wrong",
               "a raw payload's crc32 field off by one bit (directory CRC recomputed)", f"{PE}.payloadChecksum",
               f"tensor '{raw_name}' is corrupt: its CRC-32 is", stage="payload")
    entry_case(c, ts, f32_name, {"stored_size": 28}, "entry-raw-stored-size-differs",
               "a raw entry whose stored_size (28) differs from its decoded_size (32)", EB, "raw but stored size 28")
    big = tensor("vision.huge_zeros", [1 << 20], F32, ZSTD, seed=99)
    big["stored"] = zstd(bytes(16))
    big["entry"] = {}
    c.add("entry-zstd-expansion-bound", "directory",
          f"a zstd f32 [2^20] (4 MiB) tensor stored in {len(big['stored'])} bytes: past 4096 x stored + 1 MiB",
          build(ts + [big])[0], EB, "compressed bytes cannot honestly hold 4194304 bytes")
    huge = tensor("vision.huge", [4], F32, RAW, seed=98)
    huge["entry"] = {"dims": [1 << 40], "decoded_size": 4 << 40, "stored_size": 4 << 40}
    c.add("entry-raw-2^40-elements", "directory",
          "an honest raw f32 [2^40] entry (4 TiB) in a small file: must not be allocated or mapped past the end",
          build(ts + [huge])[0], EB, "('vision.huge'): stored bytes")
    for case, overrides, what, contains in [
        ("dtype-0", {"dtype": 0}, "dtype code 0 (zeroed data)", "unknown dtype code 0"),
        ("dtype-9", {"dtype": 9}, "dtype code 9", "unknown dtype code 9"),
        ("compression-7", {"compression": 7}, "compression code 7", "unknown compression code 7"),
        ("compression-2", {"compression": 2}, "compression code 2", "unknown compression code 2"),
        ("reserved-1", {"reserved": 1}, "reserved byte 1", "reserved byte is 1, not 0"),
        ("f32-group-size", {"group_size": 8}, "group_size 8 on an f32 tensor", "group size 8 on a f32 tensor"),
    ]:
        entry_case(c, ts, f32_name, overrides, "entry-" + case, what, EB, contains)
    entry_case(c, ts, raw_name, {"group_size": 3}, "entry-q8-group-not-dividing-k",
               "q8 [24, 8] with group_size 3 (does not divide K = 8)", EB,
               "group size 3 does not divide the last dimension 8")
    entry_case(c, ts, raw_name, {"group_size": 0}, "entry-q8-group-0", "q8 [24, 8] with group_size 0", EB,
               "group size 0 does not divide the last dimension 8")
    entry_case(c, ts, raw_name, {"group_size": 16}, "entry-q8-group-larger-than-k",
               "q8 [24, 8] with group_size 16 (> K)", EB, "group size 16 does not divide the last dimension 8")
    entry_case(c, ts, raw_name, {"dims": [], "rank": 0}, "entry-q8-rank-0", "a q8 entry of rank 0", EB,
               "a q8 tensor needs rank 1 or more")
    blob = tensor("vision.blob", [2, 8], BYTES, RAW, seed=97)
    c.add("entry-bytes-rank-2", "directory", "a bytes tensor of rank 2 ([2, 8])", build(ts + [blob])[0], EB,
          "('vision.blob'): a bytes tensor needs rank 1 and group size 0")


def dims_cases(c, b):
    # Dims: absurd shapes and counts.
    ts = b.ts
    DG = "dims"
    entry_case(c, ts, f32_name, {"dims": [1 << 62]}, "dims-2^62", "f32 dims [2^62]", EB,
               "dimension 0 is 4611686018427387904", group=DG)
    entry_case(c, ts, f32_name, {"dims": [(1 << 64) - 1]}, "dims-2^64-1", "f32 dims [2^64 - 1]", EB,
               "dimension 0 is 18446744073709551615", group=DG)
    entry_case(c, ts, f32_name, {"dims": [1 << 40, 1 << 40]}, "dims-product-overflows-64-bits",
               "f32 dims [2^40, 2^40]: each allowed, the product 2^80 overflows", EB, "more than 2^40 elements", group=DG)
    entry_case(c, ts, f32_name, {"dims": [1 << 21, 1 << 20]}, "dims-product-2^41",
               "f32 dims [2^21, 2^20]: product 2^41, past the 2^40 limit", EB, "more than 2^40 elements", group=DG)
    entry_case(c, ts, f32_name, {"dims": [2, 1 << 62, 0, 4]}, "dims-2^62-in-rank-4",
               "f32 dims [2, 2^62, 0, 4]", EB, "dimension 1 is 4611686018427387904", group=DG)
    entry_case(c, ts, f32_name, {"dims": [8, 0]}, "dims-zero", "f32 dims [8, 0]", EB, "dimension 1 is 0", group=DG)
    entry_case(c, ts, f32_name, {"dims": [1, 1, 1, 1, 8]}, "dims-rank-5", "f32 of rank 5 [1, 1, 1, 1, 8]", EB,
               "rank 5 (limit 4)", group=DG)
    entry_case(c, ts, f32_name, {"dims": [8] + [1] * 254, "rank": 255}, "dims-rank-255", "rank 255", EB,
               "rank 255 (limit 4)", group=DG)


def name_cases(c, b):
    # Names.
    ts, names = b.ts, b.names
    f32_i = index_of(ts, f32_name)
    NG = "names"
    entry_case(c, ts, f32_name, {"name": b"", "name_length": 0}, "name-empty", "name_length 0 (an empty name)", EB,
               "name length 0 is outside 1...256", group=NG)
    entry_case(c, ts, f32_name, {"name": b"vision.class_\xff\xfembed"}, "name-not-utf8",
               "a name holding bytes FF FE (not UTF-8)", EB, "the name is not valid UTF-8", group=NG)
    entry_case(c, ts, f32_name, {"name": b"vision.class_\xc3"}, "name-truncated-utf8",
               "a name ending in the first byte of a 2-byte UTF-8 sequence", EB, "the name is not valid UTF-8", group=NG)
    entry_case(c, ts, f32_name, {"name": b"v" * 300}, "name-length-300", "a 300-byte name", EB,
               "name length 300 is outside 1...256", group=NG)
    entry_case(c, ts, f32_name, {"name": b"v" * 257}, "name-length-257", "a 257-byte name, one past the limit", EB,
               "name length 257 is outside 1...256", group=NG)
    entry_case(c, ts, names[-1], {"name_length": 256}, "name-length-past-directory",
               "the last entry's name_length (256) runs past the end of the directory", f"{PE}.badSection",
               "directory is corrupt: it ends inside a tensor entry (at name)", group=NG)
    dup = [dict(t) for t in ts]
    dup[f32_i] = dict(dup[f32_i], entry={"name": b"vision.ln_pre.weight"})
    c.add("name-duplicate", NG, "vision.class_embed renamed vision.ln_pre.weight: one name twice", build(dup)[0],
          f"{PE}.duplicateName", "names 'vision.ln_pre.weight' twice")


def zstd_cases(c, b):
    # zstd frames that do not match their entry (directory CRC and stored_size follow the payload,
    ts = b.ts
    # so only the frame check can catch them).
    ZG = "zstd"
    zi = index_of(ts, zstd_name)
    n = ts[zi]["decoded"]
    decoded = q8_encode(np.random.RandomState(0).standard_normal(n).astype(np.float32)[: 8 * 192].reshape(8, 192), 192)
    assert len(decoded) == n
    extra = decoded + bytes(range(64))
    for case, stored, what, contains in [
        ("zstd-content-size-larger", zstd(extra), f"a frame whose header records {n + 64} bytes; the directory says {n}",
         f"the zstd frame holds {n + 64} bytes, the directory says {n}"),
        ("zstd-content-size-smaller", zstd(decoded[:-64]),
         f"a frame whose header records {n - 64} bytes; the directory says {n}",
         f"the zstd frame holds {n - 64} bytes, the directory says {n}"),
        ("zstd-decompresses-to-more", set_frame_content_size(zstd(extra), n),
         f"a frame of {n + 64} bytes whose content size field was rewritten to {n}: decompresses to more than declared",
         "zstd: "),
        ("zstd-decompresses-to-fewer", set_frame_content_size(zstd(decoded[:-64]), n),
         f"a frame of {n - 64} bytes whose content size field was rewritten to {n}: decompresses to fewer than declared",
         "zstd: "),
        ("zstd-no-content-size", zstd(decoded, content_size=False), "a frame without a content size field",
         "the zstd frame does not record its content size"),
        ("zstd-trailing-bytes", zstd(decoded) + b"\0\1\2\3\4", "5 bytes after the frame",
         "5 bytes after the zstd frame"),
        ("zstd-two-frames", zstd(decoded[:800]) + zstd(decoded[800:]), "two concatenated frames (800 + the rest)",
         f"{len(zstd(decoded[800:]))} bytes after the zstd frame"),
        ("zstd-not-zstd", bytes(np.random.RandomState(5).randint(0, 256, 300, dtype=np.uint8)),
         "300 random bytes where a zstd frame should be", "not a complete zstd frame"),
        ("zstd-truncated-frame", zstd(decoded)[:-7], "the frame with its last 7 bytes cut (stored_size follows)",
         "not a complete zstd frame"),
        ("zstd-empty", b"", "stored_size 0 for a zstd tensor", "not a complete zstd frame"),
        ("zstd-frame-checksum-wrong", bad_checksum_frame(decoded),
         "a frame with a content checksum whose last byte is changed (the frame's own check must fail)",
         "zstd: "),
        ("zstd-skippable-frame", struct.pack("<II", 0x184D2A50, 16) + bytes(16),
         "a skippable frame (magic 0x184D2A50, 16 bytes of user data) instead of a data frame",
         f"the zstd frame holds 0 bytes, the directory says {n}"),
    ]:
        c.add(case, ZG, what, build(replace(ts, zstd_name, with_payload(ts[zi], stored)))[0], BP,
              f"tensor '{zstd_name}' is corrupt: {contains}", stage="payload")


def container_metadata_cases(c, b):
    # Metadata the container refuses (CRCs recomputed).
    ts = b.ts
    MG = "metadata"
    good = dump(base_metadata())
    for case, data, what, contains in [
        ("metadata-not-json", b"this is not JSON", "metadata bytes that are not JSON", "invalid JSON at byte"),
        ("metadata-truncated-json", good[:-1], "the metadata JSON missing its closing brace", "unterminated object"),
        ("metadata-not-object", b"[1, 2, 3]", "metadata that is a JSON array", "it is not a JSON object"),
        ("metadata-string", b'"model"', "metadata that is a JSON string", "it is not a JSON object"),
        ("metadata-duplicate-key", b'{"model":{},' + good[1:], 'the key "model" twice', "duplicate key 'model'"),
        ("metadata-nesting-10000", good[:-1] + b',"deep":' + b"[" * 10000 + b"]" * 10000 + b"}",
         "a 10,000-deep array under an unknown key", "nesting deeper than 64"),
        ("metadata-invalid-utf8", good.replace(b'"openclip"', b'"open\xffclip"'),
         "a metadata string holding byte FF", "not valid UTF-8"),
        ("metadata-trailing-data", good + b" {}", "a second JSON value after the object", "unexpected data after the value"),
    ]:
        c.add(case, MG, what, build(ts, metadata=data)[0], BM, contains)


def model_case(c, ts, case, mutate, what, contains, error=BM, tensors=None, group="metadata-schema"):
    """A file whose container is sound but whose metadata (mutated by `mutate`) or tensors the
    model must refuse."""
    meta = base_metadata()
    mutate(meta)
    c.add(case, group, what, build(ts if tensors is None else tensors, metadata=dump(meta))[0], error, contains,
          layer="model", stage="model")


def model_metadata_cases(c, b):
    # Metadata the model refuses: the container is sound, CLIPModel.load must catch it.
    ts = b.ts
    model_case(c, ts, "schema-missing-model", lambda m: m.pop("model"), 'no "model" key', 'no "model" object')
    model_case(c, ts, "schema-model-not-object", lambda m: m.update(model=[1]), '"model" is an array', 'no "model" object')
    model_case(c, ts, "schema-missing-preprocess", lambda m: m.pop("preprocess"), 'no "preprocess" key', 'no "preprocess" object')
    model_case(c, ts, "schema-width-string", lambda m: m["model"]["vision"].update(width="8"), 'model.vision.width is "8"',
               "model.vision.width must be a non-negative integer")
    model_case(c, ts, "schema-width-fraction", lambda m: m["model"]["vision"].update(width=8.5), "model.vision.width is 8.5",
               "model.vision.width must be a non-negative integer")
    model_case(c, ts, "schema-width-negative", lambda m: m["model"]["vision"].update(width=-8), "model.vision.width is -8",
               "model.vision.width must be a non-negative integer")
    model_case(c, ts, "schema-missing-text", lambda m: m["model"].pop("text"), "no model.text (it must describe both towers)",
               "model.text.vocabulary_size must be a non-negative integer")
    model_case(c, ts, "schema-activation-number", lambda m: m["model"].update(activation=5), "model.activation is 5",
               'model.activation must be "quick_gelu" or "gelu"')
    model_case(c, ts, "schema-activation-unknown", lambda m: m["model"].update(activation="relu"), 'model.activation is "relu"',
               'model.activation must be "quick_gelu" or "gelu"')
    model_case(c, ts, "schema-eps-string", lambda m: m["model"].update(layer_norm_eps="1e-5"), 'layer_norm_eps is "1e-5"',
               "model.layer_norm_eps must be a number")
    model_case(c, ts, "schema-logit-scale-null", lambda m: m["model"].update(logit_scale=None), "logit_scale is null",
               "model.logit_scale must be a number")
    model_case(c, ts, "schema-mean-two-numbers", lambda m: m["preprocess"].update(mean=[0.5, 0.5]), "preprocess.mean has 2 numbers",
               "preprocess.mean must be three numbers")
    model_case(c, ts, "schema-std-zero", lambda m: m["preprocess"].update(std=[0.5, 0, 0.5]), "preprocess.std holds 0",
               "preprocess.std must be positive")
    model_case(c, ts, "schema-crop-rounding-unknown", lambda m: m["preprocess"].update(crop_rounding="floor"),
               'preprocess.crop_rounding is "floor"', 'preprocess.crop_rounding must be "openclip" or "hf"')
    model_case(c, ts, "schema-preprocess-size-differs", lambda m: m["preprocess"].update(size=32),
               "preprocess.size 32 vs model.vision.image_size 16", "preprocess.size 32 differs from model.vision.image_size 16")
    model_case(c, ts, "config-width-not-divisible-by-heads", lambda m: m["model"]["vision"].update(heads=3),
               "vision width 8 with 3 heads", "vision width 8 is not a multiple of its 3 heads", group="config")
    model_case(c, ts, "config-image-not-multiple-of-patch",
               lambda m: (m["model"]["vision"].update(image_size=20), m["preprocess"].update(size=20)),
               "image_size 20 with patch_size 8", "image size 20 must be a positive multiple of patch size 8", group="config")
    model_case(c, ts, "config-heads-zero", lambda m: m["model"]["vision"].update(heads=0), "vision heads 0",
               "vision tower needs positive width, heads and MLP width", group="config")
    model_case(c, ts, "config-eps-zero", lambda m: m["model"].update(layer_norm_eps=0), "layer_norm_eps 0",
               "LayerNorm epsilon 0.0 is out of range", group="config")
    # Configs whose implied tensors are far larger than the file: refused by the config's bounds
    # (CLIPConfig.max*) or by the shape check, never by allocating what the config implies.
    model_case(c, ts, "config-layers-100000", lambda m: m["model"]["vision"].update(layers=100000),
               "vision layers 100,000 (the file holds 1): 100,000 blocks' worth of weights implied by 3 KB",
               "beyond the limits", group="config")
    model_case(c, ts, "config-width-4096", lambda m: m["model"]["vision"].update(width=4096, heads=1, mlp_width=4096),
               "vision width 4096 (the file holds 8): ~400 MB of weights implied by 3 KB",
               "from the model config", error="ModelError.shapeMismatch", group="config")
    model_case(c, ts, "config-width-2^30", lambda m: m["model"]["vision"].update(width=1 << 30, heads=1),
               "vision width 2^30 (the file holds 8): terabytes of weights implied by 3 KB",
               "beyond the limits", group="config")


def tensor_cases(c, b):
    # Tensors that disagree with the config (container sound).
    ts = b.ts
    TG = "tensors"
    model_case(c, ts, "tensor-missing", lambda m: None, "vision.ln_post.bias removed", "has no tensor 'vision.ln_post.bias'",
               error=f"{PE}.noSuchTensor", tensors=[t for t in ts if t["name"] != b"vision.ln_post.bias"], group=TG)
    model_case(c, ts, "tensor-extra-unknown", lambda m: None, "an extra f32 tensor vision.extra",
               "tensor 'vision.extra' does not belong to the model", tensors=ts + [tensor("vision.extra", [8], F32, RAW, seed=50)],
               group=TG)
    model_case(c, ts, "tensor-extra-block", lambda m: None, "vision.blocks.1.ln_1.weight in a 1-layer model",
               "tensor 'vision.blocks.1.ln_1.weight' does not belong to the model",
               tensors=ts + [tensor("vision.blocks.1.ln_1.weight", [8], F32, RAW, seed=51)], group=TG)
    model_case(c, ts, "tensor-shape-proj-4x9", lambda m: None, "vision.proj stored as [4, 9] (config: [4, 8])",
               "tensor 'vision.proj' has shape [4, 9], expected [4, 8]", error="ModelError.shapeMismatch",
               tensors=replace(ts, "vision.proj", tensor("vision.proj", [4, 9], Q8, RAW, 9, seed=52)), group=TG)
    model_case(c, ts, "tensor-shape-fc-transposed", lambda m: None, "mlp.fc.weight stored [8, 32] (config: [32, 8])",
               "has shape [8, 32], expected [32, 8]", error="ModelError.shapeMismatch",
               tensors=replace(ts, "vision.blocks.0.mlp.fc.weight",
                               tensor("vision.blocks.0.mlp.fc.weight", [8, 32], Q8, ZSTD, 32, seed=53)), group=TG)
    model_case(c, ts, "tensor-shape-rank", lambda m: None, "vision.class_embed stored [1, 8] (config: [8])",
               "tensor 'vision.class_embed' has shape [1, 8], expected [8]", error="ModelError.shapeMismatch",
               tensors=replace(ts, "vision.class_embed", tensor("vision.class_embed", [1, 8], F32, RAW, seed=54)), group=TG)
    model_case(c, ts, "tensor-none", lambda m: None, "no tensors at all", "the file holds neither tower", tensors=[], group=TG)
    model_case(c, ts, "tensor-vision-bytes-dtype", lambda m: None, "vision.class_embed stored as bytes [8]",
               "tensor 'vision.class_embed' is bytes, expected f32, f16 or q8", error=f"{PE}.wrongDType",
               tensors=replace(ts, "vision.class_embed", tensor("vision.class_embed", [8], BYTES, RAW, seed=55)), group=TG)


def main():
    ts = base_tensors()
    base, info = build(ts)
    b = types.SimpleNamespace(ts=ts, base=base, offsets=info["offsets"], names=[t["name"].decode() for t in ts],
                              meta_off=info["metadata"][0], meta_size=info["metadata"][1],
                              dir_off=info["directory"][0], dir_size=info["directory"][1])
    c = Corpus()

    c.add("base-valid", "valid", "the valid base file: the micro vision-only model every case mutates", base)
    c.add("valid-minor-1.5", "valid", "version 1.5: a higher minor version of major 1 must still be accepted",
          build(ts, header={"version_minor": 5})[0])
    meta = base_metadata()
    meta["future_key"] = {"added_in": "1.1"}
    meta["model"]["future_model_key"] = [1, 2, 3]
    c.add("valid-unknown-metadata-keys", "valid", "unknown metadata keys (what a minor version may add) are ignored",
          build(ts, metadata=dump(meta))[0])

    for cases in [truncation_cases, bitflip_cases, header_cases, entry_cases, dims_cases, name_cases, zstd_cases,
                  container_metadata_cases, model_metadata_cases, tensor_cases]:
        cases(c, b)
    write(c)


def write(c):
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    for case, data in c.files.items():
        with open(os.path.join(OUT, case + ".pclip"), "wb") as f:
            f.write(data)
    manifest = {
        "about": "Bad .pclip files made by tools/goldens/make-pclip-bad-corpus.py; each must give the named error and "
                 "allocate no more than the file's size. layer: container = PclipFile(path:) (stage open) or its "
                 "data/verifyAll (stage payload); model = CLIPModel.load(pclip:towers: .vision) (stage model: the "
                 "container, verifyAll included, accepts the file).",
        "regenerate": "VENV/bin/python tools/goldens/make-pclip-bad-corpus.py",
        "cases": c.cases,
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=True)
        f.write("\n")
    total = sum(len(d) for d in c.files.values())
    print(f"wrote {len(c.cases)} files ({total} bytes) and manifest.json to {os.path.relpath(OUT, ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
