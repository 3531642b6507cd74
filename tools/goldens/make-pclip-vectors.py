#!/usr/bin/env python3
"""Test vectors for the `.pclip` v1 container (formats/pclip.md), written from the spec alone.

Run from the repository root (needs numpy and zstandard):

    VENV/bin/python tools/goldens/make-pclip-vectors.py
    VENV/bin/python tools/goldens/make-pclip-vectors.py --check model.pclip   # validate any file

Deterministic: every value is either listed here or drawn from a seeded numpy generator, and
the zstd frames come from python-zstandard at level 19 with the content size in the frame header
and no dictionary or frame checksum. (A different libzstd may compress to other bytes; the
decoded bytes, which is what the vectors pin, never change.)

Writes formats/vectors/:
  tensors.pclip   one tensor of every dtype, raw and zstd, ranks 0-4, per-channel and grouped q8
  tensors.json    file-level fields, the directory as written, and every tensor's decoded values
  quantize.json   inputs and the exact int8 values and scales of the reference quantizer

The file is built with `struct`, `zlib.crc32` and `zstandard` only, independently of the Swift
writer. Before exiting the script reads the files back with a separate small reader (bottom of
this file) that performs the spec's container validation steps 1, 2, 4 and 6 and compares every
decoded tensor with tensors.json as loaded from disk. Any mismatch exits non-zero.
"""
import json
import os
import struct
import sys
import zlib

import numpy as np
import zstandard

OUT_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "formats", "vectors"))
SEED = 20261129

# ---------------------------------------------------------------------------------------------
# Spec constants (formats/pclip.md)
# ---------------------------------------------------------------------------------------------
MAGIC = b"\x89PCLIP\r\n"
HEADER = struct.Struct("<8sHHIQQQQIIII")          # FileHeader, 64 bytes
assert HEADER.size == 64
HEADER_SIZE = 64
PAYLOAD_ALIGN = 64
DTYPE = {"f32": 1, "f16": 2, "q8": 3, "bytes": 4}
COMPRESSION = {"raw": 0, "zstd": 1}
MAX_METADATA = 16 * 1024 * 1024
MAX_DIRECTORY = 64 * 1024 * 1024
MAX_TENSORS = 65536
MAX_ELEMENTS = 1 << 40
ZSTD_LEVEL = 19


def align(x, a):
    return (x + a - 1) // a * a


def hex32(v):
    return "%08x" % (int(v) & 0xFFFFFFFF)


def f32_from_bits(bits):
    return np.array(bits, dtype=np.uint32).view(np.float32)


def f16_from_bits(bits):
    return np.array(bits, dtype=np.uint16).view(np.float16)


def json_number(x):
    """A binary32/binary16 value as a JSON number (exact as a double), or None if not finite."""
    x = float(x)
    return x if np.isfinite(x) else None


# ---------------------------------------------------------------------------------------------
# The reference quantizer ("The int8 scheme"), in binary32 arithmetic
# ---------------------------------------------------------------------------------------------
def round_half_away(y):
    """Round float32 values half away from zero. Done in float64, where |y| + 0.5 is exact for
    every float32 y below 2^28 (a float32 -> float32 `floor(y + 0.5)` would turn 0.49999997 into 1)."""
    y64 = y.astype(np.float64)
    return np.sign(y64) * np.floor(np.abs(y64) + 0.5)


