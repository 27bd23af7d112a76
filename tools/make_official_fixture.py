#!/usr/bin/env python3
"""Fixtures for `matpac import-official` and `matpac export-encoder`, written by
the MATPAC reference implementation's own inference code.

What it does:
1. Takes the reference repository (https://github.com/aurianworld/matpac) at the
   pinned commit below: `--reference` may name a local clone or bare git
   directory; otherwise it is cloned from GitHub. Only its `inference_matpac/`
   package is imported, from a temporary folder; nothing of it is written into
   this repository.
2. Builds the reference `matpac_wrapper` with a small encoder (default 2 layers
   x 192, 3 heads) and seeded random weights (the sin-cos `pos_embed` exactly as
   the reference's training code sets it), and saves the state dict with
   `torch.save` restricted to the keys the published checkpoints carry:
   `patch_embed.proj.*`, `cls_token`, `pos_embed`, `student_encoder.*`.
3. For three bundled recordings (a 0.9 s clip: shorter than one 608-frame
   chunk; a 6.5 s phrase: one chunk and a remainder; a 20 s scene: several
   chunks and a remainder) writes the reference's raw log-mel
   (`<name>.logmel.npy`, f32 [80, frames], before normalisation) and its
   "precise" clip embedding from the audio (`<name>.emb.npy`, f32 [5 x width]).
4. Writes three damaged state dicts of a 1 x 64 encoder (a missing key, a
   transposed weight, an unexpected key) for the importer's error tests.

Usage, from the repository root (needs torch, torchaudio, timm==0.4.12,
einops, pandas, numpy, soundfile, pillow from PyPI; see the fixture README):
  python3 tools/make_official_fixture.py                       # committed fixture
  python3 tools/make_official_fixture.py --width 768 --depth 12 --no-broken --out /tmp/vitb
                                                              # ViT-B shape, not committed
  python3 tools/make_official_fixture.py --check-export FILE.safetensors --fixture DIR
  python3 tools/make_official_fixture.py --check-export FILE.onnx --fixture DIR
The two `--check-export` forms load a file written by `matpac export-encoder`
into the reference model (every key must match, as `strict=True`, except the
torchaudio front end's two buffers, which the published checkpoints lack too)
or onnxruntime, and compare embeddings with the fixture's.
"""
import argparse
import pathlib
import subprocess
import sys
import tempfile
import types

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
REFERENCE_URL = "https://github.com/aurianworld/matpac.git"
PINNED_COMMIT = "b0e2dc7559a1ee0e7fb2401722d5c0266f7b8088"
DEFAULT_OUT = ROOT / "trainer" / "tests" / "fixtures" / "official"
BUNDLED = ROOT / "data" / "bundled"
CLIPS = {
    "clip": BUNDLED / "clips" / "bass" / "p032-k033.flac",
    "phrase": BUNDLED / "unlabelled" / "phrase000.flac",
    "scene": BUNDLED / "scenes" / "scene01.flac",
}
KEEP = ("patch_embed.proj.", "cls_token", "pos_embed", "student_encoder.")


def reference_package(reference, work):
    """Extracts `inference_matpac/` at the pinned commit into `work`; returns its path."""
    src = reference or REFERENCE_URL
    git_dir = pathlib.Path(work) / "clone"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(src), str(git_dir)], check=True)
    archive = subprocess.run(
        ["git", "--git-dir", str(git_dir), "archive", PINNED_COMMIT, "inference_matpac"],
        check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(work)], input=archive, check=True)
    return pathlib.Path(work) / "inference_matpac"


def import_reference(package):
    """Imports the reference's `matpac.model` on Python 3.11 with a torchvision stub."""

    class Stub(types.ModuleType):
        # timm 0.4.12 imports torchvision at import time; only
        # timm.models.vision_transformer.Block is used here.
        def __getattr__(self, name):
            if name.startswith("__"):
                raise AttributeError(name)
            module = Stub(f"{self.__name__}.{name}")
            sys.modules[module.__name__] = module
            return module

        def __call__(self, *args, **kwargs):
            return None

    for name in ("torchvision", "torchvision.transforms", "torchvision.transforms.functional"):
        sys.modules.setdefault(name, Stub(name))
    sys.path.insert(0, str(package))
    import matpac.encoder as encoder

    # Python 3.11 refuses an unhashable dataclass instance as a field default
    # (general_config.encoder); the reference was written for 3.9.
    encoder.encoder_layers_config.__hash__ = object.__hash__
    import matpac.model as model
    import matpac.utils as utils

    return encoder, model, utils


