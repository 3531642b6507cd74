# Simulates int8 schemes on a CLIP checkpoint in PyTorch to choose one before writing kernels:
# weights symmetric per output channel (PocketCLIP's q8 default), activations per row either
# symmetric (today's runtime) or asymmetric uint8 with a zero point (what VNNI's u8 x s8 takes
# natively). Prints the cosine of text and image embeddings to the float model.
#
#   VENV/bin/python tools/bench/quant-sim.py /tmp/vit-b32/hf     # from tools/goldens/make-fixtures.py --vit-b32
#
# Measured on the random ViT-B/32 (2026-11-29): symmetric text 0.99940-0.99949 (what the Swift
# runtime gives: 0.99933-0.99943), asymmetric fc2 inputs only 0.99948-0.99951, asymmetric
# everywhere 0.99955-0.99962; images 0.99973-0.99977 in all three.
import sys
import torch, transformers
torch.manual_seed(0)
m = transformers.CLIPModel.from_pretrained(sys.argv[1]).eval()
tok = transformers.CLIPTokenizer.from_pretrained(sys.argv[1])
texts = ["a photo of a cat", "a long caption about a dog running on the beach at sunset with friends", "two people riding bicycles", "an empty street at night with rain"]
ids = tok(texts, padding='max_length', max_length=77, return_tensors='pt')
pix = torch.randn(2, 3, 224, 224)
with torch.no_grad():
    ft = m.get_text_features(**ids); fi = m.get_image_features(pixel_values=pix)
    ft = ft.pooler_output if hasattr(ft, 'pooler_output') else ft
    fi = fi.pooler_output if hasattr(fi, 'pooler_output') else fi
def qw(w):
    s = w.abs().amax(1, keepdim=True) / 127
    return torch.where(s > 0, torch.clamp(torch.round(w / torch.where(s > 0, s, 1)), -127, 127) * s, w * 0)
def qsym(x):
    s = x.abs().amax(-1, keepdim=True) / 127
    return torch.where(s > 0, torch.clamp(torch.round(x / torch.where(s > 0, s, 1)), -127, 127) * s, x * 0)
def qasym(x):
    lo = x.amin(-1, keepdim=True); hi = x.amax(-1, keepdim=True)
    s = (hi - lo) / 255; s = torch.where(s > 0, s, torch.ones_like(s))
    zp = torch.round(-lo / s)
    return (torch.clamp(torch.round(x / s) + zp, 0, 255) - zp) * s
orig = {}
for name, mod in m.named_modules():
    if isinstance(mod, torch.nn.Linear):
        orig[name] = mod.weight.data.clone()
        mod.weight.data = qw(mod.weight.data)
mode = {'v': 'sym'}
def hook(name):
    def f(mod, inp):
        x = inp[0]
        if mode['v'] == 'asym_fc2' and name.endswith('fc2'): return (qasym(x),)
        if mode['v'] == 'asym_all': return (qasym(x),)
        return (qsym(x),)
    return f
for name, mod in m.named_modules():
    if isinstance(mod, torch.nn.Linear): mod.register_forward_pre_hook(hook(name))
cos = torch.nn.functional.cosine_similarity
for v in ['sym', 'asym_fc2', 'asym_all']:
    mode['v'] = v
    with torch.no_grad():
        t = m.get_text_features(**ids); i = m.get_image_features(pixel_values=pix)
        t = t.pooler_output if hasattr(t, 'pooler_output') else t
        i = i.pooler_output if hasattr(i, 'pooler_output') else i
    print(v, 'text', [round(c, 6) for c in cos(t, ft).tolist()], 'image', [round(c, 6) for c in cos(i, fi).tolist()])
