#!/usr/bin/env python3
"""PyTorch reference of the model a STAR genome stands for, for speed checks.

Input: the JSON that `star-pipeline genome cost (GENOME | --preset NAME)
--depth N --width W --context L --vocab V --json` prints (genome text, run
dimensions, parameter count, FLOPs). The model follows docs/architecture.md
weight for weight (featurizer sharing and feature reuse included), so its
parameter count must equal the JSON's `params`; the script asserts that.

It then trains the model with AdamW (lr 8e-4, betas 0.9/0.95, weight decay
0.1 on matrices, gradient clip 1.0, linear warmup then cosine) on random byte
tokens or on windows of a text file, and prints one JSON line per run with
tokens/s, step time and MFU = model FLOP/s (the JSON's training FLOPs) over
--peak-tflops.

Implementation choices of this reference (the Go trainer's are in
model/*.go): attention uses torch's fused scaled_dot_product_attention when
present (--attention sdpa), else the written-out softmax (math); the SSD
segment sums use a lower-triangular matmul as the doc says, in float32; the
GConv-2 long conv uses an FFT (--long-conv fft) or the causal Toeplitz
matmul (toeplitz); MoE runs every expert densely, as the Go model does.

Examples:
  star-pipeline genome cost --preset transformer++ --depth 24 --width 768 \\
      --context 2048 --json > tpp.json
  python3 bench/gpu/reference.py --cost transformer++=tpp.json --batch 8 \\
      --steps 10 --precision bf16
  python3 bench/gpu/reference.py --cost tpp.json --check-only   # params only
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \\
      python3 bench/gpu/reference.py --cost tpp.json --device cpu --threads 2 \\
      --compile none --long-conv toeplitz      # CPU, OpenBLAS (star-pipeline bench trainer --compare-torch)
"""

import argparse
import contextlib
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# Constants of the contract (model/model.go).
NORM_EPS = 1e-6
INIT_STD = 0.02
MOE_AUX = 0.01
LAMBDA_INIT = 0.5
ROTARY_THETA = 10000.0
FILTER_DECAY_MIN, FILTER_DECAY_MAX = 0.5, 8.0

# ---------------------------------------------------------------- genome ---

ATTN, REC, CONV, MEMLESS, MIXTURE = "attention", "recurrence", "convolution", "memoryless", "mixture"


def _base_classes():
    c = {}
    for cid, name, r, conv in ((1, "SA-1", 1, False), (2, "SA-2", 1, True), (3, "SA-3", 4, False), (4, "SA-4", 2, False)):
        c[cid] = dict(id=cid, name=name, family=ATTN, kv_repeat=r, qkv_conv=conv,
                      features={"C": "attn-q", "B": "attn-k/%d" % r})
    for cid, name, n in ((5, "Rec-1", 16), (6, "Rec-2", 2)):
        sig = "rec/%d" % n
        c[cid] = dict(id=cid, name=name, family=REC, state=n, features={"B": sig, "C": sig})
    for cid, name, long in ((7, "GConv-1", False), (8, "GConv-2", True)):
        c[cid] = dict(id=cid, name=name, family=CONV, long_conv=long, features={"B": "conv", "C": "conv"})
    c[9] = dict(id=9, name="GMemless", family=MEMLESS, features={})
    for base in range(1, 9):
        b = c[base]
        d = dict(b)
        d.update(id=base + 9, name=b["name"] + "-Diff", diff=base,
                 features={k: "diff/" + v for k, v in b["features"].items()})
        c[base + 9] = d
    c[18] = dict(id=18, name="MoE", family=MIXTURE, features={})
    return c


CLASSES = _base_classes()


def parse_genome(text):
    """Genome text: 5-digit blocks, or 5 dot-separated integers, joined by '-'."""
    slots = []
    for block in text.strip().split("-"):
        block = block.strip()
        genes = [int(p) for p in block.split(".")] if "." in block else [int(ch) for ch in block]
        if len(genes) != 5:
            raise ValueError("genome block %r: want 5 genes" % block)
        if genes[0] not in CLASSES:
            raise ValueError("genome block %r: unknown class %d" % (block, genes[0]))
        slots.append(genes)
    return slots