def build(ref, width, depth, seed):
    import torch

    encoder, model, utils = ref
    heads = width // 64
    cfg = model.general_config(
        encoder=encoder.encoder_layers_config(embed_dim=width, depth=depth, num_heads=heads))
    net = model.matpac_wrapper(inference_type="precise", cfg=cfg)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name == "pos_embed":
                grid = net.grid_size()
                table = utils.get_2d_sincos_pos_embed(width, grid, cls_token=True)
                p.copy_(torch.from_numpy(table).float().unsqueeze(0))
            elif name.endswith("norm1.weight") or name.endswith("norm2.weight") or name.endswith(
                    "norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=gen))
            elif p.ndim == 1 or name == "cls_token":
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
            else:
                fan_in = int(np.prod(p.shape[1:]))
                p.copy_(torch.randn(p.shape, generator=gen) / np.sqrt(fan_in))
    net.eval()
    return net


def published_state(net):
    return {k: v.clone() for k, v in net.state_dict().items() if k.startswith(KEEP)}


def load_pcm(path):
    import soundfile as sf

    pcm, sr = sf.read(str(path), dtype="int16", always_2d=True)
    assert sr == 16000, f"{path}: {sr} Hz"
    return (pcm.mean(axis=1) / 32768.0).astype(np.float32)


def embed(net, pcm):
    import torch

    with torch.no_grad():
        x = torch.from_numpy(pcm).unsqueeze(0)
        logmel = net.log_mel(x)[0]
        emb, _ = net(x)
    return (np.ascontiguousarray(logmel.numpy(), dtype=np.float32),
            np.ascontiguousarray(emb[0].numpy(), dtype=np.float32))


def make(args):
    import torch

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        ref = import_reference(reference_package(args.reference, work))
        net = build(ref, args.width, args.depth, args.seed)
        torch.save(published_state(net), out / "checkpoint.pt")
        for name, path in CLIPS.items():
            logmel, emb = embed(net, load_pcm(path))
            np.save(out / f"{name}.logmel.npy", logmel)
            np.save(out / f"{name}.emb.npy", emb)
            print(f"{name}: {path.relative_to(ROOT)} logmel {logmel.shape} emb {emb.shape}")
        if args.broken:
            # Three damaged state dicts of a 1 x 64 encoder, for the error tests.
            state = published_state(build(ref, 64, 1, args.seed))
            missing = dict(state)
            del missing["student_encoder.blocks.0.attn.proj.bias"]
            torch.save(missing, out / "broken_missing.pt")
            misshaped = dict(state)
            key = "student_encoder.blocks.0.mlp.fc2.weight"
            misshaped[key] = misshaped[key].t().contiguous()
            torch.save(misshaped, out / "broken_shape.pt")
            extra = dict(state)
            extra["student_encoder.blocks.0.ls1.gamma"] = torch.ones(64)
            torch.save(extra, out / "broken_extra.pt")
    print(f"wrote {out}")


def check_export(args):
    import torch

    fixture = pathlib.Path(args.fixture)
    path = pathlib.Path(args.check_export)
    state = torch.load(fixture / "checkpoint.pt")
    width = state["cls_token"].shape[-1]
    depth = len({k.split(".")[2] for k in state if k.startswith("student_encoder.blocks.")})
    worst = 0.0
    with tempfile.TemporaryDirectory() as work:
        ref = import_reference(reference_package(args.reference, work))
        net = build(ref, width, depth, 0)
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            # strict=True except for the torchaudio front end's two buffers, which
            # the published checkpoints do not hold either.
            result = net.load_state_dict(load_file(str(path)), strict=False)
            missing = [k for k in result.missing_keys if not k.startswith("log_mel.")]
            assert not missing and not result.unexpected_keys, (
                f"{path}: missing {missing}, unexpected {result.unexpected_keys}")
            for name in CLIPS:
                pcm = load_pcm(CLIPS[name])
                _, emb = embed(net, pcm)
                want = np.load(fixture / f"{name}.emb.npy")
                worst = max(worst, float(np.abs(emb - want).max()))
        elif path.suffix == ".onnx":
            import onnxruntime as ort

            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            net.load_state_dict(state, strict=False)
            mean, std = net.cfg.lms_mean, net.cfg.lms_std
            for name in CLIPS:
                logmel = np.load(fixture / f"{name}.logmel.npy")
                x = ((logmel[:, :608] - mean) / std).astype(np.float32)
                x = np.pad(x, ((0, 0), (0, 608 - x.shape[1])))
                got = session.run(None, {session.get_inputs()[0].name: x[None, None]})[0]
                with torch.no_grad():
                    _, layers = net.extract_features(torch.from_numpy(x)[None, None])
                want = layers[:, -1, 1:, :].numpy()
                worst = max(worst, float(np.abs(got - want).max()))
        else:
            sys.exit(f"{path}: expected .safetensors or .onnx")
    print(f"{path.name}: max abs difference from the reference {worst:.3g}")
    if worst > args.tolerance:
        sys.exit(f"difference {worst:.3g} exceeds {args.tolerance}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--reference", help="local clone (or bare git dir) of aurianworld/matpac")
    p.add_argument("--out", default=str(DEFAULT_OUT))
    p.add_argument("--width", type=int, default=192)
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-broken", dest="broken", action="store_false",
                   help="skip the three damaged 1 x 64 state dicts (error tests)")
    p.add_argument("--check-export", help="a .safetensors or .onnx from `matpac export-encoder`")
    p.add_argument("--fixture", default=str(DEFAULT_OUT))
    p.add_argument("--tolerance", type=float, default=1e-4)
    args = p.parse_args()
    if args.check_export:
        check_export(args)
    else:
        make(args)


if __name__ == "__main__":
    main()