def quantize(x, group_size):
    """x: float32 array [..., K]. Returns (int8 q with x's shape, float32 scales [rows, K/group])."""
    x = np.asarray(x, dtype=np.float32)
    k = x.shape[-1]
    assert k % group_size == 0
    groups = x.reshape(-1, k // group_size, group_size)
    amax = np.max(np.abs(groups), axis=2)                        # float32
    scale = (amax / np.float32(127)).astype(np.float32)          # binary32 division
    with np.errstate(divide="ignore", invalid="ignore"):
        y = (groups / scale[:, :, None]).astype(np.float32)      # binary32 division
    q = np.clip(round_half_away(y), -127, 127)
    q = np.where(scale[:, :, None] == 0, 0, q)
    return q.astype(np.int8).reshape(x.shape), scale


# ---------------------------------------------------------------------------------------------
# Tensors of tensors.pclip
# ---------------------------------------------------------------------------------------------
F32_SPECIAL = [
    0x80000000,  # -0.0
    0x3FC00000,  # 1.5
    0x00000001,  # smallest subnormal
    0x007FFFFF,  # largest subnormal
    0x00800000,  # smallest normal
    0x7F7FFFFF,  # +max
    0xFF7FFFFF,  # -max
    0x00000000,  # +0.0
    0x7F800000,  # +inf
    0xFF800000,  # -inf
    0x7FC00001,  # quiet NaN with a payload
    0x3DCCCCCD,  # 0.1 (inexact in binary)
    0xBF800000,  # -1.0
    0x40490FDB,  # pi
    0x80000001,  # -smallest subnormal
    0x4B7FFFFF,  # 16777215, largest odd integer
]
F16_SPECIAL = [
    0x0000, 0x8000,  # +-0
    0x0001, 0x8001,  # +-smallest subnormal
    0x03FF,          # largest subnormal
    0x0400,          # smallest normal
    0x7BFF, 0xFBFF,  # +-65504
    0x3C00, 0xBE00,  # 1.0, -1.5
    0x3555,          # 0.333 (inexact)
    0x7C00, 0xFC00,  # +-inf
    0x7E01,          # quiet NaN with a payload
]
MERGES_TEXT = (
    "#version: 0.2\n"
    "i n\n"
    "t h\n"
    "Ġ t\n"
    "Ã© s</w>\n"
    "ðŁ ĺ\n"
    "日 本</w>\n"
    "caf é</w>\n"
)


def f32_tensor(rng, dims):
    n = int(np.prod(dims)) if dims else 1
    bits = list(F32_SPECIAL[:n])
    if n > len(bits):
        rest = rng.standard_normal(n - len(bits)).astype(np.float32) * np.float32(3)
        bits += [int(b) for b in rest.view(np.uint32)]
    # Rotate by rank so every rank starts with a different special value.
    r = len(dims) % n
    return f32_from_bits(bits[r:] + bits[:r]).reshape(dims)


def build_tensors():
    """The list of (base name, dtype, dims, group_size, decoded bytes, expected-values dict)."""
    rng = np.random.default_rng(SEED)
    out = []

    for dims in ([], [5], [2, 3], [2, 3, 4], [2, 1, 3, 2]):
        a = f32_tensor(rng, dims)
        name = "f32.rank%d" % len(dims)
        out.append((name, "f32", dims, 0, a.astype("<f4").tobytes(), f32_expect(a)))

    h = np.concatenate([f16_from_bits(F16_SPECIAL),
                        rng.standard_normal(18).astype(np.float16)]).reshape(2, 16)
    out.append(("f16.rank2", "f16", [2, 16], 0, h.astype("<f2").tobytes(), f16_expect(h)))

    q8_cases = [
        ("q8.perchannel", [3, 5], 5),    # group = K; n = 15 so one byte of padding
        ("q8.group4", [3, 8], 4),        # two scales per row
        ("q8.rank1", [6], 3),            # a single row; n = 6, two bytes of padding
        ("q8.rank3.group3", [2, 2, 6], 3),
    ]
    for name, dims, group in q8_cases:
        x = rng.standard_normal(dims).astype(np.float32) * np.float32(0.05)
        x.reshape(-1)[0] = -np.abs(x).max() * np.float32(1.5)   # a -127 in the first group
        q, scale = quantize(x, group)
        n = q.size
        payload = q.tobytes() + bytes(align(n, 4) - n) + scale.astype("<f4").tobytes()
        out.append((name, "q8", dims, group, payload, q8_expect(q, scale, group)))

    text = MERGES_TEXT.encode("utf-8")
    out.append(("bytes.merges", "bytes", [len(text)], 0, text,
                {"hex": text.hex(), "text": MERGES_TEXT}))
    return out


def f32_expect(a):
    flat = a.reshape(-1)
    return {"bits": [hex32(b) for b in flat.view(np.uint32)],
            "values": [json_number(v) for v in flat]}


def f16_expect(h):
    flat = h.reshape(-1)
    wide = flat.astype(np.float32)
    return {"f16_bits": ["%04x" % b for b in flat.view(np.uint16)],
            "bits": [hex32(b) for b in wide.view(np.uint32)],
            "values": [json_number(v) for v in wide]}


def q8_expect(q, scale, group):
    rows = q.reshape(-1, q.shape[-1])
    deq = (rows.astype(np.float32).reshape(rows.shape[0], -1, group)
           * scale[:, :, None]).astype(np.float32).reshape(-1)
    return {"q": [int(v) for v in q.reshape(-1)],
            "scale_bits": [hex32(b) for b in scale.reshape(-1).view(np.uint32)],
            "scales": [json_number(v) for v in scale.reshape(-1)],
            "dequantized_bits": [hex32(b) for b in deq.view(np.uint32)],
            "dequantized": [json_number(v) for v in deq]}


# ---------------------------------------------------------------------------------------------
# Writer
# ---------------------------------------------------------------------------------------------
def encode_entry(name, dtype, compression, dims, group, offset, stored_size, decoded_size, crc):
    nb = name.encode("utf-8")
    return (struct.pack("<H", len(nb)) + nb
            + struct.pack("<BBBBI", DTYPE[dtype], COMPRESSION[compression], len(dims), 0, group)
            + b"".join(struct.pack("<Q", d) for d in dims)
            + struct.pack("<QQQI", offset, stored_size, decoded_size, crc))


def write_container(path, metadata, tensors):
    """tensors: list of (name, dtype, compression, dims, group, decoded bytes). Returns the
    description that goes into tensors.json."""
    meta = json.dumps(metadata, ensure_ascii=False, separators=(", ", ": ")).encode("utf-8")
    cctx = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_content_size=True,
                                    write_checksum=False)
    stored = []
    for name, dtype, comp, dims, group, decoded in tensors:
        stored.append(cctx.compress(decoded) if comp == "zstd" else decoded)

    # Entry sizes do not depend on the offsets, so the directory size is known up front.
    dir_size = sum(2 + len(t[0].encode("utf-8")) + 8 + 8 * len(t[3]) + 28 for t in tensors)
    dir_offset = HEADER_SIZE + len(meta)
    # Every payload (raw and zstd alike) starts at a multiple of 64: raw ones must, and a writer
    # that aligns all of them is the simplest deterministic rule.
    pos = dir_offset + dir_size
    offsets = []
    for s in stored:
        pos = align(pos, PAYLOAD_ALIGN)
        offsets.append(pos)
        pos += len(s)
    file_size = pos

    directory = b""
    desc = []
    for (name, dtype, comp, dims, group, decoded), s, off in zip(tensors, stored, offsets):
        crc = zlib.crc32(s)
        entry = encode_entry(name, dtype, comp, dims, group, off, len(s), len(decoded), crc)
        desc.append({"name": name, "dtype": dtype, "dtype_code": DTYPE[dtype],
                     "compression": comp, "compression_code": COMPRESSION[comp],
                     "dims": dims, "group_size": group,
                     "entry_offset": dir_offset + len(directory), "entry_size": len(entry),
                     "offset": off, "stored_size": len(s), "decoded_size": len(decoded),
                     "crc32": hex32(crc), "decoded_crc32": hex32(zlib.crc32(decoded))})
        directory += entry
    assert len(directory) == dir_size

    head = struct.pack("<8sHHIQQQQIII", MAGIC, 1, 0, 0, HEADER_SIZE, len(meta), dir_offset,
                       dir_size, len(tensors), zlib.crc32(meta), zlib.crc32(directory))
    header = head + struct.pack("<I", zlib.crc32(head))

    body = bytearray(header + meta + directory)
    for s, off in zip(stored, offsets):
        body += bytes(off - len(body))          # zero padding
        body += s
    assert len(body) == file_size
    with open(path, "wb") as f:
        f.write(body)

    return {"file_size": file_size, "magic_hex": MAGIC.hex(), "version_major": 1,
            "version_minor": 0, "flags": 0, "metadata_offset": HEADER_SIZE,
            "metadata_size": len(meta), "directory_offset": dir_offset,
            "directory_size": dir_size, "tensor_count": len(tensors),
            "metadata_crc32": hex32(zlib.crc32(meta)),
            "directory_crc32": hex32(zlib.crc32(directory)),
            "header_crc32": hex32(zlib.crc32(head)),
            "metadata_text": meta.decode("utf-8"), "metadata": metadata, "tensors": desc}