def _resolve_level(g, group, strategy, max_strategy, key):
    """Who each slot shares with at one sharing level (genome.resolveLevel)."""
    n = len(g)
    src, strat = list(range(n)), [1] * n
    first = {}
    for i, s in enumerate(g):
        first.setdefault(group(s), i)
    owner, size, parts = {}, {}, [None] * n
    for i, s in enumerate(g):
        gid = group(s)
        st = max(1, min(strategy(g[first[gid]]), max_strategy))
        if st == 1:
            continue
        k = key(s, st)
        if not k:
            continue
        p = (gid, k)
        if p in owner:
            src[i] = owner[p]
        else:
            owner[p] = i
        size[p] = size.get(p, 0) + 1
        parts[i] = p
        strat[i] = st
    for i in range(n):
        if strat[i] != 1 and size[parts[i]] < 2:
            src[i], strat[i] = i, 1
    return src, strat


def _share_key(s, st):
    f = CLASSES[s[0]]["features"]
    b, c = f.get("B", ""), f.get("C", "")
    if st == 2:
        return b
    if st == 3:
        return c
    if st == 4:
        return b + "|" + c if b and c else ""
    return ""


def wiring(g):
    """Per slot: (feat_owner, b_source, c_source), as genome.Genome.Wiring."""
    fo, _ = _resolve_level(g, lambda s: s[1], lambda s: s[2], 2, lambda s, st: str(s[0]))
    ss, sst = _resolve_level(g, lambda s: s[3], lambda s: s[4], 4, _share_key)
    out = []
    for i in range(len(g)):
        b = c = i
        if sst[i] == 2:
            b = ss[i]
        elif sst[i] == 3:
            c = ss[i]
        elif sst[i] == 4:
            b = c = ss[i]
        out.append((fo[i], b, c))
    return out

# ----------------------------------------------------------------- model ---


class ParamStore:
    """Get-or-create store of parameters by contract name (slot_<i>/<w>)."""

    def __init__(self, device):
        self.params = {}
        self.order = []
        self.device = device

    def get(self, name, shape, init):
        p = self.params.get(name)
        if p is None:
            t = torch.empty(*shape, device=self.device, dtype=torch.float32)
            with torch.no_grad():
                init(t)
            p = nn.Parameter(t)
            self.params[name] = p
            self.order.append(name)
        elif tuple(p.shape) != tuple(shape):
            raise ValueError("parameter %s exists with shape %s, want %s" % (name, tuple(p.shape), tuple(shape)))
        return p


def normal(std):
    return lambda t: t.normal_(0.0, std)


def uniform(lo, hi):
    return lambda t: t.uniform_(lo, hi)


def const(v):
    return lambda t: t.fill_(v)


def init_a_log(t):
    t.uniform_(1.0, 16.0).log_()


def init_dt_bias(t):
    dt = torch.empty_like(t).uniform_(math.log(1e-3), math.log(1e-1)).exp_()
    t.copy_(dt + torch.log(-torch.expm1(-dt)))


def rms_norm(x, scale):
    xf = x.float()
    y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + NORM_EPS)
    return (y * scale.float()).to(x.dtype)


def causal_conv(z, kernel):
    """y_t = sum_j kernel[j] * z_{t-j} along axis 1 of z [B, L, C]."""
    k, length = kernel.shape[0], z.shape[1]
    y = z * kernel[0]
    for j in range(1, min(k, length)):
        y = y + F.pad(z, (0, 0, j, 0))[:, :length] * kernel[j]
    return y


