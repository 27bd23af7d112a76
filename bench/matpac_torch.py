"""PyTorch reference of matpac-edge's MATPAC model and update, checked against the Rust one.

Not part of the Rust tests. Needs torch, numpy, safetensors.

    cargo run --release -p matpac-trainer --example matpac_parity -- /tmp/parity small 10
    python3 bench/matpac_torch.py /tmp/parity [--timed 10] [--threads 2]

It builds the same model (hand-written pre-LN ViT blocks with fused qkv, predictor
with mask tokens, classification heads with a weight-normalised last layer), loads
the Rust weights before any update (weights0.safetensors), replays the Rust run's
three updates on the same batches and masks (batches.safetensors) -- teacher
temperature, centring, EMA of the teacher encoder and head in the forward pass,
global-norm clipping, AdamW -- and compares the losses of each update (|diff| <=
1e-4) and all weights after the three updates. Then it times updates of the same
configuration and batch size and prints the Rust/PyTorch samples-per-second ratio.
"""

import argparse
import json
import math
import sys
import time
import tomllib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file

LOSS_TOL = 1e-4


def sincos_1d(width, pos):
    omega = 1.0 / 10000 ** (np.arange(width // 2, dtype=np.float64) / (width / 2))
    out = np.outer(pos, omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def sincos_2d(dim, n_freq, n_time):
    """[1 + F*T, dim]: first half time, second half frequency, CLS row zero."""
    f, t = np.meshgrid(np.arange(n_freq), np.arange(n_time), indexing="ij")
    emb = np.concatenate([sincos_1d(dim // 2, t.reshape(-1)), sincos_1d(dim // 2, f.reshape(-1))], axis=1)
    return torch.tensor(np.concatenate([np.zeros((1, dim)), emb]), dtype=torch.float32)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, d = x.shape
        h = self.heads
        q, k, v = self.qkv(x).reshape(b, n, 3, h, d // h).permute(2, 0, 3, 1, 4)
        attn = ((q * (d // h) ** -0.5) @ k.transpose(-2, -1)).softmax(-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, ratio, eps):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, dim * ratio)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class Encoder(nn.Module):
    def __init__(self, dim, depth, heads, ratio, eps):
        super().__init__()
        self.blocks = nn.ModuleList([Block(dim, heads, ratio, eps) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=eps)

    def forward(self, x):
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)


class Head(nn.Module):
    def __init__(self, dim, hidden, bottleneck, k):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, bottleneck)
        self.last_v = nn.Parameter(torch.zeros(k, bottleneck))
        self.last_g = nn.Parameter(torch.ones(k, 1))

    def forward(self, x):
        x = F.normalize(self.fc3(F.gelu(self.fc2(F.gelu(self.fc1(x))))), dim=-1, eps=1e-12)
        w = self.last_g * self.last_v / self.last_v.norm(dim=1, keepdim=True)
        return x @ w.t()


class Predictor(nn.Module):
    def __init__(self, m, grid, hyps):
        super().__init__()
        dp = m["predictor_dim"]
        self.embed = nn.Linear(m["encoder_dim"], dp)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dp))
        self.blocks = nn.ModuleList(
            [Block(dp, m["predictor_heads"], m["mlp_ratio"], m["layer_norm_eps"]) for _ in range(m["predictor_depth"])]
        )
        self.norm = nn.LayerNorm(dp, eps=m["layer_norm_eps"])
        self.pred = nn.Linear(dp, m["encoder_dim"])
        # MATPAC++: hypotheses 2..H (the reference's mcl_heads; ours keeps `pred` as the first).
        self.more_hyps = nn.ModuleList([nn.Linear(dp, m["encoder_dim"]) for _ in range(max(hyps, 1) - 1)])
        self.register_buffer("pos", sincos_2d(dp, *grid)[None])

    def forward(self, z_v, order, nv):
        y = self.embed(z_v)
        b, _, dp = y.shape
        l = order.shape[1]
        seq = torch.cat([y[:, 1:], self.mask_token.expand(b, l - nv, dp)], 1)
        restore = torch.argsort(order, 1)
        seq = torch.gather(seq, 1, restore[..., None].expand(-1, -1, dp))
        x = torch.cat([y[:, :1], seq], 1) + self.pos
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)[:, 1:]
        x = torch.gather(x, 1, order[:, nv:, None].expand(-1, -1, dp))
        return torch.stack([self.pred(x)] + [h(x) for h in self.more_hyps], dim=2)  # [B, Nm, H, D]


class Student(nn.Module):
    def __init__(self, m, grid, hyps):
        super().__init__()
        d, p = m["encoder_dim"], m["patch_size"]
        self.p, self.grid = p, grid
        self.stats = (m["input_mean"], m["input_std"])
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Linear(p * p, d)  # == Conv2d(1, d, p, stride p) on non-overlapping patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.encoder = Encoder(d, m["encoder_depth"], m["encoder_heads"], m["mlp_ratio"], m["layer_norm_eps"])
        self.predictor = Predictor(m, grid, hyps)
        self.head = Head(d, m["head_hidden_dim"], m["head_bottleneck_dim"], m["n_classes"])
        self.register_buffer("pos", sincos_2d(d, *grid)[None])

    def tokens(self, x):
        b, f, t = x.shape
        p = self.p
        x = (x - self.stats[0]) / self.stats[1]
        x = x.reshape(b, f // p, p, t // p, p).permute(0, 1, 3, 2, 4).reshape(b, (f // p) * (t // p), p * p)
        return self.patch_embed.proj(x) + self.pos[:, 1:]


class Teacher(nn.Module):
    def __init__(self, m):
        super().__init__()
        d = m["encoder_dim"]
        self.encoder = Encoder(d, m["encoder_depth"], m["encoder_heads"], m["mlp_ratio"], m["layer_norm_eps"])
        self.head = Head(d, m["head_hidden_dim"], m["head_bottleneck_dim"], m["n_classes"])


def burn_name(module, name):
    """Name and layout of a PyTorch parameter in the Rust export."""
    owner = module.get_submodule(name.rsplit(".", 1)[0]) if "." in name else module
    leaf = name.rsplit(".", 1)[-1]
    if isinstance(owner, nn.LayerNorm):
        return name[: -len(leaf)] + {"weight": "gamma", "bias": "beta"}[leaf], False
    if isinstance(owner, nn.Linear) and leaf == "weight":
        return name, True
    return name, False


def load(module, prefix, tensors):
    with torch.no_grad():
        for name, p in module.named_parameters():
            key, transpose = burn_name(module, name)
            t = tensors[f"{prefix}.{key}"]
            p.copy_(t.t() if transpose else t.reshape(p.shape))


def max_diff(module, prefix, tensors):
    worst = (0.0, "")
    for name, p in module.named_parameters():
        key, transpose = burn_name(module, name)
        t = tensors[f"{prefix}.{key}"]
        d = (p.detach() - (t.t() if transpose else t.reshape(p.shape))).abs().max().item()
        worst = max(worst, (d, name))
    return worst


def annealed(start, end, t, total):
    return end if total == 0 or t >= total else end - (end - start) * (1 - t / total)


def lr_at(tc, peak, t):
    if t < tc["warmup_steps"]:
        return peak * (t + 1) / tc["warmup_steps"]
    if t >= tc["total_steps"]:
        return 0.0
    prog = (t - tc["warmup_steps"]) / max(tc["total_steps"] - tc["warmup_steps"], 1)
    return peak * 0.5 * (1 + math.cos(math.pi * prog))


def ema_decay(start, end, t, total):
    if t == 0:
        return None
    d = start if start == end else annealed(start, end, t, total)
    return d if d < 1 else None


class Run:
    def __init__(self, cfg):
        self.m, self.tc = cfg["model"], cfg["train"]
        self.mcl = cfg.get("mcl", {"heads": 0})
        p = self.m["patch_size"]
        self.grid = (self.m["n_mels"] // p, self.m["n_frames"] // p)
        self.student = Student(self.m, self.grid, self.mcl["heads"])
        self.teacher = Teacher(self.m).requires_grad_(False)
        self.centre = torch.zeros(self.m["n_classes"])
        tc = self.tc
        self.peak = tc["base_lr"] * tc["batch_size"] / tc["base_batch_size"]
        self.opt = torch.optim.AdamW(
            self.student.parameters(), lr=0.0, betas=(tc["beta1"], tc["beta2"]), eps=tc["adam_eps"],
            weight_decay=tc["weight_decay"],
        )
        self.step = 0

    def update(self, x, order, nv):
        s, te, tc, t = self.student, self.teacher, self.tc, self.step
        tok = s.tokens(x)
        d = tok.shape[-1]
        visible = torch.gather(tok, 1, order[:, :nv, None].expand(-1, -1, d))
        masked = torch.gather(tok, 1, order[:, nv:, None].expand(-1, -1, d))
        cls = s.cls_token.expand(x.shape[0], -1, -1)
        z_v = s.encoder(torch.cat([cls, visible], 1))
        pred = s.predictor(z_v, order, nv)
        with torch.no_grad():
            target = te.encoder(torch.cat([cls, masked], 1))[:, 1:]
            t_logits = te.head(target)
            temp = annealed(tc["teacher_temp_start"], tc["teacher_temp_end"], t, tc["teacher_temp_warmup_steps"])
            p_t = F.softmax((t_logits - self.centre) / temp, dim=-1)
        # Per-hypothesis latent loss [B, Nm, H]; MATPAC++'s annealed winner-takes-all
        # (as the reference's forward_loss_pred); the best hypothesis feeds the head.
        per_hyp = 2 - 2 * (F.normalize(pred, dim=-1, eps=1e-12) * F.normalize(target, dim=-1, eps=1e-12)[:, :, None]).sum(-1)
        if per_hyp.shape[2] == 1:
            lp = per_hyp[:, :, 0].mean()
        else:
            mcl = self.mcl
            tau = mcl["temperature_start"] * mcl["decay_rate"] ** t
            if tau > mcl["temperature_end"]:
                q = torch.softmax(-per_hyp / tau, dim=2).detach()
                lp = (q * per_hyp).sum(-1).mean()
            else:
                lp = per_hyp.min(dim=-1)[0].mean()
        best = per_hyp.argmin(dim=-1)
        chosen = torch.gather(pred, 2, best[:, :, None, None].expand(-1, -1, 1, pred.shape[-1]))[:, :, 0]
        lc = -(p_t * F.log_softmax(s.head(chosen) / tc["student_temp"], dim=-1)).sum(-1).mean()
        lam = tc["lambda"]
        loss = lp if lam == 0 else (1 - lam) * lp + lam * lc
        with torch.no_grad():
            batch_mean = (p_t if tc["centre_mode"] == "probabilities" else t_logits).reshape(-1, p_t.shape[-1]).mean(0)
            self.centre = self.centre * tc["centre_momentum"] + batch_mean * (1 - tc["centre_momentum"])
            for (tm, sm, start, end) in [
                (te.head, s.head, tc["head_ema_decay_start"], tc["head_ema_decay_end"]),
                (te.encoder, s.encoder, tc["ema_decay_start"], tc["ema_decay_end"]),
            ]:
                dec = ema_decay(start, end, t, tc["total_steps"])
                if dec is not None:
                    for pt, ps in zip(tm.parameters(), sm.parameters()):
                        pt.mul_(dec).add_(ps.detach(), alpha=1 - dec)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(s.parameters(), tc["clip_grad_norm"]).item()
        lr = lr_at(tc, self.peak, t)
        for g in self.opt.param_groups:
            g["lr"] = lr
        self.opt.step()
        self.step += 1
        return dict(loss=loss.item(), loss_pred=lp.item(), loss_cls=lc.item(), grad_norm=gn, lr=lr, teacher_temp=temp)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--timed", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rust = json.load(open(f"{a.dir}/rust.json"))
    cfg = tomllib.loads(rust["config"])
    run = Run(cfg)
    w0 = load_file(f"{a.dir}/weights0.safetensors")
    load(run.student, "student", w0)
    load(run.teacher, "teacher", w0)
    run.centre = w0["centre"].clone()
    batches = load_file(f"{a.dir}/batches.safetensors")
    nv = rust["n_visible"]
    ok = True
    print("update  term        rust          torch         |diff|")
    for i, rs in enumerate(rust["steps"]):
        ts = run.update(batches[f"x{i}"], batches[f"order{i}"].long(), nv)
        for key in ["loss", "loss_pred", "loss_cls", "grad_norm", "lr", "teacher_temp"]:
            diff = abs(ts[key] - rs[key])
            tol = LOSS_TOL if key.startswith("loss") else 1e-3 * max(1.0, abs(rs[key]))
            flag = "" if diff <= tol else "  <-- exceeds tolerance"
            ok &= diff <= tol
            print(f"{i:6d}  {key:11s} {rs[key]:13.8f} {ts[key]:13.8f} {diff:10.2e}{flag}")
    w3 = load_file(f"{a.dir}/weights3.safetensors")
    ds = max_diff(run.student, "student", w3)
    dt = max_diff(run.teacher, "teacher", w3)
    dc = (run.centre - w3["centre"]).abs().max().item()
    print(f"after 3 updates: max |Δ| student {ds[0]:.2e} ({ds[1]}), teacher {dt[0]:.2e} ({dt[1]}), centre {dc:.2e}")
    ok &= ds[0] < 1e-4 and dt[0] < 1e-4 and dc < 1e-5

    # Throughput: same configuration and batch, random inputs and masks.
    b, f, t = batches["x0"].shape
    l = batches["order0"].shape[1]
    gen = torch.Generator().manual_seed(0)
    x = -10 + torch.randn(b, f, t, generator=gen)
    run.update(x, torch.argsort(torch.rand(b, l, generator=gen), 1), nv)  # warm-up
    start = time.perf_counter()
    for _ in range(a.timed):
        run.update(x, torch.argsort(torch.rand(b, l, generator=gen), 1), nv)
    secs = time.perf_counter() - start
    torch_sps = a.timed * b / secs
    print(f"PyTorch {torch.__version__}: {torch_sps:.2f} samples/s ({a.timed} updates of batch {b}, {a.threads} threads)")
    print(f"Rust (Burn flex): {rust['samples_per_s']:.2f} samples/s ({rust['timed_steps']} updates)")
    print(f"Rust/PyTorch samples-per-second ratio: {rust['samples_per_s'] / torch_sps:.3f}")
    print("PARITY OK" if ok else "PARITY FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
