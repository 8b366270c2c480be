# SPDX-License-Identifier: LGPL-2.1-or-later
"""A PyTorch mirror of timm's VisionTransformer (plain CLS-token ViT) and a safetensors
reader/writer, so heed's outputs can be checked and timed against PyTorch with nothing but
Debian's python3-torch. Module and parameter names match timm's, so state dicts line up."""

import json
import math
import struct
import time
from functools import partial

import torch
from torch import nn
from torch.nn import functional as F

# Timers read the host's clock; on CUDA the work is queued, so each reading first waits for the
# device to finish what was queued (timing_device ("cuda") turns that on).
_wait_for_device = None


def timing_device(kind):
    """Makes the op timers wait for `kind`'s queue ("cuda"), or for nothing ("cpu")."""
    global _wait_for_device
    _wait_for_device = torch.cuda.synchronize if kind == "cuda" else None


def timer_now():
    if _wait_for_device:
        _wait_for_device()
    return time.perf_counter()


def beit_position_index(window):
    """BEiT's lookup (timm's beit.py gen_relative_position_index): for each pair of the class
    token and a window x window grid, the row of the relative position bias table."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window),
                                        indexing="ij")).flatten(1)  # 2, N
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)  # N, N, 2
    rel[:, :, 0] += window - 1
    rel[:, :, 1] += window - 1
    rel[:, :, 0] *= 2 * window - 1
    rows = (2 * window - 1) ** 2 + 3
    index = torch.zeros(window * window + 1, window * window + 1, dtype=torch.long)
    index[1:, 1:] = rel.sum(-1)
    index[0, 0:] = rows - 3
    index[0:, 0] = rows - 2
    index[0, 0] = rows - 1
    return index


class RelativePositionBias(nn.Module):
    """BEiT's relative position bias: a learnt row per relative offset and head, looked up for
    every pair of tokens and added to the attention scores."""

    def __init__(self, window, num_heads):
        super().__init__()
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * window - 1) ** 2 + 3, num_heads))
        self.register_buffer("relative_position_index", beit_position_index(window),
                             persistent=False)

    def forward(self):
        n = self.relative_position_index.shape[0]
        table = self.relative_position_bias_table
        return table[self.relative_position_index.view(-1)].view(n, n, -1).permute(2, 0, 1)


def eva02_rope_angles(grid, head_dim, ref_grid=16, base=10000.0, columns_first=False,
                      offset=0.0):
    """EVA-02's rotary position embedding as angles [grid * grid, head_dim // 2]: pair j of a
    head's channels (2j, 2j + 1) turns by the patch's row for the first head_dim // 4 pairs and
    its column for the others (the other way round with columns_first, timm's grid_indexing
    "xy"), positions counted in units of ref_grid / grid (as they are with ref_grid 0), times
    the frequency base^(-(j mod head_dim // 4) / (head_dim // 4)) (EVA-02's paper and timm's
    eva.py: RotaryEmbeddingCat, in_pixels=False, ref_feat_shape; naver's RoPE-ViT axial one:
    base 100, "xy", no reference grid). offset is timm's grid_offset, added to the row and column
    before the reference grid's scaling (the Perception Encoder's 1)."""
    bands = head_dim // 4
    freq = base ** (-torch.arange(bands, dtype=torch.float64) / bands)
    pos = (torch.arange(grid, dtype=torch.float64) + offset) * (ref_grid / grid if ref_grid
                                                                 else 1.0)
    rows = pos[:, None].expand(grid, grid).reshape(-1, 1)
    cols = pos[None, :].expand(grid, grid).reshape(-1, 1)
    first, second = (cols, rows) if columns_first else (rows, cols)
    return torch.cat([first * freq, second * freq], dim=1).float()


def dinov3_rope_angles(grid, head_dim, base=100.0):
    """DINOv3's rotary position embedding as angles [grid * grid, head_dim // 2], in float32 as
    transformers' DINOv3ViTRopePositionEmbedding and timm's RotaryEmbeddingDinoV3 compute them:
    each patch's centre on [-1, 1] per axis (0.5-centred, over the grid's side), the row's for a
    head's first head_dim // 4 angles and the column's for the others, 2 pi times it over the
    period base^(k / (head_dim // 4)) of band k."""
    bands = head_dim // 4
    periods = base ** (2 * torch.arange(bands, dtype=torch.float32) / (head_dim // 2))
    centre = torch.arange(0.5, grid, dtype=torch.float32) / grid * 2.0 - 1.0
    rows = centre[:, None].expand(grid, grid).reshape(-1, 1)
    cols = centre[None, :].expand(grid, grid).reshape(-1, 1)
    return 2 * torch.pi * torch.cat([rows / periods, cols / periods], dim=1)


def rotate_halves(x, angles):
    """x [..., N, head_dim] turned as DINOv3 turns it (rotate_half): channel j with channel
    j + head_dim // 2, by angle j of its row of angles [N, head_dim // 2]."""
    cos, sin = angles.cos().tile(2), angles.sin().tile(2)
    first, second = x.chunk(2, dim=-1)
    return x * cos + torch.cat([-second, first], dim=-1) * sin


class MixedRope(nn.Module):
    """RoPE-Mixed (naver's RoPE-ViT, timm's RotaryEmbeddingMixed): learnt frequencies freqs
    [2, depth, heads, head_dim // 2], and pair j of head h in block l turns by
    x * freqs[0, l, h, j] + y * freqs[1, l, h, j], x the patch's column and y its row (timm's
    grid_indexing "xy")."""

    def __init__(self, grid, depth, num_heads, head_dim):
        super().__init__()
        self.freqs = nn.Parameter(torch.zeros(2, depth, num_heads, head_dim // 2))
        self.grid = grid

    def angles(self, block):
        """[heads, grid * grid, head_dim // 2]"""
        g = self.grid
        x = torch.arange(g, dtype=torch.float32)[None, :].expand(g, g).reshape(-1, 1)
        y = torch.arange(g, dtype=torch.float32)[:, None].expand(g, g).reshape(-1, 1)
        fx, fy = self.freqs[0, block], self.freqs[1, block]  # [heads, head_dim // 2]
        return x[None] * fx[:, None, :] + y[None] * fy[:, None, :]

    def forward(self, x, block):
        return rotate_pairs(x, self.angles(block))


def rotate_pairs(x, angles):
    """x [..., N, head_dim] with each pair of channels taken as a complex number, times
    e^(i angle) for its row of angles [N, head_dim // 2]."""
    z = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2).contiguous())
    return torch.view_as_real(z * torch.polar(torch.ones_like(angles), angles)).flatten(-2)


class RmsNorm(nn.Module):
    """timm's RmsNorm (AIMv2's norms; torch 1.13 has no nn.RMSNorm):
    x / sqrt(mean(x^2) + eps) * weight."""

    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def make_norm(dim, eps, rms=False):
    """The model's norm: LayerNorm, or with rms RmsNorm."""
    return RmsNorm(dim, eps) if rms else nn.LayerNorm(dim, eps=eps)


class Attention(nn.Module):
    def __init__(self, dim, num_heads, qkv_bias=True, beit_qkv_bias=False, rel_window=0,
                 split_qkv=False, attn_norm=False, eps=1e-6, proj_bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        # timm's EVA-02 base and large: the projections apart, no key bias
        self.split_qkv = split_qkv
        if split_qkv:
            self.q_proj = nn.Linear(dim, dim)
            self.k_proj = nn.Linear(dim, dim, bias=False)
            self.v_proj = nn.Linear(dim, dim)
        else:
            self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias and not beit_qkv_bias)
        # BEiT's: the query's and value's biases, none for the key
        self.q_bias = nn.Parameter(torch.zeros(dim)) if beit_qkv_bias else None
        self.v_bias = nn.Parameter(torch.zeros(dim)) if beit_qkv_bias else None
        self.rel_pos = RelativePositionBias(rel_window, num_heads) if rel_window else None
        # EVA-02's CLIP towers (timm's scale_attn_inner): a LayerNorm before the projection
        self.norm = nn.LayerNorm(dim, eps=eps) if attn_norm else nn.Identity()
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        self.last_attn = None

    def forward(self, x, shared_bias=None, rope=None, num_prefix=1):
        B, N, C = x.shape
        if self.split_qkv:
            qkv = torch.cat([self.q_proj(x), self.k_proj(x), self.v_proj(x)], dim=-1)
        elif self.q_bias is not None:
            bias = torch.cat([self.q_bias, torch.zeros_like(self.q_bias), self.v_bias])
            qkv = nn.functional.linear(x, self.qkv.weight, bias)
        else:
            qkv = self.qkv(x)
        qkv = qkv.reshape(B, N, 3, self.num_heads, C // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        if rope is not None:  # EVA-02, DINOv3: the patch tokens' queries and keys alone
            q = torch.cat([q[:, :, :num_prefix], rope(q[:, :, num_prefix:])], 2)
            k = torch.cat([k[:, :, :num_prefix], rope(k[:, :, num_prefix:])], 2)
        t0 = timer_now()
        attn = (q * self.scale) @ k.transpose(-2, -1)
        if self.rel_pos is not None:
            attn = attn + self.rel_pos().unsqueeze(0)
        if shared_bias is not None:
            attn = attn + shared_bias.unsqueeze(0)
        attn = attn.softmax(dim=-1)
        self.last_attn = attn
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        self.core_seconds = timer_now() - t0
        return self.proj(self.norm(x))


class QuickGELU(nn.Module):
    """OpenAI CLIP's activation: x * sigmoid(1.702 x)."""

    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class Mlp(nn.Module):
    def __init__(self, dim, hidden, quick_gelu=False, gelu_tanh=False, swiglu=False,
                 split_gate=False, mlp_norm=False, eps=1e-6, bias=True):
        super().__init__()
        # SwiGLU (timm's SwiGLUPacked, DINOv2 giant's, EVA-02 tiny's and small's): fc1 gives the
        # gate and the value; with split_gate (timm's SwiGLU, EVA-02 base's) fc1_g and fc1_x
        self.swiglu = swiglu
        if split_gate:
            self.fc1_g = nn.Linear(dim, hidden, bias=bias)
            self.fc1_x = nn.Linear(dim, hidden, bias=bias)
        else:
            self.fc1 = nn.Linear(dim, 2 * hidden if swiglu else hidden, bias=bias)
        # exact (erf) GELU, timm's default; SigLIP's tanh approximation; OpenAI CLIP's QuickGELU
        self.act = nn.SiLU() if swiglu else QuickGELU() if quick_gelu else \
            nn.GELU(approximate="tanh" if gelu_tanh else "none")
        # EVA-02 base's and large's LayerNorm over the hidden layer
        self.norm = nn.LayerNorm(hidden, eps=eps) if mlp_norm else nn.Identity()
        self.fc2 = nn.Linear(hidden, dim, bias=bias)

    def forward(self, x):
        if hasattr(self, "fc1_g"):
            return self.fc2(self.norm(self.act(self.fc1_g(x)) * self.fc1_x(x)))
        if self.swiglu:
            gate, value = self.fc1(x).chunk(2, dim=-1)
            return self.fc2(self.norm(self.act(gate) * value))
        return self.fc2(self.norm(self.act(self.fc1(x))))


class LayerScale(nn.Module):
    """timm's (and DINOv2's) per-channel scale of a residual branch: x * gamma."""

    def __init__(self, dim):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * self.gamma


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_hidden, eps, qkv_bias=True, layer_scale=False,
                 quick_gelu=False, gelu_tanh=False, beit_qkv_bias=False, rel_window=0,
                 swiglu=False, split_qkv=False, split_gate=False, mlp_norm=False,
                 attn_norm=False, rms_norm=False, proj_bias=True):
        super().__init__()
        # AIMv2 (timm's aimv2_*): RmsNorm, and with proj_bias=False no bias in the attention's
        # projection or the MLP (timm's Block hands proj_bias to both)
        self.norm1 = make_norm(dim, eps, rms_norm)
        self.attn = Attention(dim, num_heads, qkv_bias, beit_qkv_bias, rel_window, split_qkv,
                              attn_norm, eps, proj_bias)
        self.ls1 = LayerScale(dim) if layer_scale else nn.Identity()
        self.norm2 = make_norm(dim, eps, rms_norm)
        self.mlp = Mlp(dim, mlp_hidden, quick_gelu, gelu_tanh, swiglu, split_gate, mlp_norm, eps,
                       proj_bias)
        self.ls2 = LayerScale(dim) if layer_scale else nn.Identity()

    def forward(self, x, shared_bias=None, rope=None, num_prefix=1):
        x = x + self.ls1(self.attn(self.norm1(x), shared_bias, rope, num_prefix))
        return x + self.ls2(self.mlp(self.norm2(x)))


class AttentionPoolLatent(nn.Module):
    """timm's attention pooling (global_pool="map", SigLIP's head): a learnt query attends over
    every token, then an MLP with a residual around it; its names are timm's attn_pool.*."""

    def __init__(self, dim, num_heads, mlp_hidden, eps, quick_gelu=False, gelu_tanh=False):
        super().__init__()
        self.num_heads = num_heads
        self.latent = nn.Parameter(torch.zeros(1, 1, dim))
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, mlp_hidden, quick_gelu, gelu_tanh)
        self.last_attn = None

    def forward(self, x):
        B, N, C = x.shape
        h = self.num_heads
        q = self.q(self.latent.expand(B, -1, -1)).reshape(B, 1, h, C // h).transpose(1, 2)
        k, v = self.kv(x).reshape(B, N, 2, h, C // h).permute(2, 0, 3, 1, 4).unbind(0)
        attn = ((q * (C // h) ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
        self.last_attn = attn
        x = self.proj((attn @ v).transpose(1, 2).reshape(B, 1, C))
        x = x + self.mlp(self.norm(x))
        return x[:, 0]


class PatchEmbed(nn.Module):
    def __init__(self, patch, dim, bias=True, norm=None):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch, stride=patch, bias=bias)
        # timm's embed_norm_layer (AIMv2's RmsNorm): a norm of the patches, before the positions
        self.norm = norm or nn.Identity()

    def forward(self, x):
        return self.norm(self.proj(x).flatten(2).transpose(1, 2))


class VisionTransformer(nn.Module):
    def __init__(self, img_size, patch_size, dim, depth, num_heads, num_classes,
                 mlp_hidden=None, eps=1e-6, qkv_bias=True, layer_scale=False,
                 distilled=False, reg_tokens=0, no_embed_class=False, pre_norm=False,
                 quick_gelu=False, class_token=True, avg_pool=False, registers_after_pos=False,
                 patch_mean_head=False, pool_after_norm=False, map_pool=False,
                 gelu_tanh=False, pool_without_norm=False, rel_pos=None, beit_qkv_bias=False,
                 pos_embed=True, swiglu=False, rope_ref_grid=0, split_qkv=False,
                 split_gate=False, mlp_norm=False, rope_dinov3_base=0.0, attn_norm=False,
                 rope_axial_base=0.0, rope_mixed=False, rope_columns_first=False,
                 rope_grid_offset=0.0, pool_heads=None, rms_norm=False, patch_norm=False,
                 proj_bias=True):
        super().__init__()
        patches = (img_size // patch_size) ** 2
        # the rotary position embedding: EVA-02's, learnt at a rope_ref_grid x rope_ref_grid
        # grid, or DINOv3's with its base; a function of the patches' queries or keys
        grid, head_dim = img_size // patch_size, dim // num_heads
        self.rope = None
        if rope_ref_grid:
            self.rope = partial(rotate_pairs, angles=eva02_rope_angles(
                grid, head_dim, rope_ref_grid, columns_first=rope_columns_first,
                offset=rope_grid_offset))
        elif rope_axial_base:  # RoPE-ViT's axial: plain indices, the column's pairs first
            self.rope = partial(rotate_pairs, angles=eva02_rope_angles(
                grid, head_dim, 0, rope_axial_base, columns_first=True))
        elif rope_mixed:  # learnt frequencies a block and head: rope.freqs in the state dict
            self.rope = MixedRope(grid, depth, num_heads, head_dim)
        elif rope_dinov3_base:
            self.rope = partial(rotate_halves, angles=dinov3_rope_angles(grid, head_dim,
                                                                         rope_dinov3_base))
        # BEiT: a relative position bias in every block ("block") or one for all ("shared"),
        # usually without pos_embed
        window = img_size // patch_size
        self.rel_pos_bias = RelativePositionBias(window, num_heads) if rel_pos == "shared" \
            else None
        self.num_prefix = int(class_token) + int(distilled) + reg_tokens
        self.avg_pool = avg_pool
        self.no_embed_class = no_embed_class
        # transformers' Dinov2WithRegisters: pos_embed covers the class token and the patches,
        # and the register tokens go in after the class token once it is added
        self.registers_after_pos = registers_after_pos
        self.patch_embed = PatchEmbed(patch_size, dim, bias=not pre_norm,  # CLIP: no bias
                                      norm=make_norm(dim, eps, rms_norm) if patch_norm else None)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if class_token else None
        # timm's order: cls, then DeiT's dist_token or register tokens, then the patches
        self.dist_token = nn.Parameter(torch.zeros(1, 1, dim)) if distilled else None
        self.reg_token = nn.Parameter(torch.zeros(1, reg_tokens, dim)) if reg_tokens else None
        self.pos_embed = nn.Parameter(
            torch.zeros(1, patches + (0 if no_embed_class else
                                      1 if registers_after_pos else self.num_prefix), dim)) \
            if pos_embed else None
        self.norm_pre = nn.LayerNorm(dim, eps=eps) if pre_norm else nn.Identity()
        self.blocks = nn.ModuleList(Block(dim, num_heads, mlp_hidden or 4 * dim, eps, qkv_bias,
                                          layer_scale, quick_gelu, gelu_tanh, beit_qkv_bias,
                                          window if rel_pos == "block" else 0, swiglu,
                                          split_qkv, split_gate, mlp_norm, attn_norm,
                                          rms_norm, proj_bias)
                                    for _ in range(depth))
        # timm's global_pool="avg": fc_norm after the mean patch token, no final norm; with
        # fc_norm=False (pool_after_norm) the final norm on every token, then their mean
        # (transformers' CLIPForImageClassification: neither, pool_without_norm)
        fc_norm = avg_pool and not pool_after_norm and not pool_without_norm
        self.norm = nn.Identity() if fc_norm or pool_without_norm else \
            make_norm(dim, eps, rms_norm)
        self.fc_norm = nn.LayerNorm(dim, eps=eps) if fc_norm else \
            nn.Identity() if avg_pool else None
        # timm's global_pool="map": attention pooling after the final norm, in the blocks'
        # heads or its own (attn_pool_num_heads)
        self.attn_pool = AttentionPoolLatent(dim, pool_heads or num_heads, mlp_hidden or 4 * dim,
                                             eps,
                                             quick_gelu, gelu_tanh) if map_pool else None
        # transformers' Dinov2ForImageClassification: the head reads [class token; mean patch]
        self.patch_mean_head = patch_mean_head
        self.head = nn.Linear(2 * dim if patch_mean_head else dim, num_classes) if num_classes \
            else nn.Identity()
        self.head_dist = nn.Linear(dim, num_classes) if distilled and num_classes else None

    def tokens(self, img):
        """The final-norm tokens, as timm's forward_features (its _pos_embed: concatenate the
        prefix, then add pos_embed; or, no_embed_class, add it to the patches alone)."""
        x = self.patch_embed(img)
        prefix = [t.expand(x.shape[0], -1, -1)
                  for t in (self.cls_token, self.dist_token, self.reg_token) if t is not None]
        if self.pos_embed is None:
            x = torch.cat(prefix + [x], dim=1)
        elif self.registers_after_pos:
            x = torch.cat([prefix[0], x], dim=1) + self.pos_embed
            x = torch.cat([x[:, :1], prefix[1], x[:, 1:]], dim=1)
        elif self.no_embed_class:
            x = torch.cat(prefix + [x + self.pos_embed], dim=1)
        else:
            x = torch.cat(prefix + [x], dim=1) + self.pos_embed
        x = self.norm_pre(x)
        shared = self.rel_pos_bias() if self.rel_pos_bias is not None else None
        for i, blk in enumerate(self.blocks):
            rope = partial(self.rope, block=i) if isinstance(self.rope, MixedRope) else self.rope
            x = blk(x, shared, rope, self.num_prefix)
        return self.norm(x)

    def forward_features(self, img):
        x = self.tokens(img)
        if self.attn_pool is not None:
            return self.attn_pool(x)
        if self.avg_pool:
            return self.fc_norm(x[:, self.num_prefix:].mean(1))
        return x[:, 0]

    def forward(self, img):
        if self.avg_pool or self.attn_pool is not None:
            return self.head(self.forward_features(img))
        x = self.tokens(img)
        if self.patch_mean_head:
            return self.head(torch.cat([x[:, 0], x[:, self.num_prefix:].mean(1)], -1))
        if self.head_dist is not None:  # DeiT distilled at eval: the mean of both heads
            return (self.head(x[:, 0]) + self.head_dist(x[:, 1])) / 2
        return self.head(x[:, 0])

    def cls_attention(self):
        """Last layer's CLS row over the patch tokens (past every prefix token), heads
        averaged; for an average-pooled model every query row's, averaged; for an
        attention-pooled one the pool's query's row."""
        if self.attn_pool is not None:
            return self.attn_pool.last_attn[0][:, 0, self.num_prefix:].mean(0)
        a = self.blocks[-1].attn.last_attn[0]
        if self.avg_pool:
            return a[:, :, self.num_prefix:].mean((0, 1))
        return a[:, 0, self.num_prefix:].mean(0)


def config_from_state_dict(sd, num_heads=None, eps=1e-6):
    dim, _, patch, _ = sd["patch_embed.proj.weight"].shape
    tokens = sd["pos_embed"].shape[1]
    grid = int(round((tokens - 1) ** 0.5))
    depth = 0
    while f"blocks.{depth}.norm1.weight" in sd:
        depth += 1
    return dict(img_size=grid * patch, patch_size=patch, dim=dim, depth=depth,
                num_heads=num_heads or dim // 64,
                num_classes=sd["head.weight"].shape[0] if "head.weight" in sd else 0,
                mlp_hidden=sd["blocks.0.mlp.fc1.weight"].shape[0], eps=eps,
                qkv_bias="blocks.0.attn.qkv.bias" in sd,
                layer_scale="blocks.0.ls1.gamma" in sd)


# ---- safetensors -------------------------------------------------------------------------

def load_safetensors(path, keep_dtype=False):
    """Returns (tensors as float32, or in their own dtype with keep_dtype, metadata dict)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        raw = bytearray(data[b:e])
        dt = info["dtype"]
        if dt == "F32":
            t = torch.frombuffer(raw, dtype=torch.float32) if raw else torch.zeros(0)
        elif dt == "F16":
            t = torch.frombuffer(raw, dtype=torch.float16)
            t = t if keep_dtype else t.float()
        elif dt == "BF16" and keep_dtype:
            t = torch.frombuffer(raw, dtype=torch.bfloat16)
        elif dt == "BF16":
            t = (torch.frombuffer(raw, dtype=torch.int16).to(torch.int32) << 16).view(torch.float32)
        else:
            continue
        out[name] = t.reshape(info["shape"]).clone()
    return out, meta


def load_checkpoint(path):
    """A safetensors file or a PyTorch checkpoint (its state dict, or the one under "model" or
    "state_dict" as engine/torch_file.c finds it): (tensors as float32, metadata dict)."""
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":
            return load_safetensors(path)
    sd = torch.load(path, map_location="cpu", weights_only=True)
    if not any(torch.is_tensor(v) for v in sd.values()):
        sd = next((sd[k] for k in ("state_dict", "model", "module", "model_state_dict")
                   if isinstance(sd.get(k), dict)), sd)
    return {k: v.float() for k, v in sd.items()
            if torch.is_tensor(v) and v.is_floating_point()}, {}


def save_safetensors(path, tensors, dtype="F32", metadata=None):
    """tensors: name -> float tensor, stored as dtype (F32, F16 or BF16)."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for name, t in tensors.items():
        t = t.detach().contiguous()
        if t.dtype == torch.long:  # an index (BEiT's relative_position_index), kept as I64
            raw = t.numpy().astype("<i8").tobytes()
            header[name] = {"dtype": "I64", "shape": list(t.shape),
                            "data_offsets": [offset, offset + len(raw)]}
            chunks.append(raw)
            offset += len(raw)
            continue
        if dtype == "F32":
            raw = t.float().numpy().tobytes()
        elif dtype == "F16":
            raw = t.half().numpy().tobytes()
        elif dtype == "BF16":
            raw = t.bfloat16().view(torch.int16).numpy().tobytes()
        else:
            raise ValueError(dtype)
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    hdr = json.dumps(header).encode()
    hdr += b" " * (-len(hdr) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hdr)))
        f.write(hdr)
        for c in chunks:
            f.write(c)


def round_to(t, dtype):
    """The values a tensor has once stored as dtype."""
    if dtype == "F16":
        return t.half().float()
    if dtype == "BF16":
        return t.bfloat16().float()
    return t


def hf_block_outside_qkv(out, sd, b, h):
    """A timm block's norms, projection and MLP (names from b) under transformers' ViT names
    (from h); BEiT's are the same."""
    for timm, hf in (("norm1", "layernorm_before"), ("attn.proj", "attention.output.dense"),
                     ("norm2", "layernorm_after"), ("mlp.fc1", "intermediate.dense"),
                     ("mlp.fc2", "output.dense")):
        for kind in ("weight", "bias"):
            out[f"{h}{hf}.{kind}"] = sd[f"{b}{timm}.{kind}"]


def timm_to_hf(sd, prefix="vit."):
    """Renames a timm ViT state dict to Hugging Face ViTForImageClassification names (with
    prefix "deit." and a dist_token: DeiTForImageClassificationWithTeacher's)."""
    out = {}
    p = prefix
    if "cls_token" in sd:  # I-JEPA has none
        out[p + "embeddings.cls_token"] = sd["cls_token"]
    if "dist_token" in sd:
        out[p + "embeddings.distillation_token"] = sd["dist_token"]
    out[p + "embeddings.position_embeddings"] = sd["pos_embed"]
    out[p + "embeddings.patch_embeddings.projection.weight"] = sd["patch_embed.proj.weight"]
    out[p + "embeddings.patch_embeddings.projection.bias"] = sd["patch_embed.proj.bias"]
    i = 0
    while f"blocks.{i}.norm1.weight" in sd:
        b, h = f"blocks.{i}.", f"{p}encoder.layer.{i}."
        for part, w, bias in zip(("query", "key", "value"),
                                 sd[b + "attn.qkv.weight"].chunk(3, 0),
                                 sd[b + "attn.qkv.bias"].chunk(3, 0)):
            out[h + f"attention.attention.{part}.weight"] = w
            out[h + f"attention.attention.{part}.bias"] = bias
        hf_block_outside_qkv(out, sd, b, h)
        i += 1
    out[p + "layernorm.weight"] = sd["norm.weight"]
    out[p + "layernorm.bias"] = sd["norm.bias"]
    heads = {"head": "cls_classifier", "head_dist": "distillation_classifier"} \
        if "head_dist.weight" in sd else {"head": "classifier"}
    for timm, hf in heads.items():
        if timm + ".weight" in sd:
            out[hf + ".weight"], out[hf + ".bias"] = sd[timm + ".weight"], sd[timm + ".bias"]
    return out


def mirror_to_timm_beit(sd, with_index=False):
    """The mirror's BEiT state dict in timm's Beit names: the tables straight under attn.,
    LayerScale as gamma_1/gamma_2; with_index, each block's relative_position_index too, as
    timm's and transformers' older checkpoints carry it."""
    out = {}
    for name, t in sd.items():
        name = name.replace(".attn.rel_pos.", ".attn.")
        name = name.replace(".ls1.gamma", ".gamma_1").replace(".ls2.gamma", ".gamma_2")
        out[name] = t
        if with_index and name.endswith("relative_position_bias_table"):
            window = int(round(((t.shape[0] - 3) ** 0.5 + 1) / 2))
            out[name.replace("bias_table", "index")] = beit_position_index(window)
    return out


def timm_to_hf_beit(sd, prefix="beit.", with_index=False):
    """timm's BEiT names (mirror_to_timm_beit's) as transformers' BeitForImageClassification
    (or, prefix "data2vec_vision.", Data2VecVision's) has them: query, key (no bias) and value,
    lambda_1/lambda_2, the tables under attention.attention.relative_position_bias. (or one
    shared under encoder.relative_position_bias.), and fc_norm as pooler.layernorm."""
    p, out = prefix, {}
    out[p + "embeddings.cls_token"] = sd["cls_token"]
    out[p + "embeddings.patch_embeddings.projection.weight"] = sd["patch_embed.proj.weight"]
    out[p + "embeddings.patch_embeddings.projection.bias"] = sd["patch_embed.proj.bias"]
    if "pos_embed" in sd:  # use_absolute_position_embeddings
        out[p + "embeddings.position_embeddings"] = sd["pos_embed"]
    tables = {}
    if "rel_pos_bias.relative_position_bias_table" in sd:
        tables[p + "encoder.relative_position_bias."] = sd[
            "rel_pos_bias.relative_position_bias_table"]
    i = 0
    while f"blocks.{i}.norm1.weight" in sd:
        b, h = f"blocks.{i}.", f"{p}encoder.layer.{i}."
        q, k, v = sd[b + "attn.qkv.weight"].chunk(3, 0)
        a = h + "attention.attention."
        out[a + "query.weight"], out[a + "query.bias"] = q, sd[b + "attn.q_bias"]
        out[a + "key.weight"] = k
        out[a + "value.weight"], out[a + "value.bias"] = v, sd[b + "attn.v_bias"]
        if b + "attn.relative_position_bias_table" in sd:
            tables[a + "relative_position_bias."] = sd[b + "attn.relative_position_bias_table"]
        hf_block_outside_qkv(out, sd, b, h)
        out[h + "lambda_1"], out[h + "lambda_2"] = sd[b + "gamma_1"], sd[b + "gamma_2"]
        i += 1
    for where, table in tables.items():
        out[where + "relative_position_bias_table"] = table
        if with_index:
            window = int(round(((table.shape[0] - 3) ** 0.5 + 1) / 2))
            out[where + "relative_position_index"] = beit_position_index(window)
    for timm, hf in (("fc_norm", "pooler.layernorm"), ("norm", "layernorm")):
        if timm + ".weight" in sd:
            out[p + hf + ".weight"], out[p + hf + ".bias"] = sd[timm + ".weight"], \
                sd[timm + ".bias"]
    if "head.weight" in sd:
        out["classifier.weight"], out["classifier.bias"] = sd["head.weight"], sd["head.bias"]
    return out


def timm_to_hf_dinov2(sd, prefix="", split_gate=False):
    """Renames a timm DINOv2 state dict (LayerScale ls1/ls2, no head) to transformers'
    Dinov2Model names: timm's inside the blocks but for the attention, LayerScale as
    layer_scaleN.lambda1, and the mask token transformers keeps for masked training. A SwiGLU
    MLP as Dinov2SwiGLUFFN's weights_in/weights_out, or with split_gate as its LlamaMLP-style
    rewrite's gate_proj, up_proj and down_proj."""
    p = prefix
    out = {p + "embeddings.cls_token": sd["cls_token"],
           p + "embeddings.mask_token": torch.zeros(1, sd["cls_token"].shape[-1]),
           p + "embeddings.position_embeddings": sd["pos_embed"],
           p + "embeddings.patch_embeddings.projection.weight": sd["patch_embed.proj.weight"],
           p + "embeddings.patch_embeddings.projection.bias": sd["patch_embed.proj.bias"],
           p + "layernorm.weight": sd["norm.weight"], p + "layernorm.bias": sd["norm.bias"]}
    i = 0
    while f"blocks.{i}.norm1.weight" in sd:
        b, h = f"blocks.{i}.", f"{p}encoder.layer.{i}."
        # a SwiGLU MLP (fc1 twice as wide as fc2 reads): Dinov2SwiGLUFFN's weights_in/out
        swiglu = sd[b + "mlp.fc1.weight"].shape[0] == 2 * sd[b + "mlp.fc2.weight"].shape[1]
        fc1, fc2 = ("mlp.weights_in", "mlp.weights_out") if swiglu else ("mlp.fc1", "mlp.fc2")
        if swiglu and split_gate:
            fc2 = "mlp.down_proj"
        for kind in ("weight", "bias"):
            for name, hf in (("norm1", "norm1"), ("norm2", "norm2"), ("mlp.fc1", fc1),
                             ("mlp.fc2", fc2)):
                out[f"{h}{hf}.{kind}"] = sd[f"{b}{name}.{kind}"]
            if swiglu and split_gate:  # the gate's rows, then the value's
                del out[f"{h}{fc1}.{kind}"]
                gate, up = sd[f"{b}mlp.fc1.{kind}"].chunk(2, 0)
                out[f"{h}mlp.gate_proj.{kind}"], out[f"{h}mlp.up_proj.{kind}"] = gate, up
            out[f"{h}attention.output.dense.{kind}"] = sd[f"{b}attn.proj.{kind}"]
            for part, t in zip(("query", "key", "value"), sd[f"{b}attn.qkv.{kind}"].chunk(3, 0)):
                out[f"{h}attention.attention.{part}.{kind}"] = t
        out[h + "layer_scale1.lambda1"] = sd[b + "ls1.gamma"]
        out[h + "layer_scale2.lambda1"] = sd[b + "ls2.gamma"]
        i += 1
    if "reg_token" in sd:  # Dinov2WithRegisters
        out[p + "embeddings.register_tokens"] = sd["reg_token"]
    if "head.weight" in sd:  # Dinov2ForImageClassification (prefix "dinov2.")
        out["classifier.weight"], out["classifier.bias"] = sd["head.weight"], sd["head.bias"]
    return out


def timm_to_timm_eva(sd):
    """timm's Eva names for the mirror's: LayerScale as gamma_1 and gamma_2 (vit_*_dinov3)."""
    return {k.replace(".ls1.gamma", ".gamma_1").replace(".ls2.gamma", ".gamma_2"): v
            for k, v in sd.items()}


def timm_eva_to_mirror(sd):
    """The mirror's names for timm's Eva names: LayerScale as ls1.gamma and ls2.gamma."""
    return {k.replace(".gamma_1", ".ls1.gamma").replace(".gamma_2", ".ls2.gamma"): v
            for k, v in sd.items()}


def timm_to_hf_dinov3(sd):
    """transformers' DINOv3ViTModel names for a timm Eva state dict in the mirror's names (the
    query's, key's and value's projections apart, no key bias; LayerScale; register tokens; no
    position embedding): embeddings.*, layer.N.attention.{q,k,v,o}_proj, layer_scaleN.lambda1,
    mlp.up_proj and down_proj (gated: gate_proj, up_proj, down_proj), and the mask token
    transformers keeps for masked training."""
    dim = sd["cls_token"].shape[-1]
    out = {"embeddings.cls_token": sd["cls_token"],
           "embeddings.mask_token": torch.zeros(1, 1, dim),
           "embeddings.register_tokens": sd["reg_token"],
           "embeddings.patch_embeddings.weight": sd["patch_embed.proj.weight"],
           "embeddings.patch_embeddings.bias": sd["patch_embed.proj.bias"],
           "norm.weight": sd["norm.weight"], "norm.bias": sd["norm.bias"]}
    inside = [("attn.q_proj.", "attention.q_proj."), ("attn.k_proj.", "attention.k_proj."),
              ("attn.v_proj.", "attention.v_proj."), ("attn.proj.", "attention.o_proj."),
              ("ls1.gamma", "layer_scale1.lambda1"), ("ls2.gamma", "layer_scale2.lambda1"),
              ("mlp.fc1_g.", "mlp.gate_proj."), ("mlp.fc1_x.", "mlp.up_proj."),
              ("mlp.fc1.", "mlp.up_proj."), ("mlp.fc2.", "mlp.down_proj."), ("norm1.", "norm1."),
              ("norm2.", "norm2.")]
    for k, v in sd.items():
        if not k.startswith("blocks."):
            continue
        _, i, rest = k.split(".", 2)
        hf = next(h + rest[len(t):] for t, h in inside if rest.startswith(t))
        out[f"layer.{i}.{hf}"] = v
    return out


def timm_to_dinov2_repo(sd):
    """A timm DINOv2 state dict with registers (registers after the positions) in
    facebookresearch/dinov2's own names, as its torch.hub checkpoints have them: timm's but
    for register_tokens, and the mask token it keeps for masked training."""
    out = {("register_tokens" if k == "reg_token" else k): v for k, v in sd.items()}
    out["mask_token"] = torch.zeros(1, sd["cls_token"].shape[-1])
    if out["blocks.0.mlp.fc1.weight"].shape[0] == 2 * out["blocks.0.mlp.fc2.weight"].shape[1]:
        # a SwiGLU MLP: its SwiGLUFFNFused names, w12 (gate and value) and w3
        out = {k.replace(".mlp.fc1.", ".mlp.w12.").replace(".mlp.fc2.", ".mlp.w3."): v
               for k, v in out.items()}
    return out


def split_qkv_blocks(sd, layers, norms, attn, proj):
    """timm's blocks as block N under `layers` in names that keep the query's, key's and value's
    projections apart (`attn` + q_proj, k_proj, v_proj, split from timm's qkv): `norms` name
    norm1 and norm2, `proj` the attention's output projection."""
    out, i = {}, 0
    while f"blocks.{i}.norm1.weight" in sd:
        b, h = f"blocks.{i}.", f"{layers}{i}."
        for kind in ("weight", "bias"):
            for timm, theirs in (("norm1", norms[0]), ("norm2", norms[1]), ("mlp.fc1", "mlp.fc1"),
                                 ("mlp.fc2", "mlp.fc2"), ("attn.proj", proj)):
                out[f"{h}{theirs}.{kind}"] = sd[f"{b}{timm}.{kind}"]
            for part, t in zip("qkv", sd[f"{b}attn.qkv.{kind}"].chunk(3, 0)):
                out[f"{h}{attn}{part}_proj.{kind}"] = t
        i += 1
    return out


def clip_blocks(sd, p):
    """timm's blocks in transformers' CLIP and SigLIP names (encoder.layers.N., self_attn's
    q_proj, k_proj and v_proj split from timm's qkv)."""
    return split_qkv_blocks(sd, p + "encoder.layers.", ("layer_norm1", "layer_norm2"),
                            "self_attn.", "self_attn.out_proj")


def timm_to_hf_clip(sd, prefix="vision_model.", text_tower=True):
    """Renames a timm CLIP image tower (norm_pre, no patch bias, no head) to transformers'
    CLIPModel names (under another prefix, a captioning or vision-language model's), with a token
    of the text tower, the projections and logit_scale beside it as CLIPModel files have them
    (text_tower)."""
    p = prefix
    dim = sd["cls_token"].shape[-1]
    if "norm.weight" not in sd:  # CLIPForImageClassification: post_layernorm there, unused
        gen = torch.Generator().manual_seed(dim)
        sd = dict(sd, **{"norm.weight": torch.rand(dim, generator=gen) + 0.5,
                         "norm.bias": torch.randn(dim, generator=gen)})
    out = {p + "embeddings.class_embedding": sd["cls_token"].reshape(dim),
           p + "embeddings.position_embedding.weight": sd["pos_embed"].reshape(-1, dim),
           p + "embeddings.patch_embedding.weight": sd["patch_embed.proj.weight"],
           p + "pre_layrnorm.weight": sd["norm_pre.weight"], p + "pre_layrnorm.bias": sd["norm_pre.bias"],
           p + "post_layernorm.weight": sd["norm.weight"], p + "post_layernorm.bias": sd["norm.bias"]}
    if "head.weight" in sd:  # CLIPForImageClassification: vision_model. and a classifier
        out["classifier.weight"], out["classifier.bias"] = sd["head.weight"], sd["head.bias"]
    elif text_tower:  # CLIPModel: the text tower and the projections beside the image tower
        out.update({"visual_projection.weight": torch.ones(8, dim),
                    "text_model.embeddings.token_embedding.weight": torch.ones(16, 8),
                    "logit_scale": torch.tensor(4.6052)})
    return out | clip_blocks(sd, p)


# a few of an OpenCLIP text tower's tensors, as open_clip's CLIP state dicts hold them beside
# the image tower (names that must not be taken for the image tower's)
OPEN_CLIP_TEXT_TOWER = {
    "positional_embedding": torch.ones(12, 8), "token_embedding.weight": torch.ones(16, 8),
    "transformer.resblocks.0.ln_1.weight": torch.ones(8),
    "transformer.resblocks.0.attn.in_proj_weight": torch.ones(24, 8),
    "ln_final.weight": torch.ones(8), "text_projection": torch.ones(8, 16),
    "logit_scale": torch.tensor(4.6052)}


def timm_to_open_clip(sd, fc_norm=False):
    """Renames a timm CLIP image tower (norm_pre, no patch bias, a head without a bias: the
    projection) to open_clip's own VisionTransformer under visual. (class_embedding [D],
    positional_embedding [T, D], conv1, ln_pre, transformer.resblocks.N with
    nn.MultiheadAttention's in_proj, ln_post (fc_norm with final_ln_after_pool), proj
    [D, embed]), with a few of the text tower's tensors beside it."""
    dim = sd["cls_token"].shape[-1]
    post = "fc_norm" if fc_norm else "norm"
    assert not sd["head.bias"].any(), "open_clip's proj has no bias"
    out = {"visual.class_embedding": sd["cls_token"].reshape(dim),
           "visual.positional_embedding": sd["pos_embed"].reshape(-1, dim),
           "visual.conv1.weight": sd["patch_embed.proj.weight"],
           "visual.proj": sd["head.weight"].t().contiguous()}
    for kind in ("weight", "bias"):
        out[f"visual.ln_pre.{kind}"] = sd[f"norm_pre.{kind}"]
        out[f"visual.ln_post.{kind}"] = sd[f"{post}.{kind}"]
    i = 0
    while f"blocks.{i}.norm1.weight" in sd:
        b, r = f"blocks.{i}.", f"visual.transformer.resblocks.{i}."
        for timm, oc in (("norm1.", "ln_1."), ("norm2.", "ln_2."), ("attn.qkv.weight", "attn.in_proj_weight"),
                         ("attn.qkv.bias", "attn.in_proj_bias"), ("attn.proj.", "attn.out_proj."),
                         ("mlp.fc1.", "mlp.c_fc."), ("mlp.fc2.", "mlp.c_proj."),
                         ("ls1.gamma", "ls_1.gamma"), ("ls2.gamma", "ls_2.gamma")):
            for name, t in sd.items():
                if name.startswith(b + timm):
                    out[r + oc + name[len(b + timm):]] = t
        i += 1
    return out | OPEN_CLIP_TEXT_TOWER


def timm_to_open_clip_trunk(sd):
    """A timm image tower as open_clip's TimmModel holds it: the timm model under
    visual.trunk., its head (a bias-less linear projection, timm_proj "linear") as
    visual.head.proj, with a few of the text tower's tensors beside it."""
    assert not sd["head.bias"].any(), "open_clip's timm_proj_bias is off"
    out = {f"visual.trunk.{k}": v for k, v in sd.items() if not k.startswith("head.")}
    return out | {"visual.head.proj.weight": sd["head.weight"]} | OPEN_CLIP_TEXT_TOWER


def open_clip_visual(sd, img, heads, eps, quick_gelu, pool="tok", final_ln_after_pool=False):
    """open_clip's VisionTransformer.forward (transformer.py) on its own state dict, with
    torch's nn.MultiheadAttention as its ResidualAttentionBlock runs it: the reference the
    OpenCLIP fixtures' renamed weights are checked against."""
    def ln(x, name):
        return F.layer_norm(x, x.shape[-1:], sd[name + ".weight"], sd[name + ".bias"], eps)

    v = "visual."
    width, patch = sd[v + "conv1.weight"].shape[0], sd[v + "conv1.weight"].shape[-1]
    x = F.conv2d(img, sd[v + "conv1.weight"], stride=patch).flatten(2).transpose(1, 2)
    cls = sd[v + "class_embedding"].view(1, 1, -1).expand(x.shape[0], -1, -1)
    x = torch.cat([cls, x], 1) + sd[v + "positional_embedding"]
    x = ln(x, v + "ln_pre").transpose(0, 1)  # NLD -> LND
    i = 0
    while f"{v}transformer.resblocks.{i}.ln_1.weight" in sd:
        r = f"{v}transformer.resblocks.{i}."
        mha = nn.MultiheadAttention(width, heads)
        mha.load_state_dict({k: sd[r + "attn." + k] for k in (
            "in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias")})
        h = ln(x, r + "ln_1")
        x = x + mha(h, h, h, need_weights=False)[0] * sd.get(r + "ls_1.gamma", 1.0)
        h = F.linear(ln(x, r + "ln_2"), sd[r + "mlp.c_fc.weight"], sd[r + "mlp.c_fc.bias"])
        h = h * torch.sigmoid(1.702 * h) if quick_gelu else F.gelu(h)
        h = F.linear(h, sd[r + "mlp.c_proj.weight"], sd[r + "mlp.c_proj.bias"])
        x = x + h * sd.get(r + "ls_2.gamma", 1.0)
        i += 1
    x = x.transpose(0, 1)
    take = (lambda t: t[:, 1:].mean(1)) if pool == "avg" else (lambda t: t[:, 0])
    pooled = ln(take(x), v + "ln_post") if final_ln_after_pool else take(ln(x, v + "ln_post"))
    return pooled @ sd[v + "proj"]


def timm_to_aimv2_apple(sd):
    """timm's aimv2_* names as Apple's own AIMv2 checkpoints hold them (what timm's
    _convert_aimv2 reads): preprocessor.patchifier (proj, norm), preprocessor.pos_embed,
    trunk.blocks.N (norm_1, norm_2, attn.qkv, attn.proj, the SwiGLU as mlp.fc1 the gate, fc3
    the value, fc2), trunk.post_trunk_norm."""
    out = {}
    for k, v in sd.items():
        if k.startswith("patch_embed."):
            k = k.replace("patch_embed.", "preprocessor.patchifier.")
        elif k == "pos_embed":
            k = "preprocessor.pos_embed"
        elif k.startswith("norm."):
            k = "trunk.post_trunk_norm." + k[len("norm."):]
        elif k.startswith("blocks."):
            k = ("trunk." + k).replace(".norm1.", ".norm_1.").replace(".norm2.", ".norm_2.")
            k = k.replace(".mlp.fc1_g.", ".mlp.fc1.").replace(".mlp.fc1_x.", ".mlp.fc3.")
        out[k] = v
    return out


def rms(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def sdpa(q, k, v, heads):
    """Scaled dot-product attention of [B, N, C] queries, keys and values in `heads` heads."""
    B, N, C = q.shape
    q, k, v = (t.reshape(B, N, heads, C // heads).transpose(1, 2) for t in (q, k, v))
    a = ((q * (C // heads) ** -0.5) @ k.transpose(-2, -1)).softmax(-1)
    return (a @ v).transpose(1, 2).reshape(B, N, C)


def aimv2_apple_visual(sd, img, heads, eps):
    """Apple's AIMv2 image tower (ml-aim's aim/v2 modules: PatchEmbed with its RMSNorm, the
    learnt positions, blocks of RMSNorm, bias-less attention and SwiGLU fc2(silu(fc1) * fc3),
    post_trunk_norm) on its own state dict, then timm's pooling, the mean token: the reference
    the Apple-named fixture's weights are checked against."""
    w = sd["preprocessor.patchifier.proj.weight"]
    x = F.conv2d(img, w, sd.get("preprocessor.patchifier.proj.bias"), stride=w.shape[-1])
    x = rms(x.flatten(2).transpose(1, 2), sd["preprocessor.patchifier.norm.weight"], eps)
    x = x + sd["preprocessor.pos_embed"]
    i = 0
    while f"trunk.blocks.{i}.norm_1.weight" in sd:
        b = f"trunk.blocks.{i}."
        h = rms(x, sd[b + "norm_1.weight"], eps)
        q, k, v = F.linear(h, sd[b + "attn.qkv.weight"]).chunk(3, -1)
        x = x + F.linear(sdpa(q, k, v, heads), sd[b + "attn.proj.weight"])
        h = rms(x, sd[b + "norm_2.weight"], eps)
        h = F.silu(F.linear(h, sd[b + "mlp.fc1.weight"])) * F.linear(h, sd[b + "mlp.fc3.weight"])
        x = x + F.linear(h, sd[b + "mlp.fc2.weight"])
        i += 1
    return rms(x, sd["trunk.post_trunk_norm.weight"], eps).mean(1)


def timm_to_hf_aimv2(sd, prefix="vision_model."):
    """timm's aimv2_* names as transformers' Aimv2Model holds its image tower (under
    vision_model.; Aimv2VisionModel's with prefix ""): embeddings.patch_embed, rms_norm and
    position_embedding [patches, D], encoder.layers.N (rms_norm1, rms_norm2, attention's q, k,
    v and out projections, the ffn's gate_proj, up_proj and down_proj), rms_norm; Aimv2Model's
    with a few of its text tower's tensors and the projections beside it."""
    p, dim = prefix, sd["pos_embed"].shape[-1]
    out = {p + "embeddings.patch_embed.weight": sd["patch_embed.proj.weight"],
           p + "embeddings.patch_embed.bias": sd["patch_embed.proj.bias"],
           p + "embeddings.rms_norm.weight": sd["patch_embed.norm.weight"],
           p + "embeddings.position_embedding.weight": sd["pos_embed"].reshape(-1, dim),
           p + "rms_norm.weight": sd["norm.weight"]}
    i = 0
    while f"blocks.{i}.norm1.weight" in sd:
        b, h = f"blocks.{i}.", f"{p}encoder.layers.{i}."
        for timm, hf in (("norm1", "rms_norm1"), ("norm2", "rms_norm2"),
                         ("attn.proj", "attention.out_proj"), ("mlp.fc1_g", "ffn.gate_proj"),
                         ("mlp.fc1_x", "ffn.up_proj"), ("mlp.fc2", "ffn.down_proj")):
            out[f"{h}{hf}.weight"] = sd[f"{b}{timm}.weight"]
        for part, t in zip("qkv", sd[f"{b}attn.qkv.weight"].chunk(3, 0)):
            out[f"{h}attention.{part}_proj.weight"] = t
        i += 1
    if prefix:  # Aimv2Model: the text tower and the projections beside the image tower
        out.update({"visual_projection.weight": torch.ones(8, dim),
                    "text_projection.weight": torch.ones(8, 8),
                    "text_model.embeddings.token_embedding.weight": torch.ones(16, 8),
                    "text_model.encoder.layers.0.rms_norm1.weight": torch.ones(8),
                    "text_model.encoder.layers.0.attention.q_proj.weight": torch.ones(8, 8),
                    "text_model.rms_norm.weight": torch.ones(8),
                    "logit_scale": torch.tensor(2.6592)})
    return out


def hf_aimv2_visual(sd, img, heads, eps, prefix="vision_model."):
    """transformers' Aimv2VisionModel forward (modeling_aimv2.py: Aimv2VisionEmbeddings, encoder
    layers of Aimv2RMSNorm, Siglip-style attention and LlamaMLP down(silu(gate) * up), the final
    rms_norm) on its own state dict, then timm's pooling, the mean token."""
    p = prefix
    w = sd[p + "embeddings.patch_embed.weight"]
    x = F.conv2d(img, w, sd.get(p + "embeddings.patch_embed.bias"), stride=w.shape[-1])
    x = rms(x.flatten(2).transpose(1, 2), sd[p + "embeddings.rms_norm.weight"], eps)
    x = x + sd[p + "embeddings.position_embedding.weight"]
    i = 0
    while f"{p}encoder.layers.{i}.rms_norm1.weight" in sd:
        b = f"{p}encoder.layers.{i}."
        h = rms(x, sd[b + "rms_norm1.weight"], eps)
        q, k, v = (F.linear(h, sd[f"{b}attention.{t}_proj.weight"]) for t in "qkv")
        x = x + F.linear(sdpa(q, k, v, heads), sd[b + "attention.out_proj.weight"])
        h = rms(x, sd[b + "rms_norm2.weight"], eps)
        h = F.silu(F.linear(h, sd[b + "ffn.gate_proj.weight"])) * \
            F.linear(h, sd[b + "ffn.up_proj.weight"])
        x = x + F.linear(h, sd[b + "ffn.down_proj.weight"])
        i += 1
    return rms(x, sd[p + "rms_norm.weight"], eps).mean(1)


def timm_to_tower(sd, prefix="vision_model.", intern=False):
    """timm's names as transformers' BLIP image tower holds them (BlipVisionModel's with prefix
    ""; the vision_model. of BLIP's, BLIP-2's and InstructBLIP's models): embeddings'
    class_embedding, patch_embedding and position_embedding, encoder.layers.N (layer_norm1,
    layer_norm2, self_attn.qkv with BLIP-2's q_bias and v_bias, self_attn.projection, mlp.fc1,
    mlp.fc2), post_layernorm; or, intern, as InternViT's own code holds it (InternVisionModel's,
    InternVL's chat models' vision_model.): the same embeddings, encoder.layers.N with timm's
    names inside but LayerScale as bare ls1/ls2, no final norm."""
    p = prefix
    out = {p + "embeddings.class_embedding": sd["cls_token"],
           p + "embeddings.patch_embedding.weight": sd["patch_embed.proj.weight"],
           p + "embeddings.patch_embedding.bias": sd["patch_embed.proj.bias"],
           p + "embeddings.position_embedding": sd["pos_embed"]}
    if not intern:
        out[p + "post_layernorm.weight"], out[p + "post_layernorm.bias"] = \
            sd["norm.weight"], sd["norm.bias"]
    inside = ((".gamma", ""),) if intern else (
        ("norm1.", "layer_norm1."), ("norm2.", "layer_norm2."),
        ("attn.proj.", "self_attn.projection."), ("attn.", "self_attn."))
    for name, t in sd.items():
        if name.startswith("blocks."):
            _, i, rest = name.split(".", 2)
            for timm, theirs in inside:
                if timm in rest:
                    rest = rest.replace(timm, theirs, 1)
                    break
            out[f"{p}encoder.layers.{i}.{rest}"] = t
    return out


def hf_tower_visual(sd, img, heads, eps, prefix="vision_model.", intern=False):
    """transformers' BlipVisionModel forward (modeling_blip.py, Blip2's the same with q_bias and
    v_bias around a bias-less qkv) on its own state dict: last_hidden_state[:, 0], the class
    token after post_layernorm, which BLIP's captioning, question-answering and retrieval heads
    read (not pooler_output, which takes post_layernorm twice); or, intern, InternViT's
    (modeling_intern_vit.py: LayerScale ls1/ls2 on each branch, no final norm, pooler_output
    the class token as the last layer leaves it)."""
    p = prefix
    w = sd[p + "embeddings.patch_embedding.weight"]
    x = F.conv2d(img, w, sd[p + "embeddings.patch_embedding.bias"], stride=w.shape[-1])
    x = x.flatten(2).transpose(1, 2)
    cls = sd[p + "embeddings.class_embedding"].expand(x.shape[0], 1, -1)
    x = torch.cat([cls, x], 1) + sd[p + "embeddings.position_embedding"]
    dim = x.shape[-1]
    n1, n2, attn, proj = (("norm1", "norm2", "attn.", "attn.proj") if intern else
                          ("layer_norm1", "layer_norm2", "self_attn.", "self_attn.projection"))

    def norm(t, name):
        return F.layer_norm(t, (dim,), sd[name + ".weight"], sd[name + ".bias"], eps)

    i = 0
    while f"{p}encoder.layers.{i}.{n1}.weight" in sd:
        b = f"{p}encoder.layers.{i}."
        ls1, ls2 = (sd[b + "ls1"], sd[b + "ls2"]) if intern else (1.0, 1.0)
        bias = sd.get(b + attn + "qkv.bias")
        if b + attn + "q_bias" in sd:
            q_bias = sd[b + attn + "q_bias"]
            bias = torch.cat([q_bias, torch.zeros_like(q_bias), sd[b + attn + "v_bias"]])
        q, k, v = F.linear(norm(x, b + n1), sd[b + attn + "qkv.weight"], bias).chunk(3, -1)
        x = x + ls1 * F.linear(sdpa(q, k, v, heads), sd[b + proj + ".weight"],
                               sd[b + proj + ".bias"])
        h = F.gelu(F.linear(norm(x, b + n2), sd[b + "mlp.fc1.weight"], sd[b + "mlp.fc1.bias"]))
        x = x + ls2 * F.linear(h, sd[b + "mlp.fc2.weight"], sd[b + "mlp.fc2.bias"])
        i += 1
    return (x if intern else norm(x, p + "post_layernorm"))[:, 0]


def timm_to_hf_internvl(sd, prefix="model.vision_tower."):
    """timm's names as transformers' InternVL holds its image tower (InternVLVisionModel, under
    vision_tower. or model.vision_tower.): BEiT's embeddings and layer names, q_proj, k_proj and
    v_proj split from timm's qkv, projection_layer, LayerScale as lambda_1/lambda_2, the final
    layernorm where there is one."""
    p = prefix
    out = {p + "embeddings.cls_token": sd["cls_token"],
           p + "embeddings.position_embeddings": sd["pos_embed"],
           p + "embeddings.patch_embeddings.projection.weight": sd["patch_embed.proj.weight"],
           p + "embeddings.patch_embeddings.projection.bias": sd["patch_embed.proj.bias"]}
    if "norm.weight" in sd:
        out[p + "layernorm.weight"], out[p + "layernorm.bias"] = sd["norm.weight"], sd["norm.bias"]
    out.update(split_qkv_blocks(sd, p + "encoder.layer.", ("layernorm_before", "layernorm_after"),
                                "attention.", "attention.projection_layer"))
    i = 0
    while f"blocks.{i}.ls1.gamma" in sd:
        h = f"{p}encoder.layer.{i}."
        out[h + "lambda_1"], out[h + "lambda_2"] = sd[f"blocks.{i}.ls1.gamma"], \
            sd[f"blocks.{i}.ls2.gamma"]
        i += 1
    return out


def timm_to_hf_siglip(sd, text_tower=True, prefix="vision_model."):
    """Renames a timm SigLIP image tower (no class token, patch bias, final norm, attention
    pooling, or a head on the mean normed token) to transformers' names: SiglipModel's
    vision_model. with its head. (and, text_tower, a token of the text tower and logit_scale and
    logit_bias beside it), or SiglipForImageClassification's vision_model. and classifier; or,
    with another prefix, a vision-language model's tower."""
    p = prefix
    dim = sd["pos_embed"].shape[-1]
    out = {p + "embeddings.position_embedding.weight": sd["pos_embed"].reshape(-1, dim),
           p + "embeddings.patch_embedding.weight": sd["patch_embed.proj.weight"],
           p + "embeddings.patch_embedding.bias": sd["patch_embed.proj.bias"],
           p + "post_layernorm.weight": sd["norm.weight"], p + "post_layernorm.bias": sd["norm.bias"]}
    out.update(clip_blocks(sd, p))
    if "attn_pool.latent" in sd:  # nn.MultiheadAttention's in_proj holds q, k and v
        h, a = p + "head.", "attn_pool."
        out[h + "probe"] = sd[a + "latent"]
        for kind in ("weight", "bias"):
            out[f"{h}attention.in_proj_{kind}"] = torch.cat([sd[f"{a}q.{kind}"],
                                                             sd[f"{a}kv.{kind}"]])
            out[f"{h}attention.out_proj.{kind}"] = sd[f"{a}proj.{kind}"]
            out[f"{h}layernorm.{kind}"] = sd[f"{a}norm.{kind}"]
            for fc in ("fc1", "fc2"):
                out[f"{h}mlp.{fc}.{kind}"] = sd[f"{a}mlp.{fc}.{kind}"]
    if "head.weight" in sd:
        out["classifier.weight"], out["classifier.bias"] = sd["head.weight"], sd["head.bias"]
    if text_tower:
        out.update({"text_model.embeddings.token_embedding.weight": torch.ones(16, 8),
                    "logit_scale": torch.tensor(2.3026), "logit_bias": torch.tensor([-10.0])})
    return out


def timm_to_hf_siglip2_naflex(sd):
    """transformers' Siglip2Model (google/siglip2-*-naflex) for a timm SigLIP tower: SigLIP's
    names, but the patch embedding a Linear over patches the processor flattens as (row, column,
    channel): [dim, patch * patch * 3]."""
    out = timm_to_hf_siglip(sd)
    w = sd["patch_embed.proj.weight"]  # [dim, 3, patch, patch]
    out["vision_model.embeddings.patch_embedding.weight"] = w.permute(0, 2, 3, 1).reshape(
        w.shape[0], -1)
    return out


def hf_to_timm(sd, prefix="vit."):
    """The inverse of timm_to_hf: Hugging Face ViT names back to timm's (q, k, v joined)."""
    out, p = {}, prefix
    names = {"embeddings.cls_token": "cls_token", "embeddings.position_embeddings": "pos_embed",
             "embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
             "embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
             "layernorm.weight": "norm.weight", "layernorm.bias": "norm.bias"}
    for hf, timm in names.items():
        out[timm] = sd[p + hf]
    block = {"layernorm_before": "norm1", "attention.output.dense": "attn.proj",
             "layernorm_after": "norm2", "intermediate.dense": "mlp.fc1", "output.dense": "mlp.fc2"}
    i = 0
    while f"{p}encoder.layer.{i}.layernorm_before.weight" in sd:
        h, b = f"{p}encoder.layer.{i}.", f"blocks.{i}."
        for hf, timm in block.items():
            for kind in ("weight", "bias"):
                out[f"{b}{timm}.{kind}"] = sd[f"{h}{hf}.{kind}"]
        for kind in ("weight", "bias"):
            out[f"{b}attn.qkv.{kind}"] = torch.cat(
                [sd[f"{h}attention.attention.{part}.{kind}"] for part in ("query", "key", "value")])
        i += 1
    if p + "embeddings.distillation_token" in sd:
        out["dist_token"] = sd[p + "embeddings.distillation_token"]
    heads = {"classifier": "head", "cls_classifier": "head",
             "distillation_classifier": "head_dist"}
    for hf, timm in heads.items():
        if hf + ".weight" in sd:
            out[timm + ".weight"], out[timm + ".bias"] = sd[hf + ".weight"], sd[hf + ".bias"]
    return out


# ---- the checkpoint's own preprocessing, as its authors run it ------------------------------

def timm_eval_transform(pretrained_cfg):
    """timm's eval transform for a config.json pretrained_cfg (timm/data/transforms_factory.py,
    transforms_imagenet_eval), built from torchvision as timm builds it: the shorter side (or,
    for crop_mode "squash", both sides) to floor(size / crop_pct) with Pillow, a centre crop,
    then ToTensor and Normalize."""
    import math

    from torchvision import transforms as T

    modes = {"bilinear": T.InterpolationMode.BILINEAR, "bicubic": T.InterpolationMode.BICUBIC,
             "nearest": T.InterpolationMode.NEAREST, "lanczos": T.InterpolationMode.LANCZOS,
             "box": T.InterpolationMode.BOX, "hamming": T.InterpolationMode.HAMMING}
    size = pretrained_cfg["input_size"][-1]
    crop_pct = pretrained_cfg.get("crop_pct", 0.875)
    interpolation = modes[pretrained_cfg.get("interpolation", "bilinear")]
    scale = math.floor(size / crop_pct)
    if pretrained_cfg.get("crop_mode", "center") == "squash":
        resize = T.Resize((scale, scale), interpolation=interpolation)
    else:
        resize = T.Resize(scale, interpolation=interpolation)
    return T.Compose([resize, T.CenterCrop(size), T.ToTensor(),
                      T.Normalize(pretrained_cfg["mean"], pretrained_cfg["std"])])


def open_clip_transform(preprocess_cfg, size):
    """open_clip's eval transform (transform.py, image_transform with is_train False) for an
    open_clip_config.json preprocess_cfg, built from torchvision as open_clip builds it:
    "shortest" the shorter side to size then a centre crop, "squash" both sides to size,
    "longest" the longer side to size (ResizeKeepRatio with longest=1: each side round(side /
    ratio)) then padded with black to a centred square (CenterCropOrPad: the left and top
    padding rounded down), all with Pillow; ToTensor, Normalize; OpenAI's mean/std and bicubic
    where it says nothing ("random" is bicubic at eval)."""
    from torchvision import transforms as T
    from torchvision.transforms import functional as TF

    modes = {"bilinear": T.InterpolationMode.BILINEAR, "bicubic": T.InterpolationMode.BICUBIC,
             "random": T.InterpolationMode.BICUBIC}
    interpolation = modes[preprocess_cfg.get("interpolation", "bicubic")]
    mode = preprocess_cfg.get("resize_mode", "shortest")

    def letterbox(im):
        w, h = im.size
        ratio = max(w / size, h / size)
        nw, nh = round(w / ratio), round(h / ratio)
        im = TF.resize(im, [nh, nw], interpolation)
        left, top = (size - nw) // 2, (size - nh) // 2
        return TF.pad(im, [left, top, size - nw - left, size - nh - top], fill=0)

    assert mode in ("shortest", "squash", "longest"), mode
    steps = [T.Resize((size, size), interpolation=interpolation)] if mode == "squash" else \
        [letterbox] if mode == "longest" else [T.Resize(size, interpolation=interpolation),
                                               T.CenterCrop(size)]
    return T.Compose(steps + [
        lambda im: im.convert("RGB"), T.ToTensor(),
        T.Normalize(preprocess_cfg.get("mean", (0.48145466, 0.4578275, 0.40821073)),
                    preprocess_cfg.get("std", (0.26862954, 0.26130258, 0.27577711)))])


def hf_preprocess(config, image):
    """transformers' ViT, DeiT, BiT (DINOv2) and CLIP image processors on a PIL image
    (image_processing_*.py, image_transforms.py): resize with Pillow, a centre crop whose
    offsets are rounded down, rescale, normalise. Returns a float32 CHW tensor."""
    import numpy as np
    from PIL import Image

    img = image.convert("RGB")
    kind = config.get("image_processor_type") or config.get("feature_extractor_type") or ""
    # processors that read a plain number as the shortest edge (get_size_dict's
    # default_to_square=False); the others read it as a square
    shortest_default = kind.startswith(("CLIP", "Bit"))

    def size_of(value):
        if isinstance(value, dict):
            if "shortest_edge" in value:
                return value["shortest_edge"], None
            return value["height"], value["width"]
        return (value, None) if shortest_default else (value, value)

    if config.get("do_resize", True):
        h, w = size_of(config.get("size", 224))
        if w is None:  # get_resize_output_image_size: the shorter side to h, aspect kept
            short, long = sorted(img.size)
            new_long = int(h * long / short)
            w, h = (h, new_long) if img.size[0] <= img.size[1] else (new_long, h)
        img = img.resize((w, h), resample=Image.Resampling(config.get("resample", 2)))
    arr = np.array(img)
    if config.get("do_center_crop", False):
        ch, cw = size_of(config.get("crop_size", 224))
        cw = ch if cw is None else cw
        top, left = (arr.shape[0] - ch) // 2, (arr.shape[1] - cw) // 2
        arr = arr[top:top + ch, left:left + cw]
    arr = arr.astype(np.float32)
    if config.get("do_rescale", True):
        arr = arr * np.float32(config.get("rescale_factor", 1 / 255))
    if config.get("do_normalize", True):
        mean = np.array(config.get("image_mean", [0.485, 0.456, 0.406]), dtype=np.float32)
        std = np.array(config.get("image_std", [0.229, 0.224, 0.225]), dtype=np.float32)
        arr = (arr - mean) / std
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def synthetic_photo(width, height, seed):
    """A PIL RGB image with what resampling finds hard in photos: smooth shading, hard-edged
    shapes of many colours, fine stripes (aliasing when shrunk) and sensor-like noise."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    img = np.empty((height, width, 3))
    for c in range(3):
        fx, fy, phase = rng.uniform(0.5, 3), rng.uniform(0.5, 3), rng.uniform(0, 6.3)
        img[..., c] = 128 + 70 * np.sin(6.283 * (fx * x + fy * y) + phase)
    pil = Image.fromarray(img.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(pil)
    for _ in range(12):
        x0, y0 = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(0.03, 0.25) * max(width, height)
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        box = [x0 - r, y0 - r / 2, x0 + r, y0 + r / 2]
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    for i in range(0, width, 3):  # one-pixel stripes in a band
        draw.line([(i, height * 0.45), (i, height * 0.55)], fill=(255, 255, 255))
    arr = np.array(pil).astype(np.float64) + rng.normal(0, 6, (height, width, 3))
    return Image.fromarray(arr.clip(0, 255).round().astype(np.uint8))


# ---- per-op timing for `heed bench` -------------------------------------------------------

def attach_op_timers(model):
    """Accumulates eager-mode time per op family (heed bench's categories) in model.op_ms;
    returns the hooks' handles (remove() each to take the timers off again)."""
    model.op_ms = {}
    handles = []

    def timed(module, kind):
        def pre(_m, _i):
            module._t0 = timer_now()

        def post(_m, _i, _o):
            model.op_ms[kind] = model.op_ms.get(kind, 0.0) + (timer_now() - module._t0) * 1e3

        handles.append(module.register_forward_pre_hook(pre))
        handles.append(module.register_forward_hook(post))

    swin = isinstance(model, SwinTransformer)
    timed(model.patch_embed.proj if swin else model.patch_embed, "patch_embed")
    timed(model.norm, "layernorm")
    if swin:
        timed(model.patch_embed.norm, "layernorm")
        if model.head.fc is not None:
            timed(model.head.fc, "head")
        for stage in model.layers[1:]:  # patch merging: heed counts its GEMM with proj
            timed(stage.downsample.norm, "layernorm")
            timed(stage.downsample.reduction, "proj")
    elif isinstance(model.head, nn.Linear):
        timed(model.head, "head")
    for blk in model.blocks:
        timed(blk.norm1, "layernorm")
        timed(blk.norm2, "layernorm")
        timed(blk.attn.qkv, "qkv")
        timed(blk.attn.proj, "proj")
        timed(blk.mlp.fc1, "fc1")
        timed(blk.mlp.act, "fc1")  # heed fuses GELU into fc1
        timed(blk.mlp.fc2, "fc2")
    return handles


# ---- Swin (hierarchical: windows over shrinking grids) ----------------------------------------

def swin_relative_index(window):
    """[N][N] (N = window^2): token i's and j's row and column offsets as one index into the
    (2 window - 1)^2 rows of the bias table, as Swin's authors number them."""
    rows = torch.arange(window).repeat_interleave(window)
    cols = torch.arange(window).repeat(window)
    dr = rows[:, None] - rows[None, :] + window - 1
    dc = cols[:, None] - cols[None, :] + window - 1
    return dr * (2 * window - 1) + dc


def swin_window_order(grid, window, shift, padded=None, pad_first=False):
    """The grid index (row * grid + column) of each token in window order: the grid rolled
    back by shift on both axes, cut into windows (row-major), each row-major inside. Where the
    windows do not tile the grid it is padded at the bottom and right to `padded`, the padding's
    places -1: after the roll (timm's), or before it, the padded grid rolled (pad_first,
    transformers')."""
    padded = padded or grid
    order = []
    for wr in range(padded // window):
        for wc in range(padded // window):
            for r in range(window):
                for c in range(window):
                    R, C = wr * window + r, wc * window + c
                    if pad_first:
                        R, C = (R + shift) % padded, (C + shift) % padded
                        order.append(R * grid + C if R < grid and C < grid else -1)
                    else:
                        order.append(((R + shift) % grid) * grid + (C + shift) % grid
                                     if R < grid and C < grid else -1)
    return torch.tensor(order)


def swin_shift_mask(grid, window, shift):
    """[windows][N][N]: -100 between two tokens of a shifted window that came from different
    sides of the roll (the three bands of each axis of the rolled grid), else 0."""
    def band(i):
        return 0 if i < grid - window else 1 if i < grid - shift else 2
    region = torch.tensor([band(r) * 3 + band(c) for r in range(grid) for c in range(grid)])
    # the rolled grid's regions, in window order of the rolled grid (no further shift)
    regions = region[swin_window_order(grid, window, 0)].reshape(-1, window * window)
    return (regions[:, :, None] != regions[:, None, :]).float() * -100.0


def swinv2_coords_table(window, pretrained=0):
    """[(2 window - 1)^2][2]: each relative offset (row, column) as Swin V2's position MLP reads
    it: over window - 1 (the pretraining window's, where the model was fine-tuned at a larger
    one), times 8, then log-spaced, sign(t) log2(|t| + 1) / 3; rows in the bias table's order."""
    r = torch.arange(-(window - 1), window, dtype=torch.float32)
    t = torch.stack(torch.meshgrid(r, r, indexing="ij"), -1)
    div = (pretrained if pretrained else window) - 1
    if div > 0:  # a window of 1 has only the offset 0 (transformers' guard)
        t = t / div
    t = t * 8
    return (torch.sign(t) * torch.log2(t.abs() + 1.0) / math.log2(8)).reshape(-1, 2)


class SwinBlock(nn.Module):
    """A Swin block; with v2 (timm's SwinTransformerV2Block) cosine attention (the queries and
    keys of each head at unit length, times exp (logit_scale) up to 100), the bias table made by
    an MLP from the log-spaced offsets (16 sigmoid (cpb_mlp)), the query's and value's biases
    apart (q_bias, v_bias; the key has none) and the norms after the attention and the MLP,
    before each is added (res-post-norm)."""

    def __init__(self, dim, heads, window, shift, eps, grid, v2=False, pretrained_window=0,
                 pad_first=False):
        super().__init__()
        self.heads, self.window, self.shift, self.grid, self.v2 = heads, window, shift, grid, v2
        # the window order (over the grid padded to whole windows: -1 for padding), the table's
        # index and the mask (over the padded grid), made once (not timed, not saved)
        padded = -(-grid // window) * window
        self.register_buffer("order", swin_window_order(grid, window, shift, padded, pad_first),
                             persistent=False)
        self.register_buffer("index", swin_relative_index(window).reshape(-1), persistent=False)
        self.register_buffer("mask", swin_shift_mask(padded, window, shift) if shift else None,
                             persistent=False)
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(dim, 3 * dim, bias=not v2)
        self.attn.proj = nn.Linear(dim, dim)
        if v2:
            self.attn.q_bias = nn.Parameter(torch.zeros(dim))
            self.attn.v_bias = nn.Parameter(torch.zeros(dim))
            self.attn.logit_scale = nn.Parameter(torch.zeros(heads, 1, 1))
            self.attn.cpb_mlp = nn.Sequential(nn.Linear(2, 512), nn.ReLU(),
                                              nn.Linear(512, heads, bias=False))
            self.register_buffer("coords", swinv2_coords_table(window, pretrained_window),
                                 persistent=False)
        else:
            self.attn.relative_position_bias_table = nn.Parameter(
                torch.zeros((2 * window - 1) ** 2, heads))
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, 4 * dim)
        self.last_attn = None

    def forward(self, x, grid):
        B, T, C = x.shape
        N, H, order = self.window ** 2, self.heads, self.order
        real = order >= 0  # padding's places read a zero row put after the tokens
        rows = torch.where(real, order, T)
        a = self.attn
        src = x if self.v2 else self.norm1(x)  # V1 pads the normed tokens
        h = torch.cat((src, src.new_zeros(B, 1, C)), 1)[:, rows].reshape(-1, N, C)
        if self.v2:  # the biases added apart (timm's qkv_bias_separate), through the module
            qkv = a.qkv(h) + torch.cat((a.q_bias, torch.zeros_like(a.q_bias), a.v_bias))
        else:
            qkv = a.qkv(h)
        q, k, v = qkv.reshape(-1, N, 3, H, C // H).permute(2, 0, 3, 1, 4).unbind(0)
        table = 16 * torch.sigmoid(a.cpb_mlp(self.coords)) if self.v2 else \
            a.relative_position_bias_table
        bias = table[self.index].reshape(N, N, H).permute(2, 0, 1)
        t0 = timer_now()
        if self.v2:
            scale = torch.clamp(a.logit_scale, max=math.log(100.0)).exp()
            scores = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1) * scale
            scores = scores + bias
        else:
            scores = (q * (C // H) ** -0.5) @ k.transpose(-2, -1) + bias
        if self.shift:
            scores = (scores.reshape(B, -1, H, N, N) + self.mask[None, :, None]).reshape(-1, H,
                                                                                        N, N)
        attn = scores.softmax(dim=-1)
        self.last_attn = attn
        ctx = (attn @ v).transpose(1, 2).reshape(B, order.numel(), C)
        self.attn.core_seconds = timer_now() - t0
        out = self.attn.proj(ctx)
        x = x.clone()
        if self.v2:
            x[:, order[real]] += self.norm1(out)[:, real]
            return x + self.norm2(self.mlp(x))
        x[:, order[real]] += out[:, real]
        return x + self.mlp(self.norm2(x))


class SwinMerge(nn.Module):
    """Patch merging: each 2 x 2 of tokens as one of 4 x the width, in the order (row, column)
    (0, 0), (1, 0), (0, 1), (1, 1); a LayerNorm, then a Linear to 2 x the width, no bias (v2:
    the Linear, then a LayerNorm of 2 x the width)."""

    def __init__(self, dim, eps, v2=False):
        super().__init__()
        self.v2 = v2
        self.norm = nn.LayerNorm(2 * dim if v2 else 4 * dim, eps=eps)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x, grid):
        B, T, C = x.shape
        x = x.reshape(B, grid, grid, C)
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        x = x.reshape(B, -1, 4 * C)
        return self.norm(self.reduction(x)) if self.v2 else self.reduction(self.norm(x))


class SwinTransformer(nn.Module):
    """Swin (v1, or with v2 timm's SwinTransformerV2) in timm's names (timm 0.9 on:
    layers.S.downsample starts stage S >= 1, the head is head.fc). A stage's window is the grid
    where the grid is no larger, with no shift; odd blocks shift by half a window. A grid the
    windows do not tile is padded with zero tokens to whole windows, after the roll (timm's) or
    before it (pad_first: transformers'). Final LayerNorm on every token, then their mean."""

    def __init__(self, img, patch, dims, depths, heads, window, classes, eps=1e-5, v2=False,
                 pretrained_windows=None, pad_first=False):
        super().__init__()
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, dims[0], kernel_size=patch, stride=patch)
        self.patch_embed.norm = nn.LayerNorm(dims[0], eps=eps)
        self.grids, grid = [], img // patch
        self.layers = nn.ModuleList()
        pretrained = pretrained_windows or [0] * len(dims)
        for s, (dim, depth, h) in enumerate(zip(dims, depths, heads)):
            stage = nn.Module()
            if s:
                stage.downsample = SwinMerge(dims[s - 1], eps, v2)
                grid //= 2
            w = min(window, grid)
            stage.blocks = nn.ModuleList(
                [SwinBlock(dim, h, w, w // 2 if b % 2 and grid > window else 0, eps, grid, v2,
                           pretrained[s], pad_first)
                 for b in range(depth)])
            self.layers.append(stage)
            self.grids.append(grid)
        self.norm = nn.LayerNorm(dims[-1], eps=eps)
        self.head = nn.Module()
        self.head.fc = nn.Linear(dims[-1], classes) if classes else None

    @property
    def blocks(self):
        """Every stage's blocks, in order (heed bench's per-op timers walk them)."""
        return [b for stage in self.layers for b in stage.blocks]

    def forward_features(self, x):
        x = self.patch_embed.norm(self.patch_embed.proj(x).flatten(2).transpose(1, 2))
        for s, stage in enumerate(self.layers):
            if s:
                x = stage.downsample(x, self.grids[s - 1])
            for block in stage.blocks:
                x = block(x, self.grids[s])
        return self.norm(x).mean(1)

    def forward(self, x):
        emb = self.forward_features(x)
        return self.head.fc(emb) if self.head.fc is not None else emb

    def cls_attention(self):
        """The map: the attention each token of the last block receives, averaged over every
        query of the grid (those of other windows give it none) and head, on the grid (the
        first image's)."""
        block = self.layers[-1].blocks[-1]
        Tp, real = block.order.numel(), block.order >= 0  # padding's places dropped
        windows = block.last_attn[:Tp // block.window ** 2]  # [windows][heads][N][N]
        received = windows.sum(dim=2).mean(dim=1).reshape(-1) / Tp  # window order
        grid = received.new_empty(block.grid ** 2)
        grid[block.order[real]] = received[real]
        return grid


def swin_from_state_dict(sd, img=224, window=None, pretrained_windows=None, pad_first=False):
    """The SwinTransformer (timm's names, timm 0.9's layout) a state dict holds, at img px; a
    Swin V2's window (in no tensor) is the caller's, and so is how a grid the windows do not
    tile is padded (pad_first: transformers' way)."""
    dim, _, patch, _ = sd["patch_embed.proj.weight"].shape
    v2 = "layers.0.blocks.0.attn.logit_scale" in sd
    dims, depths, heads, largest = [], [], [], 0
    while f"layers.{len(dims)}.blocks.0.norm1.weight" in sd:
        s = len(dims)
        if v2:
            heads.append(sd[f"layers.{s}.blocks.0.attn.logit_scale"].shape[0])
        else:
            table = sd[f"layers.{s}.blocks.0.attn.relative_position_bias_table"]
            largest = max(largest, int(round((table.shape[0] ** 0.5 + 1) / 2)))
            heads.append(table.shape[1])
        dims.append(sd[f"layers.{s}.blocks.0.norm1.weight"].shape[0])
        depths.append(sum(1 for k in sd if k.startswith(f"layers.{s}.blocks.")
                          and k.endswith(".norm1.weight")))
    head = sd.get("head.fc.weight", sd.get("head.weight"))
    return SwinTransformer(img, patch, dims, depths, heads, window or largest,
                           head.shape[0] if head is not None else 0, v2=v2,
                           pretrained_windows=pretrained_windows, pad_first=pad_first)


def timm_to_hf_swin(sd, windows=None, coords=None):
    """timm's Swin names as transformers' SwinForImageClassification (Swinv2ForImage-
    Classification's, under swinv2., for a V2) has them: the blocks' qkv apart as query, key
    and value, each block's relative_position_index (a buffer transformers saves), the patch
    merging at the end of the stage before. A V2's q_bias and v_bias are the query's and
    value's biases, its cpb_mlp the continuous_position_bias_mlp; a V2's windows (each stage's)
    give its relative_position_index, and coords its relative_coords_table [1, 2 window - 1,
    2 window - 1, 2] for each stage (buffers older files hold), where given."""
    out = {}
    v2 = "layers.0.blocks.0.attn.logit_scale" in sd
    p = "swinv2." if v2 else "swin."
    for name, t in sd.items():
        parts = name.split(".")
        if name.startswith("patch_embed.proj."):
            out[p + "embeddings.patch_embeddings.projection." + parts[-1]] = t
        elif name.startswith("patch_embed.norm."):
            out[p + "embeddings.norm." + parts[-1]] = t
        elif name.startswith("norm."):
            out[p + "layernorm." + parts[-1]] = t
        elif name.startswith("head.fc."):
            out["classifier." + parts[-1]] = t
        elif ".downsample." in name:
            out[f"{p}encoder.layers.{int(parts[1]) - 1}.downsample." + ".".join(parts[3:])] = t
        else:
            b = "{}encoder.layers.{}.blocks.{}.".format(p, parts[1], parts[3])
            rest = ".".join(parts[4:])
            if rest.startswith("attn.qkv."):
                for i, which in enumerate(("query", "key", "value")):
                    out[f"{b}attention.self.{which}.{parts[-1]}"] = t.chunk(3)[i]
            elif rest in ("attn.q_bias", "attn.v_bias"):
                which = "query" if rest == "attn.q_bias" else "value"
                out[f"{b}attention.self.{which}.bias"] = t
            elif rest == "attn.logit_scale":
                out[b + "attention.self.logit_scale"] = t
                if windows:  # a V2's window is in no tensor: the caller's, for each stage
                    index = swin_relative_index(windows[int(parts[1])])
                    out[b + "attention.self.relative_position_index"] = index
                if coords:
                    out[b + "attention.self.relative_coords_table"] = coords[int(parts[1])]
            elif rest.startswith("attn.cpb_mlp."):
                out[b + "attention.self.continuous_position_bias_mlp." + ".".join(parts[6:])] = t
            elif rest == "attn.relative_position_bias_table":
                out[b + "attention.self.relative_position_bias_table"] = t
                window = int(round(((t.shape[0]) ** 0.5 + 1) / 2))
                out[b + "attention.self.relative_position_index"] = swin_relative_index(window)
            else:
                hf = {"norm1": "layernorm_before", "attn.proj": "attention.output.dense",
                      "norm2": "layernorm_after", "mlp.fc1": "intermediate.dense",
                      "mlp.fc2": "output.dense"}[rest.rsplit(".", 1)[0]]
                out[f"{b}{hf}.{parts[-1]}"] = t
    return out


def hf_swin_visual(sd, x, config, pad_first=True):
    """transformers' SwinModel's forward (Swinv2Model's where config's model_type is swinv2),
    written from its modules on its own names: the cyclic shift as torch.roll,
    window_partition and window_reverse, the mask from the rolled grid's slices (added twice
    in a V2, as Swinv2SelfAttention does); returns the pooled output (the mean of the normed
    tokens). A grid the windows do not tile is padded with zeros at the bottom and right
    (SwinLayer.maybe_pad) before the roll, the mask made over the padded grid, the output cut
    back after the roll back; with pad_first False the padding comes after the roll and goes
    before the roll back, the mask still over the padded grid, as timm's
    SwinTransformerBlock._attn does."""
    eps = config["layer_norm_eps"]
    v2 = config.get("model_type") == "swinv2"
    pre = "swinv2." if v2 else "swin."

    def ln(t, p):
        return F.layer_norm(t, t.shape[-1:], sd[p + ".weight"], sd[p + ".bias"], eps)

    def partition(t, w):  # [B, G, G, C] -> [B * windows, w * w, C]
        B, G, _, C = t.shape
        t = t.view(B, G // w, w, G // w, w, C).permute(0, 1, 3, 2, 4, 5)
        return t.reshape(-1, w * w, C)

    def reverse(t, w, G):
        C = t.shape[-1]
        t = t.view(-1, G // w, G // w, w, w, C).permute(0, 1, 3, 2, 4, 5)
        return t.reshape(-1, G, G, C)

    def v2_bias(q, w, pretrained):  # Swinv2SelfAttention's relative_coords_table through the MLP
        r = torch.arange(-(w - 1), w, dtype=torch.int64).float()
        table = torch.stack(torch.meshgrid([r, r], indexing="ij")).permute(1, 2, 0).contiguous()
        table = table.unsqueeze(0)
        if pretrained > 0:
            table[:, :, :, 0] /= pretrained - 1
            table[:, :, :, 1] /= pretrained - 1
        elif w > 1:
            table[:, :, :, 0] /= w - 1
            table[:, :, :, 1] /= w - 1
        table *= 8
        table = torch.sign(table) * torch.log2(torch.abs(table) + 1.0) / math.log2(8)
        m = q + "attention.self.continuous_position_bias_mlp."
        out = F.linear(F.relu(F.linear(table, sd[m + "0.weight"], sd[m + "0.bias"])),
                       sd[m + "2.weight"]).view(-1, heads)
        return 16 * torch.sigmoid(out)

    p = pre + "embeddings."
    h = F.conv2d(x, sd[p + "patch_embeddings.projection.weight"],
                 sd[p + "patch_embeddings.projection.bias"], stride=config["patch_size"])
    grid = h.shape[-1]
    h = ln(h.flatten(2).transpose(1, 2), p + "norm")
    pretrained_windows = config.get("pretrained_window_sizes") or [0] * len(config["depths"])
    for s, depth in enumerate(config["depths"]):
        heads = config["num_heads"][s]
        w = min(config["window_size"], grid)
        padded = -(-grid // w) * w
        pad = (0, 0, 0, padded - grid, 0, padded - grid)
        for b in range(depth):
            shift = config["window_size"] // 2 if b % 2 and grid > config["window_size"] else 0
            q = f"{pre}encoder.layers.{s}.blocks.{b}."
            B, T, C = h.shape
            y = (h if v2 else ln(h, q + "layernorm_before")).view(B, grid, grid, C)
            if pad_first:
                y = F.pad(y, pad)
            if shift:
                y = torch.roll(y, shifts=(-shift, -shift), dims=(1, 2))
            if not pad_first:
                y = F.pad(y, pad)
            y = partition(y, w)
            proj = [F.linear(y, sd[f"{q}attention.self.{n}.weight"],
                             sd.get(f"{q}attention.self.{n}.bias")).view(
                                 y.shape[0], -1, heads, C // heads).transpose(1, 2)
                    for n in ("query", "key", "value")]
            if v2:
                scores = F.normalize(proj[0], dim=-1) @ F.normalize(proj[1], dim=-1).transpose(
                    -2, -1)
                scale = torch.clamp(sd[q + "attention.self.logit_scale"],
                                    max=math.log(1.0 / 0.01)).exp()
                scores = scores * scale
                table = v2_bias(q, w, pretrained_windows[s])
            else:
                scores = proj[0] @ proj[1].transpose(-1, -2) / (C // heads) ** 0.5
                table = sd[q + "attention.self.relative_position_bias_table"]
            index = swin_relative_index(w)  # the module's, for its window
            bias = table[index.view(-1)].view(w * w, w * w, -1).permute(2, 0, 1)
            scores = scores + bias
            if shift:
                img = torch.zeros(1, padded, padded, 1)
                count = 0
                for hs in (slice(0, -w), slice(-w, -shift), slice(-shift, None)):
                    for ws in (slice(0, -w), slice(-w, -shift), slice(-shift, None)):
                        img[:, hs, ws, :] = count
                        count += 1
                mw = partition(img, w).view(-1, w * w)
                mask = (mw.unsqueeze(1) - mw.unsqueeze(2))
                mask = mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)
                n = mask.shape[0]
                scores = (scores.view(-1, n, heads, w * w, w * w) + mask.unsqueeze(1).unsqueeze(0))
                if v2:
                    scores = scores + mask.unsqueeze(1).unsqueeze(0)
                scores = scores.view(-1, heads, w * w, w * w)
            ctx = (scores.softmax(-1) @ proj[2]).transpose(1, 2).reshape(-1, w * w, C)
            ctx = F.linear(ctx, sd[q + "attention.output.dense.weight"],
                           sd[q + "attention.output.dense.bias"])
            ctx = reverse(ctx.view(-1, w, w, C), w, padded)
            if not pad_first:
                ctx = ctx[:, :grid, :grid]
            if shift:
                ctx = torch.roll(ctx, shifts=(shift, shift), dims=(1, 2))
            ctx = ctx[:, :grid, :grid].reshape(B, T, C)
            h = h + (ln(ctx, q + "layernorm_before") if v2 else ctx)
            m = F.gelu(F.linear(h if v2 else ln(h, q + "layernorm_after"),
                                sd[q + "intermediate.dense.weight"],
                                sd[q + "intermediate.dense.bias"]))
            m = F.linear(m, sd[q + "output.dense.weight"], sd[q + "output.dense.bias"])
            h = h + (ln(m, q + "layernorm_after") if v2 else m)
        if s < len(config["depths"]) - 1:
            d = f"{pre}encoder.layers.{s}.downsample."
            B, T, C = h.shape
            g = h.view(B, grid, grid, C)
            g = torch.cat([g[:, 0::2, 0::2], g[:, 1::2, 0::2], g[:, 0::2, 1::2], g[:, 1::2, 1::2]],
                          -1).view(B, -1, 4 * C)
            if v2:
                h = ln(F.linear(g, sd[d + "reduction.weight"]), d + "norm")
            else:
                h = F.linear(ln(g, d + "norm"), sd[d + "reduction.weight"])
            grid //= 2
    return ln(h, pre + "layernorm").mean(1)