class Unit(nn.Module):
    """One non-differential LIV. Featurizer weights come from the owner's
    scope (tied), operator weights from the slot's own scope."""

    def __init__(self, store, cls, cfg, depth, op_scope, feat_scope, reuse_b, reuse_c, attention, long_conv):
        super().__init__()
        self.family = cls["family"]
        self.reuse_b, self.reuse_c = reuse_b, reuse_c
        self.attention_impl, self.long_conv_impl = attention, long_conv
        d = cfg["width"]
        hd = cfg["head_dim"]
        self.d, self.hd, self.h = d, hd, d // hd
        out_std = INIT_STD / math.sqrt(2 * depth)
        op = lambda n, shape, init: store.get(op_scope + n, shape, init)  # noqa: E731
        ft = lambda n, shape, init: store.get(feat_scope + n, shape, init)  # noqa: E731
        w = {}
        if self.family == ATTN:
            r = cls["kv_repeat"]
            dkv = d // r
            self.r, self.hkv = r, self.h // r
            if not reuse_c:
                w["q"] = ft("q", (d, d), normal(INIT_STD))
            if not reuse_b:
                w["k"] = ft("k", (d, dkv), normal(INIT_STD))
            w["v"] = ft("v", (d, dkv), normal(INIT_STD))
            w["o"] = op("o", (d, d), normal(out_std))
            self.qkv_conv = cls["qkv_conv"]
            if self.qkv_conv:
                kk = cfg["short_kernel"]
                for n in ("q", "k", "v"):
                    if n in w:
                        w[n + "_conv"] = ft(n + "_conv", (kk, w[n].shape[1]), uniform(-1 / math.sqrt(kk), 1 / math.sqrt(kk)))
        elif self.family == REC:
            n = cls["state"]
            w["x"] = op("x", (d, d), normal(INIT_STD))
            w["z"] = op("z", (d, d), normal(INIT_STD))
            if not reuse_b:
                w["b"] = ft("b", (d, n), normal(INIT_STD))
            if not reuse_c:
                w["c"] = ft("c", (d, n), normal(INIT_STD))
            w["dt"] = ft("dt", (d, self.h), normal(INIT_STD))
            w["dt_bias"] = ft("dt_bias", (self.h,), init_dt_bias)
            w["a_log"] = ft("a_log", (self.h,), init_a_log)
            w["o"] = op("o", (d, d), normal(out_std))
        elif self.family == CONV:
            self.long = cls["long_conv"]
            w["v"] = op("v", (d, d), normal(INIT_STD))
            if not reuse_b:
                w["b"] = ft("b", (d, d), normal(INIT_STD))
            if not reuse_c:
                w["c"] = ft("c", (d, d), normal(INIT_STD))
            if self.long:
                p, fh = cfg["filter_features"], cfg["filter_hidden"]
                bound = 1 / math.sqrt(p)
                w["filter_w1"] = ft("filter_w1", (p, fh), uniform(-bound, bound))
                w["filter_b1"] = ft("filter_b1", (fh,), uniform(-bound, bound))
                w["filter_w2"] = ft("filter_w2", (fh, d), normal(out_std))
                self.context = cfg["context"]
            else:
                kk = cfg["short_kernel"]
                w["kernel"] = ft("kernel", (kk, d), uniform(-1 / math.sqrt(kk), 1 / math.sqrt(kk)))
            w["o"] = op("o", (d, d), normal(out_std))
        elif self.family == MEMLESS:
            hid = cfg["ffn_expansion"] * d
            w["gate"] = ft("gate", (d, hid), normal(INIT_STD))
            w["up"] = ft("up", (d, hid), normal(INIT_STD))
            w["down"] = op("down", (hid, d), normal(out_std))
        elif self.family == MIXTURE:
            e, hid = cfg["experts"], cfg["moe_expansion"] * d
            self.e, self.topk = e, cfg["top_k"]
            w["router"] = ft("router", (d, e), normal(INIT_STD))
            w["gate"] = ft("gate", (e, d, hid), normal(INIT_STD))
            w["up"] = ft("up", (e, d, hid), normal(INIT_STD))
            w["down"] = op("down", (e, hid, d), normal(out_std))
        else:
            raise ValueError("unsupported family %s" % self.family)
        # Shared parameters are registered in several units; nn.Module
        # deduplicates them in parameters().
        self.w = nn.ParameterDict(w)

    # Each returns (y, b_out, c_out, aux).
    def forward(self, x, b_in, c_in):
        if self.family == ATTN:
            return self._attention(x, b_in, c_in) + (None,)
        if self.family == REC:
            return self._recurrence(x, b_in, c_in) + (None,)
        if self.family == CONV:
            return self._conv(x, b_in, c_in) + (None,)
        if self.family == MEMLESS:
            w = self.w
            return (F.silu(x @ w["gate"]) * (x @ w["up"])) @ w["down"], None, None, None
        return self._moe(x)

    def _rotary(self, x):
        length, hd = x.shape[1], x.shape[3]
        half = hd // 2
        inv = ROTARY_THETA ** (-2.0 * torch.arange(half, device=x.device, dtype=torch.float32) / hd)
        ang = torch.arange(length, device=x.device, dtype=torch.float32)[:, None] * inv[None, :]
        cos = ang.cos().to(x.dtype)[None, :, None, :]
        sin = ang.sin().to(x.dtype)[None, :, None, :]
        x1, x2 = x[..., :half], x[..., half:]
        return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)

    def _attention(self, x, b_in, c_in):
        w = self.w
        b, length, _ = x.shape

        def proj(n):
            y = x @ w[n]
            if self.qkv_conv:
                y = causal_conv(y, w[n + "_conv"])
            return y

        q = c_in if self.reuse_c else self._rotary(proj("q").view(b, length, self.h, self.hd))
        k = b_in if self.reuse_b else self._rotary(proj("k").view(b, length, self.hkv, self.hd))
        v = proj("v").view(b, length, self.hkv, self.hd)
        qt, kt, vt = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        if self.r > 1:  # K/V head g serves query heads g*r .. g*r+r-1
            kt = kt.repeat_interleave(self.r, dim=1)
            vt = vt.repeat_interleave(self.r, dim=1)
        if self.attention_impl == "sdpa":
            o = F.scaled_dot_product_attention(qt, kt.to(qt.dtype), vt.to(qt.dtype), is_causal=True)
        else:
            s = (qt @ kt.transpose(-1, -2).to(qt.dtype)) * (1.0 / math.sqrt(self.hd))
            mask = torch.ones(length, length, dtype=torch.bool, device=x.device).triu(1)
            s = s.masked_fill(mask, float("-inf"))
            o = torch.softmax(s.float(), dim=-1).to(vt.dtype) @ vt
        o = o.transpose(1, 2).reshape(b, length, self.d)
        return o @ w["o"], k, q

    def _recurrence(self, x, b_in, c_in):
        w = self.w
        b, length, _ = x.shape
        h, hd = self.h, self.hd
        xu = (x @ w["x"]).view(b, length, h, hd)
        z = x @ w["z"]
        bm = b_in if self.reuse_b else x @ w["b"]
        cm = c_in if self.reuse_c else x @ w["c"]
        dt = F.softplus((x @ w["dt"]).float() + w["dt_bias"].float())  # [b, l, h]
        a = dt * -torch.exp(w["a_log"].float())  # log decay per step
        # Running sum of a as a lower-triangular matmul (no cumsum op), in
        # float32 whatever the autocast dtype.
        tri = torch.ones(length, length, device=x.device, dtype=torch.float32).tril()
        with torch.autocast(device_type=x.device.type, enabled=False):
            cum = torch.einsum("ij,bjh->bhi", tri, a)
        seg = cum[:, :, :, None] - cum[:, :, None, :]
        mask = torch.ones(length, length, dtype=torch.bool, device=x.device).triu(1)
        decay = torch.exp(seg.masked_fill(mask, float("-inf"))).to(bm.dtype)  # [b, h, l, l]
        cb = torch.einsum("bin,bjn->bij", cm, bm)
        mix = decay * cb[:, None].to(decay.dtype)
        xdt = xu * dt[..., None].to(xu.dtype)
        y = torch.einsum("bhij,bjhp->bihp", mix, xdt.to(mix.dtype)).reshape(b, length, self.d)
        return (y.to(z.dtype) * F.silu(z)) @ w["o"], bm, cm

    def _filter(self, length, device):
        w = self.w
        p, d = w["filter_w1"].shape[0], self.d
        t = torch.arange(length, device=device, dtype=torch.float32)
        pos = t / self.context
        cols = [pos]
        for k in range(1, (p - 1) // 2 + 1):
            ang = 2 * math.pi * k * pos
            cols += [torch.sin(ang), torch.cos(ang)]
        phi = torch.stack(cols, dim=1)  # [l, p]
        hidden = torch.sin(phi @ w["filter_w1"] + w["filter_b1"])
        alpha = FILTER_DECAY_MIN + (FILTER_DECAY_MAX - FILTER_DECAY_MIN) * (
            torch.arange(d, device=device, dtype=torch.float32) / max(d - 1, 1))
        decay = torch.exp(-alpha[None, :] * t[:, None] / self.context)
        return (hidden @ w["filter_w2"]).float() * decay  # [l, d]

    def _conv(self, x, b_in, c_in):
        w = self.w
        length = x.shape[1]
        v = x @ w["v"]
        bm = b_in if self.reuse_b else x @ w["b"]
        cm = c_in if self.reuse_c else x @ w["c"]
        z = bm * v
        if not self.long:
            s = causal_conv(z, w["kernel"])
        else:
            h = self._filter(length, x.device)
            if self.long_conv_impl == "fft":
                with torch.autocast(device_type=x.device.type, enabled=False):
                    n = 2 * length
                    zf = torch.fft.rfft(z.float(), n=n, dim=1)
                    hf = torch.fft.rfft(h, n=n, dim=0)
                    s = torch.fft.irfft(zf * hf[None], n=n, dim=1)[:, :length].to(z.dtype)
            else:
                idx = torch.arange(length, device=x.device)
                lag = idx[:, None] - idx[None, :]  # t - s
                toe = h[lag.clamp(min=0)] * (lag >= 0)[..., None]  # [t, s, c]
                s = torch.einsum("tsc,bsc->btc", toe.to(z.dtype), z)
        return (cm * s) @ w["o"], bm, cm

    def _moe(self, x):
        w = self.w
        b, length, d = x.shape
        xs = x.reshape(b * length, d)
        probs = torch.softmax((xs @ w["router"]).float(), dim=-1)  # [n, e]
        _, top = probs.detach().topk(self.topk, dim=-1)
        mask = torch.zeros_like(probs).scatter_(1, top, 1.0)
        chosen = probs * mask
        weights = chosen / chosen.sum(-1, keepdim=True)
        hg = torch.einsum("nd,edh->neh", xs, w["gate"])
        hu = torch.einsum("nd,edh->neh", xs, w["up"])
        hw = F.silu(hg) * hu * weights[..., None].to(hg.dtype)
        y = torch.einsum("neh,ehd->nd", hw, w["down"]).reshape(b, length, d)
        frac = mask.sum(0) / (b * length * self.topk)
        aux = (frac * probs.mean(0)).sum() * (MOE_AUX * self.e)
        return y, None, None, aux


class Block(nn.Module):
    """Pre-norm residual block x + LIV(norm(x)); a differential class holds
    two units and lambda: LIV_a - lambda * LIV_b."""

    def __init__(self, store, i, slot, wire, cfg, depth, attention, long_conv):
        super().__init__()
        cls = CLASSES[slot[0]]
        owner, bsrc, csrc = wire
        self.norm = store.get("slot_%d/norm" % i, (cfg["width"],), const(1.0))
        self.diff = "diff" in cls
        base = CLASSES[cls["diff"]] if self.diff else cls
        halves = ("a/", "b/") if self.diff else ("",)
        self.units = nn.ModuleList(
            Unit(store, base, cfg, depth, "slot_%d/%s" % (i, sub), "slot_%d/%s" % (owner, sub),
                 bsrc != i, csrc != i, attention, long_conv) for sub in halves)
        if self.diff:
            self.lam = store.get("slot_%d/lambda" % i, (1,), const(LAMBDA_INIT))

    def forward(self, x, b_in, c_in):
        xn = rms_norm(x, self.norm)
        if not self.diff:
            y, b, c, aux = self.units[0](xn, b_in[0], c_in[0])
            return x + y, (b, None), (c, None), aux
        ya, ba, ca, _ = self.units[0](xn, b_in[0], c_in[0])
        yb, bb, cb, _ = self.units[1](xn, b_in[1], c_in[1])
        return x + (ya - self.lam.to(yb.dtype) * yb), (ba, bb), (ca, cb), None


class LM(nn.Module):
    def __init__(self, genome_text, cfg, device, attention="auto", long_conv="fft", seed=1):
        super().__init__()
        if attention == "auto":
            attention = "sdpa" if hasattr(F, "scaled_dot_product_attention") else "math"
        self.attention = attention
        torch.manual_seed(seed)
        g = parse_genome(genome_text)
        wire = wiring(g)
        store = ParamStore(device)
        d, v = cfg["width"], cfg["vocab"]
        if d % cfg["head_dim"]:
            raise ValueError("head_dim %d does not divide width %d" % (cfg["head_dim"], d))
        self.embed = store.get("embed", (v, d), normal(INIT_STD))
        self.blocks = nn.ModuleList(Block(store, i, s, wire[i], cfg, len(g), attention, long_conv)
                                    for i, s in enumerate(g))
        self.final_norm = store.get("final_norm", (d,), const(1.0))
        self.head = store.get("head", (d, v), normal(INIT_STD)) if cfg.get("untie_embedding") else None
        self.wire = wire
        self.store = store
        self.run_blocks = list(self.blocks)  # what forward calls (compiled or not)

    def forward(self, tokens):
        x = F.embedding(tokens, self.embed)
        feats = []
        aux_total = None
        for i, blk in enumerate(self.run_blocks):
            _, bsrc, csrc = self.wire[i]
            b_in = feats[bsrc][0] if bsrc != i else (None, None)
            c_in = feats[csrc][1] if csrc != i else (None, None)
            x, b, c, aux = blk(x, b_in, c_in)
            feats.append((b, c))
            if aux is not None:
                aux_total = aux if aux_total is None else aux_total + aux
        x = rms_norm(x, self.final_norm)
        logits = x @ (self.head if self.head is not None else self.embed.t())
        return logits, aux_total


def count_params(model):
    return sum(p.numel() for p in model.parameters())

# -------------------------------------------------------------- training ---


def load_cost(spec):
    name, path = spec.split("=", 1) if "=" in spec else (None, spec)
    text = sys.stdin.read() if path == "-" else open(path).read()
    cost = json.loads(text)
    if name is None:
        name = os.path.splitext(os.path.basename(path))[0] if path != "-" else cost["genome"]
    return name, cost


def make_batches(args, vocab, length, device):
    if args.text:
        with open(args.text, "rb") as f:
            data = f.read()
        if vocab < 256:
            raise SystemExit("a text file needs vocab 256 (bytes), the cost JSON has %d" % vocab)
        if len(data) < length + 2:
            raise SystemExit("text file %s has %d bytes, need more than context+1" % (args.text, len(data)))
        buf = torch.frombuffer(bytearray(data), dtype=torch.uint8).to(device).long()
        offs = torch.arange(length + 1, device=device)
        gen = torch.Generator(device=device)
        gen.manual_seed(args.seed)

        def batch():
            start = torch.randint(0, len(data) - length - 1, (args.batch, 1), device=device, generator=gen)
            w = buf[start + offs]
            return w[:, :-1], w[:, 1:]
        return batch

    gen = torch.Generator(device=device)
    gen.manual_seed(args.seed)

    def batch():
        w = torch.randint(0, vocab, (args.batch, length + 1), device=device, generator=gen)
        return w[:, :-1], w[:, 1:]
    return batch


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def set_precision(precision, device):
    """Returns the autocast dtype (None for float32)."""
    # float32 matmuls: TF32 for "tf32", full float32 otherwise.
    torch.set_float32_matmul_precision("high" if precision == "tf32" else "highest")
    if precision == "bf16":
        return torch.bfloat16
    return None


def compile_blocks(model, mode):
    """Regional compilation: each block on its own (identical blocks share
    the compiled code), or the whole forward. Returns a description."""
    if mode == "none":
        return "eager (--compile none)"
    if not hasattr(torch, "compile"):
        return "eager (torch.compile unavailable in torch %s)" % torch.__version__
    try:  # every block may need its own entry: raise the recompile limits
        import torch._dynamo as dynamo
        for key, floor in (("cache_size_limit", 64), ("recompile_limit", 64),
                           ("accumulated_cache_size_limit", 1024), ("accumulated_recompile_limit", 1024)):
            if hasattr(dynamo.config, key):
                setattr(dynamo.config, key, max(getattr(dynamo.config, key), floor))
    except Exception:  # noqa: BLE001
        pass
    if mode == "full":
        model.forward_eager = model.forward
        model.compiled_forward = torch.compile(model.forward)
        return "torch.compile (whole model)"
    model.run_blocks = [torch.compile(b) for b in model.blocks]
    return "torch.compile (per block)"


def run_one(name, cost, precision, args, device):
    cfg = cost["config"]
    length = cfg["context"]
    if cost["flops"].get("context", length) != length:
        raise SystemExit("cost JSON: flops context %s != config context %d" % (cost["flops"].get("context"), length))
    model = LM(cost["genome"], cfg, device, attention=args.attention, long_conv=args.long_conv, seed=args.seed)
    attention = model.attention
    n = count_params(model)
    print("%s: params %d (reference) vs %d (genome cost JSON)" % (name, n, cost["params"]), file=sys.stderr)
    assert n == cost["params"], "parameter count %d != genome cost %d for %s" % (n, cost["params"], cost["genome"])
    out = dict(name=name, genome=cost["genome"], params=n, params_expected=cost["params"])
    if args.check_only:
        return out

    autocast_dtype = set_precision(precision, device)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    groups = [dict(params=decay, weight_decay=args.weight_decay), dict(params=other, weight_decay=0.0)]
    opt_kw = dict(lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    optimizer, opt_kind = None, "AdamW"
    if device.type == "cuda":
        try:
            optimizer, opt_kind = torch.optim.AdamW(groups, fused=True, **opt_kw), "AdamW fused"
        except (TypeError, RuntimeError):
            optimizer = None
    if optimizer is None:
        optimizer = torch.optim.AdamW(groups, **opt_kw)
    total = args.warmup + args.steps
    warm = max(1, int(0.1 * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warm if s < warm else
        0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, total - warm))))
    next_batch = make_batches(args, cfg["vocab"], length, device)
    vocab = cfg["vocab"]

    def step():
        inp, tgt = next_batch()
        ctx = (torch.autocast(device_type=device.type, dtype=autocast_dtype) if autocast_dtype is not None
               else contextlib.nullcontext())
        with ctx:
            logits, aux = model(inp)
            loss = F.cross_entropy(logits.float().reshape(-1, vocab), tgt.reshape(-1))
            if aux is not None:
                loss = loss + aux
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        sched.step()
        return loss

    compile_desc = compile_blocks(model, args.compile)
    if args.compile == "full" and hasattr(model, "compiled_forward"):
        model.forward = model.compiled_forward
    compiled = compile_desc.startswith("torch.compile")
    fallbacks = []
    losses = []
    t0 = time.perf_counter()
    while True:  # the first step compiles; on failure fall back to eager, then to math attention
        try:
            losses.append(step().item())
            break
        except Exception as e:  # noqa: BLE001  (no C compiler for inductor, unsupported op...)
            msg = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
            if compiled:
                fallbacks.append("torch.compile failed: %s: %s" % (type(e).__name__, msg))
                model.run_blocks = list(model.blocks)
                if hasattr(model, "forward_eager"):
                    model.forward = model.forward_eager
                compiled, compile_desc = False, "eager (torch.compile failed)"
            elif attention == "sdpa":
                fallbacks.append("sdpa failed: %s: %s" % (type(e).__name__, msg))
                attention = "math"
                for m in model.modules():
                    if isinstance(m, Unit):
                        m.attention_impl = "math"
            else:
                raise
            print("%s: %s; retrying" % (name, fallbacks[-1]), file=sys.stderr)
            if device.type == "cuda":
                torch.cuda.empty_cache()
    for _ in range(args.warmup - 1):
        losses.append(step().item())
    sync(device)
    warm_s = time.perf_counter() - t0
    timed = []
    t0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(args.steps):
        timed.append(step())
    sync(device)
    elapsed = time.perf_counter() - t0
    cpu_s = time.process_time() - cpu0  # all threads of the process
    losses += [x.item() for x in timed]
    step_s = elapsed / args.steps
    tokens_per_s = args.batch * length / step_s
    fl = cost["flops"]
    flops_per_step = fl["train"] * args.batch * length + 3 * fl.get("filter_forward", 0)
    tflops = flops_per_step / step_s / 1e12
    out.update(
        precision=precision, attention=attention, long_conv=args.long_conv, optimizer=opt_kind,
        compile=compile_desc, compiled=compiled, batch=args.batch, context=length, steps=args.steps,
        warmup_steps=args.warmup, warmup_s=round(warm_s, 3), step_ms=round(step_s * 1000, 3),
        tokens_per_s=round(tokens_per_s, 1), cpu_seconds=round(cpu_s, 3), flops_per_token=fl["train"], flops_per_step=flops_per_step,
        tflops=round(tflops, 3), peak_tflops=args.peak_tflops, mfu=round(tflops / args.peak_tflops, 5),
        first_loss=losses[0], final_loss=losses[-1],
        data=("text:" + args.text) if args.text else "random")
    if fallbacks:
        out["fallbacks"] = fallbacks
    if device.type == "cuda":
        out["max_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    del model, optimizer
    return out


def loaded_blas():
    """The BLAS shared libraries this process has mapped (on Linux): Debian's
    torch calls libblas.so.3, which is the slow reference BLAS unless an
    OpenBLAS directory comes first on LD_LIBRARY_PATH."""
    try:
        with open("/proc/self/maps") as f:
            libs = sorted({line.split()[-1] for line in f if "blas" in line.split()[-1].lower()})
    except OSError:
        return []
    return [os.path.realpath(p) for p in libs]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cost", action="append", required=True,
                    help="[NAME=]FILE: JSON of `star-pipeline genome cost ... --json` ('-' for stdin); repeatable")
    ap.add_argument("--precision", default=None,
                    help="comma-separated list of bf16 (autocast), tf32, fp32 (default: bf16 on cuda, fp32 on cpu)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--batch-for", action="append", default=[], metavar="NAME=B",
                    help="batch size of the --cost named NAME (default --batch); repeatable")
    ap.add_argument("--steps", type=int, default=10, help="timed steps")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first (the first compiles)")
    ap.add_argument("--lr", type=float, default=8e-4)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--text", help="train on random windows of this file's bytes (default: random bytes)")
    ap.add_argument("--device", default="auto", help="auto, cuda or cpu")
    ap.add_argument("--compile", choices=("block", "full", "none"), default="block",
                    help="torch.compile each block (default), the whole model, or nothing")
    ap.add_argument("--attention", choices=("auto", "sdpa", "math"), default="auto")
    ap.add_argument("--long-conv", choices=("fft", "toeplitz"), default="fft")
    ap.add_argument("--threads", type=int, default=0,
                    help="CPU threads of torch (torch.set_num_threads; default: torch's own choice)")
    ap.add_argument("--peak-tflops", type=float, default=989.0,
                    help="peak for MFU, TFLOP/s (default 989: H100/H200 SXM dense bf16)")
    ap.add_argument("--check-only", action="store_true", help="build the model and check its parameter count only")
    args = ap.parse_args()
    if args.batch < 1 or args.steps < 1 or args.warmup < 1:
        ap.error("--batch, --steps and --warmup must be >= 1")

    if args.threads < 0:
        ap.error("--threads must be >= 0")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    precisions = (args.precision or ("bf16" if device.type == "cuda" else "fp32")).split(",")
    for p in precisions:
        if p not in ("bf16", "tf32", "fp32"):
            ap.error("unknown precision %r" % p)
    dev_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print("reference.py: torch %s on %s (%s)" % (torch.__version__, device, dev_name), file=sys.stderr)
    failed = 0
    costs = [load_cost(spec) for spec in args.cost]
    batch_for = {}
    for spec in args.batch_for:
        k, _, v = spec.partition("=")
        batch_for[k] = int(v)
    default_batch = args.batch
    for p in ([None] if args.check_only else precisions):
        for name, cost in costs:
            args.batch = batch_for.get(name, default_batch)
            try:
                out = run_one(name, cost, p, args, device)
            except AssertionError:
                raise
            except Exception as e:  # noqa: BLE001  (OOM and the like: report, go on)
                failed += 1
                out = dict(name=name, genome=cost["genome"], precision=p, error="%s: %s" % (type(e).__name__, str(e)[:300]))
            out.update(device=dev_name, torch=torch.__version__)
            if device.type == "cpu":
                out.update(threads=torch.get_num_threads(), blas=loaded_blas())
            print(json.dumps(out), flush=True)
            if device.type == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            if hasattr(torch, "_dynamo"):
                torch._dynamo.reset()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
