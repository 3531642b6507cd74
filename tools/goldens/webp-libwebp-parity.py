#!/usr/bin/env python3
"""Does the system's libwebp decode WebP files to the same samples as the libwebp in Pillow's wheel?

    PYTHON=VENV/bin/python; $PYTHON tools/goldens/webp-libwebp-parity.py [--large]

WebPDecoder.swift decodes with the system libwebp (Debian 12: 1.2.4) and must give what Pillow
(13.0: libwebp 1.6.0) gives. This script writes ~140 WebP files with Pillow (lossy at qualities
0-100 with and without alpha, alpha_quality, lossless with and without `exact`, methods 0-6,
sizes 1x1 to 400x300 with odd sides, animations lossy and lossless; with --large also 1024x768
and 4000x3000 photos), decodes each with a small C program built against the system libwebp that
takes WebPDecoder.swift's route (WebPGetFeatures; a still file through WebPDecode in RGB or RGBA,
an animation's first frame through WebPAnimDecoder), and compares with Pillow's Image.open.
Needs gcc, pkg-config and libwebp-dev. Prints each file that differs and exits 1 if any does.
"""
import io
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image, features

DECODER_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <webp/decode.h>
#include <webp/demux.h>

/* argv[1]: a WebP file. stdout: 'RGB ' or 'RGBA', then the samples, as WebPDecoder.swift. */
int main(int argc, char **argv) {
    FILE *f = fopen(argv[1], "rb");
    if (!f) return 2;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    uint8_t *bytes = malloc(n);
    if (fread(bytes, 1, n, f) != (size_t)n) return 2;
    fclose(f);
    WebPBitstreamFeatures ft;
    if (WebPGetFeatures(bytes, n, &ft) != VP8_STATUS_OK) return 3;
    int channels = ft.has_alpha ? 4 : 3;
    size_t count = (size_t)ft.width * ft.height;
    uint8_t *out = malloc(count * channels);
    if (!ft.has_animation) {
        uint8_t *ok = ft.has_alpha ? WebPDecodeRGBAInto(bytes, n, out, count * 4, ft.width * 4)
                                   : WebPDecodeRGBInto(bytes, n, out, count * 3, ft.width * 3);
        if (!ok) return 4;
    } else {
        WebPData data = {bytes, n};
        WebPAnimDecoder *dec = WebPAnimDecoderNew(&data, NULL);
        uint8_t *canvas;
        int timestamp;
        if (!dec || !WebPAnimDecoderGetNext(dec, &canvas, &timestamp)) return 5;
        for (size_t i = 0; i < count; i++)
            for (int c = 0; c < channels; c++) out[i * channels + c] = canvas[i * 4 + c];
    }
    fwrite(ft.has_alpha ? "RGBA" : "RGB ", 1, 4, stdout);
    fwrite(out, 1, count * channels, stdout);
    return 0;
}
"""

rng = np.random.default_rng(1)


def photo(w, h, alpha=False):
    """Smooth colour waves + noise; with alpha, a ramp with holes of full transparency."""
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([127 + 120 * np.sin(x / 7.0 + y / 11.0), 127 + 120 * np.cos(x / 5.0 - y / 3.0),
                    (x * 3 + y * 5) % 256], -1)
    rgb = np.clip(rgb + rng.integers(-40, 40, rgb.shape), 0, 255).astype(np.uint8)
    if not alpha:
        return Image.fromarray(rgb, "RGB")
    a = ((x + y) * 255 // (w + h)).astype(np.uint8)
    a[::5, ::3] = 0
    return Image.fromarray(np.concatenate([rgb, a[..., None]], -1), "RGBA")


def files(large):
    for w, h in [(1, 1), (2, 3), (17, 9), (64, 48), (101, 77), (250, 181)]:
        for q in [1, 50, 90, 100]:
            yield f"lossy {w}x{h} q{q}", photo(w, h), dict(quality=q)
            yield f"lossy+alpha {w}x{h} q{q}", photo(w, h, True), dict(quality=q)
        yield f"lossless {w}x{h}", photo(w, h), dict(lossless=True)
        yield f"lossless+alpha {w}x{h}", photo(w, h, True), dict(lossless=True)
        yield f"lossless exact {w}x{h}", photo(w, h, True), dict(lossless=True, exact=True)
        yield f"alpha_quality {w}x{h}", photo(w, h, True), dict(quality=70, alpha_quality=30)
    for i in range(60):
        w, h = int(rng.integers(1, 400)), int(rng.integers(1, 300))
        kw = dict(quality=int(rng.integers(0, 101)), method=int(rng.integers(0, 7)))
        if i % 5 == 0:
            kw["lossless"] = True
        yield f"random {w}x{h} {kw}", photo(w, h, bool(i % 2)), kw
    for alpha in (False, True):
        for lossless in (False, True):
            frames = [photo(120, 90, alpha)] + [photo(120, 90, alpha).rotate(20 * k) for k in (1, 2, 3)]
            yield (f"animation alpha={alpha} lossless={lossless}", frames[0],
                   dict(save_all=True, append_images=frames[1:], duration=100, lossless=lossless, quality=60))
    if large:
        for w, h in [(1024, 768), (4000, 3000)]:
            yield f"photo {w}x{h} q85", photo(w, h), dict(quality=85)
            yield f"photo {w}x{h} lossless", photo(w, h), dict(lossless=True, method=0)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "decode")
        with open(exe + ".c", "w") as f:
            f.write(DECODER_C)
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libwebpdemux"], check=True,
                               capture_output=True, text=True).stdout.split()
        subprocess.run(["gcc", "-O2", exe + ".c", "-o", exe] + flags, check=True)
        system = subprocess.run(["pkg-config", "--modversion", "libwebp"], capture_output=True, text=True).stdout.strip()
        print(f"system libwebp {system}, Pillow's libwebp {features.version('webp')}")
        count = differ = 0
        for label, im, kw in files("--large" in sys.argv):
            buf = io.BytesIO()
            im.save(buf, "WEBP", **kw)
            path = os.path.join(tmp, "t.webp")
            with open(path, "wb") as f:
                f.write(buf.getvalue())
            ref = Image.open(path)
            ref.load()
            out = subprocess.run([exe, path], capture_output=True).stdout
            count += 1
            if out[:4].decode().strip() != ref.mode or out[4:] != np.asarray(ref).tobytes():
                differ += 1
                print(f"DIFFERS: {label} (Pillow mode {ref.mode}, ours {out[:4]!r})")
        print(f"{count} files, {differ} differ")
        sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
