#!/usr/bin/env bash
# Images/s of one CLIP training step (forward, backward, AdamW) at the size of the default
# recipe, PyTorch (open_clip's CLIP, torch.optim.AdamW) vs CLIPTrain, same shapes, same machine,
# one process each, at 1 and 2 threads.
#
#   tools/bench/bench-train.sh [canvas=32] [batch=64] [steps=10]
#
# Model: ViT width 128, patch 8, 4 layers, 2 heads on a canvas×canvas image (Fashion-MNIST's
# 28×28 padded to 32 or 64); text width 128, 2 layers, 2 heads, context 16, CLIP's 49408-token
# vocabulary; embedding 128; QuickGELU. Needs PYTHON= a Python (default python3) with torch + open_clip.
# Absolute numbers drift on a shared machine: compare the ratio measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/../.."
canvas=${1:-32} batch=${2:-64} steps=${3:-10}
python=${PYTHON:-python3}
swift build -c release --target CLIPTrain >/dev/null
bin=$(swift build -c release --show-bin-path)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cat > "$out/main.swift" <<'SWIFT'
import CLIPTrain
import Foundation
let args = CommandLine.arguments.dropFirst().map { Int($0)! }
let (canvas, batch, steps, threads) = (args[0], args[1], args[2], args[3])
setBLASThreads(threads)
let config = TrainConfig(imageSize: canvas, patchSize: 8, vision: .init(width: 128, layers: 4, heads: 2),
                         vocabularySize: 49408, contextLength: 16, text: .init(width: 128, layers: 2, heads: 2),
                         embedDim: 128, activation: .quickGELU)
let model = try CLIPTrainModel(config: config, seed: 0)
let opt = AdamW(model: model)
opt.threads = threads
var rng = SeededNormal(seed: 1)
let images = (0..<(batch * 3 * canvas * canvas)).map { _ in rng.next() }
var tokens = [Int32](repeating: 0, count: batch * 16)
for b in 0..<batch {
    tokens[b * 16] = 49406
    for t in 1..<7 { tokens[b * 16 + t] = Int32(rng.nextUInt64() % 49000) }
    tokens[b * 16 + 7] = 49407
}
for _ in 0..<2 { _ = try model.lossAndGradients(images: images, tokens: tokens, batchSize: batch); opt.step(model, lr: 1e-4) }
let t0 = Date()
for _ in 0..<steps { _ = try model.lossAndGradients(images: images, tokens: tokens, batchSize: batch); opt.step(model, lr: 1e-4) }
let dt = Date().timeIntervalSince(t0) / Double(steps)
print(String(format: "CLIPTrain  threads %d: %7.1f ms/step  %7.1f images/s  (%d parameters)", threads, dt * 1000, Double(batch) / dt, model.layout.count))
SWIFT
swiftc -O -module-cache-path "$out/mc" -I "$bin/Modules" -Xcc -fmodule-map-file=Sources/CBLAS/module.modulemap \
  -Xcc -I/usr/include/x86_64-linux-gnu/openblas-pthread "$out/main.swift" "$bin"/CLIPTrain.build/*.o \
  -L/usr/lib/x86_64-linux-gnu/openblas-pthread -lopenblas -o "$out/bench"
cat > "$out/bench.py" <<'PY'
import sys, time, torch
from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg
canvas, batch, steps, threads = map(int, sys.argv[1:])
torch.set_num_threads(threads)
torch.manual_seed(0)
m = CLIP(embed_dim=128, vision_cfg=CLIPVisionCfg(layers=4, width=128, head_width=64, image_size=canvas, patch_size=8),
         text_cfg=CLIPTextCfg(context_length=16, vocab_size=49408, width=128, heads=2, layers=2), quick_gelu=True)
from open_clip.loss import ClipLoss
loss_fn = ClipLoss()
decay = [p for n, p in m.named_parameters() if p.ndim >= 2 and "embedding" not in n]
rest = [p for n, p in m.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.2}, {"params": rest, "weight_decay": 0.0}], lr=1e-4, betas=(0.9, 0.98), eps=1e-6)
images = torch.randn(batch, 3, canvas, canvas)
tokens = torch.zeros(batch, 16, dtype=torch.long)
tokens[:, 0] = 49406; tokens[:, 1:7] = torch.randint(0, 49000, (batch, 6)); tokens[:, 7] = 49407
def step():
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(*m(images, tokens))
    loss.backward()
    opt.step()
for _ in range(2): step()
t0 = time.perf_counter()
for _ in range(steps): step()
dt = (time.perf_counter() - t0) / steps
print(f"PyTorch    threads {threads}: {dt*1000:7.1f} ms/step  {batch/dt:7.1f} images/s  (torch {torch.__version__})")
PY
. tools/bench/machine.sh
echo "CPU: $(cpu_model)"  # figures depend on it
echo "canvas ${canvas}x${canvas}, batch $batch, $steps timed steps after 2 warm-up steps"
for threads in 1 2; do
  OPENBLAS_NUM_THREADS=$threads "$python" "$out/bench.py" "$canvas" "$batch" "$steps" "$threads"
  OPENBLAS_NUM_THREADS=$threads "$out/bench" "$canvas" "$batch" "$steps" "$threads"
done