# ---------------------------------------------------------------------------------------------
# quantize.json cases
# ---------------------------------------------------------------------------------------------
def quantize_cases():
    rng = np.random.default_rng(SEED + 1)
    f = np.float32
    cases = []

    def add(name, x, group, why):
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 1:
            x = x.reshape(1, -1)
        q, scale = quantize(x, group)
        cases.append({
            "name": name, "why": why, "dims": list(x.shape), "group_size": group,
            "input_bits": [hex32(b) for b in x.reshape(-1).view(np.uint32)],
            "input": [json_number(v) for v in x.reshape(-1)],
            "expected_q": [int(v) for v in q.reshape(-1)],
            "expected_scale_bits": [hex32(b) for b in scale.reshape(-1).view(np.uint32)],
            "expected_scales": [json_number(v) for v in scale.reshape(-1)],
        })

    add("ties_scale1", [127, 2.5, -2.5, 0.5, -0.5, 1.5, -1.5, 126.5], 8,
        "amax 127 so scale is exactly 1 and x/scale = x: halves round away from zero (3, -3, 1, -1, 2, -2, 127)")
    add("ties_scale2", [254, 5, -1, -3, 3, 253, -7, 1], 8,
        "amax 254, scale exactly 2: 2.5 -> 3, -0.5 -> -1, -1.5 -> -2, 1.5 -> 2, 126.5 -> 127, -3.5 -> -4, 0.5 -> 1")
    add("ties_scale_quarter", [31.75, 0.125, -0.125, 0.375, -0.375, 0.625, 31.625, -31.625], 8,
        "amax 31.75, scale exactly 0.25: 0.5, 1.5, 2.5 and 126.5 all land on ties")
    add("just_below_half", f32_from_bits([0x42FE0000, 0x3EFFFFFF, 0xBEFFFFFF, 0x3F000000]), 4,
        "scale 1; 0.49999997 must give 0 (a float32 floor(y + 0.5) wrongly gives 1), 0.5 gives 1")
    add("just_above_half", f32_from_bits([0x42FE0000, 0x3F000001, 0xBF000001, 0x3FBFFFFF]), 4,
        "scale 1; 0.50000006 -> 1, -0.50000006 -> -1, 1.4999999 -> 1")
    add("all_zeros", [0, 0, 0, 0, 0, 0], 6, "amax 0, scale 0: every q is 0")
    add("signed_zeros", f32_from_bits([0x80000000, 0, 0x80000000, 0]), 4,
        "-0.0 and +0.0: amax 0, scale 0 (+0.0 bits), q 0")
    add("one_nonzero_positive", [0, 0, 0.3, 0, 0], 5, "only one value nonzero: it maps to 127")
    add("one_nonzero_negative", [0, -0.3, 0, 0], 4, "only one value nonzero, negative: -127")
    add("amax_both_signs", [1.7, -1.7, 0.85, -0.85], 4, "+amax -> 127, -amax -> -127")
    add("amax_negative_side", [-10, 3, 5, 9.99, -0.04], 5,
        "the largest magnitude is negative: -10 -> -127, scale from |-10|")
    add("amax_not_representable", [1, 0.1, 0.2, -0.3, 0.7], 5,
        "amax 1, scale 1/127 rounded to binary32; x/scale rounds in binary32 before rounding to int")
    add("subnormal_inputs", f32_from_bits([0x00000100, 0x00000080, 0x80000040, 0x00000001]), 4,
        "all subnormal (needs no flush-to-zero): amax/127 rounds up to 2 * 2^-149, so amax/scale = 128 "
        "and the clamp gives 127; 2^-149/scale = 0.5 -> 1")
    add("subnormal_scale_exact", f32_from_bits([0x0000007F, 0x00000040, 0x80000001, 0x8000007F]), 4,
        "amax 127 * 2^-149: scale is exactly 2^-149 and every q equals the integer mantissa")
    add("subnormal_scale_rounds_up", f32_from_bits([0x00000040, 0x00000020, 0x80000010, 0x00000001]), 4,
        "amax 64 * 2^-149: amax/127 rounds to 2^-149, so amax maps to 64, not 127")
    add("subnormal_scale_underflows", f32_from_bits([0x00000001, 0x80000001, 0, 0x00000001]), 4,
        "amax 2^-149: amax/127 rounds to 0, so scale is 0 and every q is 0 although x is nonzero")
    add("near_f32_max", f32_from_bits([0x7F7FFFFF, 0xFF7FFFFF, 0x7F000000, 0xFEFFFFFF]), 4,
        "amax = f32 max: no overflow (the scale is a division), +-max -> +-127; 2^127/scale rounds to "
        "exactly 63.5 -> 64, -(2^127 - 2^103)/scale to -63.499996 -> -63")
    add("large_mixed", [3e38, 1e30, -2e38, 1.5e38], 4, "large magnitudes near the top of the range")
    add("tiny_and_huge", [1e30, 1e-30, -1e-10, 5e29], 4, "small values vanish next to a huge amax")
    add("group_of_one", [0.5, -2, 0, 1e-20, -3e10, 7], 1,
        "group 1: every nonzero value is +-127 with its own scale; a zero has scale 0")
    add("groups_of_two", [1, -0.5, 0, 0, 4, 4, -1, 0.25], 2, "four groups per row, one all zero")
    add("several_groups_per_row", rng.standard_normal((1, 32)).astype(f) * f(0.02), 8,
        "four groups of 8 in one row, Gaussian weights")
    add("several_rows_perchannel", rng.standard_normal((4, 12)).astype(f), 12,
        "four rows, one scale each (group = K)")
    add("several_rows_groups", rng.standard_normal((3, 16)).astype(f) * f(0.1), 4,
        "three rows of four groups: scales are [rows][K/group]")
    add("rows_with_zero_row", np.array([[0, 0, 0, 0], [1, 2, 3, 4], [0, 0, 0, 0]], dtype=f), 4,
        "a zero row between nonzero rows")
    add("rank3_rows", rng.standard_normal((2, 3, 6)).astype(f), 3,
        "rank-3 input: rows = 2*3, two groups per row")
    add("outlier_group", np.concatenate([rng.standard_normal(7).astype(f) * f(0.01), [f(5)]]), 8,
        "one large outlier squeezes the other values to small q")
    add("integers_scale1", np.arange(-127, 128, dtype=f), 255,
        "every integer -127..127 with amax 127: q equals x exactly")
    add("uniform_random", rng.uniform(-1, 1, 64).astype(f), 16, "uniform inputs, four groups of 16")
    # Random values whose x/scale lands on a .5 tie: amax 127 * s with s a power of two.
    s = f(2.0 ** -6)
    halves = (np.arange(-126, 127, 21, dtype=f) + f(0.5)) * s
    add("ties_power_of_two_scale", np.concatenate([[f(127) * s], halves]), len(halves) + 1,
        "scale 2^-6 exactly: every other value is k + 0.5 after division")
    return cases


# ---------------------------------------------------------------------------------------------
# Independent reader: container validation steps 1, 2, 4 and 6, written again from the spec
# (it shares no code with the writer above) so a writer bug cannot hide behind itself.
# ---------------------------------------------------------------------------------------------
class PclipError(Exception):
    pass


def check(cond, what):
    if not cond:
        raise PclipError(what)


def read_pclip(data):
    """Validates `data` (bytes of a whole file) and returns (header dict, metadata object,
    list of entries with their decoded bytes)."""
    # Step 1: size, magic, header CRC, version, flags.
    check(len(data) >= 64, "file is %d bytes, a header needs 64" % len(data))
    (magic, major, minor, flags, m_off, m_size, d_off, d_size, count,
     m_crc, d_crc, h_crc) = struct.unpack_from("<8sHHIQQQQIIII", data, 0)
    check(magic == b"\x89PCLIP\r\n", "magic %r" % magic)
    check(zlib.crc32(data[:60]) == h_crc, "header_crc32")
    check(major == 1, "version_major %d" % major)
    check(flags == 0, "flags %#x" % flags)

    # Step 2: metadata and directory ranges, limits, overlaps, CRCs.
    size = len(data)
    check(2 <= m_size <= 16 << 20, "metadata_size %d" % m_size)
    check(d_size <= 64 << 20, "directory_size %d" % d_size)
    check(count <= 65536, "tensor_count %d" % count)
    for off, n, what in ((m_off, m_size, "metadata"), (d_off, d_size, "directory")):
        check(off >= 64 and off <= size and n <= size - off, "%s range" % what)
    check(m_off + m_size <= d_off or d_off + d_size <= m_off, "metadata/directory overlap")
    meta_bytes = data[m_off:m_off + m_size]
    directory = data[d_off:d_off + d_size]
    check(zlib.crc32(meta_bytes) == m_crc, "metadata_crc32")
    check(zlib.crc32(directory) == d_crc, "directory_crc32")

    def no_duplicates(pairs):
        obj = {}
        for k, v in pairs:
            check(k not in obj, "duplicate JSON key %r" % k)
            obj[k] = v
        return obj
    meta = json.loads(meta_bytes.decode("utf-8"), object_pairs_hook=no_duplicates)
    check(isinstance(meta, dict), "metadata is not an object")

    # Step 4: directory entries.
    entries, names, pos = [], set(), 0

    def take(n):
        nonlocal pos
        check(pos + n <= d_size, "entry runs past the directory")
        chunk = directory[pos:pos + n]
        pos += n
        return chunk

    for i in range(count):
        (name_len,) = struct.unpack("<H", take(2))
        check(1 <= name_len <= 256, "name_length %d" % name_len)
        name = take(name_len).decode("utf-8")       # raises on invalid UTF-8
        check(name not in names, "duplicate name %r" % name)
        names.add(name)
        dtype, comp, rank, reserved, group = struct.unpack("<BBBBI", take(8))
        check(dtype in (1, 2, 3, 4), "%s: dtype %d" % (name, dtype))
        check(comp in (0, 1), "%s: compression %d" % (name, comp))
        max_rank = {1: 4, 2: 4, 3: 4, 4: 1}[dtype]
        min_rank = {1: 0, 2: 0, 3: 1, 4: 1}[dtype]
        check(min_rank <= rank <= max_rank, "%s: rank %d" % (name, rank))
        check(reserved == 0, "%s: reserved %d" % (name, reserved))
        dims = list(struct.unpack("<%dQ" % rank, take(8 * rank)))
        n = 1
        for d in dims:
            check(d >= 1, "%s: dim %d" % (name, d))
            n *= d                                   # Python ints: no overflow to check here
            check(n <= 1 << 40, "%s: element count" % name)
        offset, stored, decoded = struct.unpack("<QQQ", take(24))
        (crc,) = struct.unpack("<I", take(4))
        if dtype == 3:
            k = dims[-1]
            check(1 <= group <= k and k % group == 0, "%s: group_size %d, K %d" % (name, group, k))
            want = (n + 3) // 4 * 4 + 4 * (n // k) * (k // group)
        else:
            check(group == 0, "%s: group_size %d on a non-q8 tensor" % (name, group))
            want = {1: 4 * n, 2: 2 * n, 4: n}[dtype]
        check(decoded == want, "%s: decoded_size %d, computed %d" % (name, decoded, want))
        if comp == 0:
            check(stored == decoded, "%s: raw stored_size %d != %d" % (name, stored, decoded))
            check(offset % 64 == 0, "%s: raw offset %d not aligned" % (name, offset))
        else:
            check(decoded <= 4096 * stored + (1 << 20), "%s: expansion bound" % name)
        check(offset <= size and stored <= size - offset, "%s: stored range" % name)
        entries.append({"name": name, "dtype": dtype, "compression": comp, "dims": dims,
                        "group_size": group, "offset": offset, "stored_size": stored,
                        "decoded_size": decoded, "crc32": crc})
    check(pos == d_size, "directory has %d trailing bytes" % (d_size - pos))
    ranges = sorted([(m_off, m_off + m_size, "metadata"), (d_off, d_off + d_size, "directory"),
                     (0, 64, "header")]
                    + [(e["offset"], e["offset"] + e["stored_size"], e["name"]) for e in entries])
    for (a0, a1, an), (b0, b1, bn) in zip(ranges, ranges[1:]):
        check(a1 <= b0 or a0 == a1 or b0 == b1, "%s overlaps %s" % (an, bn))

    # Step 6: payload CRCs; zstd frame content size and exact decompressed size.
    dctx = zstandard.ZstdDecompressor()
    for e in entries:
        raw = data[e["offset"]:e["offset"] + e["stored_size"]]
        check(zlib.crc32(raw) == e["crc32"], "%s: crc32" % e["name"])
        if e["compression"] == 1:
            params = zstandard.get_frame_parameters(raw)
            check(params.content_size == e["decoded_size"], "%s: frame content size %d"
                  % (e["name"], params.content_size))
            out = dctx.decompress(raw, max_output_size=e["decoded_size"])
            check(len(out) == e["decoded_size"], "%s: decompressed %d bytes" % (e["name"], len(out)))
            # Exactly one frame: nothing after it.
            check(zstandard.frame_content_size(raw) == e["decoded_size"], "%s: frame" % e["name"])
            obj = zstandard.ZstdDecompressor().decompressobj()
            obj.decompress(raw)
            check(obj.unused_data == b"" and obj.eof, "%s: bytes after the zstd frame" % e["name"])
            e["decoded"] = out
        else:
            e["decoded"] = raw
    header = {"version_major": major, "version_minor": minor, "flags": flags,
              "metadata_offset": m_off, "metadata_size": m_size, "directory_offset": d_off,
              "directory_size": d_size, "tensor_count": count, "metadata_crc32": "%08x" % m_crc,
              "directory_crc32": "%08x" % d_crc, "header_crc32": "%08x" % h_crc}
    return header, meta, entries


def verify_against_json(pclip_path, json_path):
    with open(pclip_path, "rb") as f:
        data = f.read()
    with open(json_path, encoding="utf-8") as f:
        spec = json.load(f)
    header, meta, entries = read_pclip(data)
    check(len(data) == spec["file_size"], "file size")
    for k, v in header.items():
        check(spec[k] == v, "header field %s: file %r, json %r" % (k, v, spec[k]))
    check(meta == spec["metadata"], "metadata differs")
    check(len(entries) == len(spec["tensors"]), "tensor count")
    codes = {"f32": 1, "f16": 2, "q8": 3, "bytes": 4}
    for e, t in zip(entries, spec["tensors"]):
        name = t["name"]
        check(e["name"] == name and e["dtype"] == codes[t["dtype"]]
              and e["compression"] == {"raw": 0, "zstd": 1}[t["compression"]]
              and e["dims"] == t["dims"] and e["group_size"] == t["group_size"]
              and e["offset"] == t["offset"] and e["stored_size"] == t["stored_size"]
              and e["decoded_size"] == t["decoded_size"] and "%08x" % e["crc32"] == t["crc32"],
              "%s: directory fields differ from the JSON" % name)
        d, x = e["decoded"], t["expected"]
        if t["dtype"] == "f32":
            bits = np.frombuffer(d, dtype="<u4")
            check(["%08x" % b for b in bits] == x["bits"], "%s: f32 bits" % name)
            check_numbers(np.frombuffer(d, dtype="<f4"), x["values"], name)
        elif t["dtype"] == "f16":
            h = np.frombuffer(d, dtype="<u2")
            check(["%04x" % b for b in h] == x["f16_bits"], "%s: f16 bits" % name)
            wide = np.frombuffer(d, dtype="<f2").astype(np.float32)
            check(["%08x" % b for b in wide.view(np.uint32)] == x["bits"], "%s: widened" % name)
            check_numbers(wide, x["values"], name)
        elif t["dtype"] == "q8":
            n = int(np.prod(t["dims"]))
            q = np.frombuffer(d[:n], dtype=np.int8)
            check(d[n:(n + 3) // 4 * 4] == bytes((n + 3) // 4 * 4 - n), "%s: q8 padding" % name)
            scales = np.frombuffer(d[(n + 3) // 4 * 4:], dtype="<f4")
            check([int(v) for v in q] == x["q"] and int(np.abs(q).max()) <= 127, "%s: q" % name)
            check(["%08x" % b for b in scales.view(np.uint32)] == x["scale_bits"], "%s: scales" % name)
            per_elem = np.repeat(scales, t["group_size"])
            deq = (q.astype(np.float32) * per_elem).astype(np.float32)
            check(["%08x" % b for b in deq.view(np.uint32)] == x["dequantized_bits"],
                  "%s: dequantized" % name)
        else:
            check(d.hex() == x["hex"] and d.decode("utf-8") == x["text"], "%s: bytes" % name)


def check_numbers(values, numbers, name):
    for v, num in zip(values, numbers):
        if num is None:
            check(not np.isfinite(v), "%s: %r should be non-finite" % (name, v))
        else:
            check(np.float32(num) == v and (np.signbit(np.float32(num)) == np.signbit(v)),
                  "%s: %r != %r" % (name, v, num))


def verify_quantize(path):
    with open(path, encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    for c in cases:
        x = f32_from_bits([int(b, 16) for b in c["input_bits"]]).reshape(c["dims"])
        # A second, scalar formulation of the scheme (Python floats hold every binary32
        # quotient exactly; the division itself is done in numpy binary32).
        k, g = c["dims"][-1], c["group_size"]
        rows = x.reshape(-1, k)
        q_all, s_all = [], []
        for row in rows:
            for j in range(0, k, g):
                grp = row[j:j + g]
                amax = np.float32(max(abs(float(v)) for v in grp))
                scale = np.float32(amax / np.float32(127))
                s_all.append("%08x" % np.array(scale).view(np.uint32))
                for v in grp:
                    if scale == 0:
                        q_all.append(0)
                        continue
                    y = float(np.float32(v / scale))
                    r = int(abs(y) + 0.5) if abs(y) - int(abs(y)) >= 0.5 else int(abs(y))
                    q_all.append(max(-127, min(127, r if y >= 0 else -r)))
        check(q_all == c["expected_q"], "quantize case %s: q" % c["name"])
        check(s_all == c["expected_scale_bits"], "quantize case %s: scales" % c["name"])
    return len(cases)


# ---------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------
def check_file(path):
    """--check: run the independent reader's container steps (1, 2, 4, 6) on any .pclip file."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        header, meta, entries = read_pclip(data)
    except (PclipError, UnicodeDecodeError, ValueError, zstandard.ZstdError) as err:
        print("%s: INVALID: %s" % (path, err))
        return 1
    print("%s: valid .pclip %d.%d container, %d bytes, %d tensors (metadata %d B at %d, "
          "directory %d B at %d); every CRC and zstd frame checked"
          % (path, header["version_major"], header["version_minor"], len(data), len(entries),
             header["metadata_size"], header["metadata_offset"], header["directory_size"],
             header["directory_offset"]))
    return 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        sys.exit(check_file(sys.argv[2]))
    os.makedirs(OUT_DIR, exist_ok=True)
    pclip_path = os.path.join(OUT_DIR, "tensors.pclip")
    json_path = os.path.join(OUT_DIR, "tensors.json")
    quant_path = os.path.join(OUT_DIR, "quantize.json")

    tensors, expected = [], {}
    for base, dtype, dims, group, decoded, expect in build_tensors():
        for comp in ("raw", "zstd"):
            name = "%s.%s" % (base, comp)
            tensors.append((name, dtype, comp, dims, group, decoded))
            expected[name] = expect
    metadata = {"test_vector": "tensors",
                "note": "PocketCLIP .pclip v1 container test vector: every dtype raw and zstd; "
                        "made by tools/goldens/make-pclip-vectors.py (µ-check: non-ASCII UTF-8)"}
    desc = write_container(pclip_path, metadata, tensors)
    for t in desc["tensors"]:
        t["expected"] = expected[t["name"]]
    doc = {"about": "Expected contents of tensors.pclip (formats/pclip.md v1.0). Hex strings are "
                    "lowercase without 0x: 'bits' are binary32 bit patterns (f16 values widened "
                    "exactly to binary32), 'f16_bits' binary16 patterns; a null number is "
                    "non-finite (see its bits). Offsets are absolute byte positions.",
           "generator": "tools/goldens/make-pclip-vectors.py", "zstd_version": "%d.%d.%d" % zstandard.ZSTD_VERSION}
    doc.update(desc)
    with open(json_path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")

    cases = quantize_cases()
    with open(quant_path, "w", encoding="utf-8") as f:
        json.dump({"about": "Reference quantizer cases (formats/pclip.md, 'The int8 scheme'): "
                            "input and scale bits are binary32 patterns, lowercase hex. q is "
                            "row-major like the input; scales are [rows][K / group_size].",
                   "generator": "tools/goldens/make-pclip-vectors.py", "cases": cases},
                  f, indent=1, ensure_ascii=False)
        f.write("\n")

    # Self-check: read everything back from disk with the independent reader.
    try:
        verify_against_json(pclip_path, json_path)
        n_cases = verify_quantize(quant_path)
    except PclipError as err:
        print("SELF-CHECK FAILED: %s" % err)
        sys.exit(1)
    print("wrote %s: %d bytes, %d tensors (metadata %d B at %d, directory %d B at %d)"
          % (pclip_path, desc["file_size"], desc["tensor_count"], desc["metadata_size"],
             desc["metadata_offset"], desc["directory_size"], desc["directory_offset"]))
    print("wrote %s and %s (%d quantizer cases)" % (json_path, quant_path, n_cases))
    print("self-check PASS: steps 1, 2, 4, 6 and every decoded value")


if __name__ == "__main__":
    main()
