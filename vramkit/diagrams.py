"""Explanatory diagrams as SVG, drawn from vramkit's own numbers so that they cannot drift.

Each function takes a `ModelSpec` (or plain numbers) and a language ("ko" or "en") and returns an
SVG document as a string: every shape and size printed on it comes from the spec and vramkit's
functions (parameter shapes, KV bytes per token, vLLM's page size, ZeRO's model states), every word
from `vramkit.units.LABELS`. A chapter shows one with `IPython.display.SVG(diagram)`, which renders
in the HTML book, Jupyter and Colab alike. Plain strings, no drawing library.

    decoder_layer(spec, lang)   one decoder layer, its linears and tensor shapes
    gqa_heads(spec, lang)       which query heads share which KV head
    mla_cache(spec, lang)       MLA: the cached latent beside the per-head K and V it expands to
    paged_kv(spec, lang)        vLLM's paged KV cache: a few sequences in fixed-size blocks
    zero_stages(params, gpus, lang)   what each GPU holds under ZeRO stages 0-3
"""
from __future__ import annotations

from html import escape

from .book import check_lang
from .errors import VramkitError
from .model import ModelSpec
from .units import fmt_bytes, label

FONT = "DejaVu Sans, Noto Sans CJK KR, Malgun Gothic, Apple SD Gothic Neo, sans-serif"
# colours of the book's charts (vramkit.charts uses the same tableau palette)
BLUE, ORANGE, GREEN, RED, PURPLE, GREY = "#4c78a8", "#f58518", "#54a24b", "#e45756", "#b279a2", "#bab0ac"
LIGHT = {BLUE: "#c6d5e8", ORANGE: "#fcd7b0", GREEN: "#cbe3c7", RED: "#f5c2c1", PURPLE: "#e3cde0", GREY: "#e8e4e2"}


# ---- SVG primitives ------------------------------------------------------------------------

def _svg(width: int, height: int, title: str, body: list[str], kind: str) -> str:
    """The document; its arrow marker gets an id of its own (`kind`), so that several diagrams
    inlined in one HTML page never resolve each other's markers."""
    marker = f"vk-arrow-{kind}"
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" font-family="{FONT}" font-size="13">\n'
            f"<title>{escape(title)}</title>\n"
            f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
            'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>\n'
            + "\n".join(body).replace("url(#arrow)", f"url(#{marker})") + "\n</svg>")


def _rect(x, y, w, h, fill, stroke="#555", rx=4, opacity=None) -> str:
    op = f' fill-opacity="{opacity}"' if opacity is not None else ""
    return (f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h:.1f}" rx="{rx}" '
            f'fill="{fill}"{op} stroke="{stroke}"/>')


def _text(x, y, s, size=13, anchor="middle", weight="normal", fill="#222") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}">{escape(str(s))}</text>')


def _line(x1, y1, x2, y2, color="#555", width=1.2, arrow=False) -> str:
    end = ' marker-end="url(#arrow)"' if arrow else ""
    return (f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{color}" '
            f'stroke-width="{width}"{end}/>')


def _box(x, y, w, h, fill, lines, size=12) -> list[str]:
    """A box with one or more centred lines of text."""
    out = [_rect(x, y, w, h, fill)]
    step = size + 3
    top = y + h / 2 - (len(lines) - 1) * step / 2 + size / 3
    out += [_text(x + w / 2, top + i * step, s, size) for i, s in enumerate(lines)]
    return out


def _text_width(s: str, size: int) -> float:
    """About how wide `s` renders at `size` px: Hangul and other wide characters take about a full em."""
    return sum(size * (1.0 if ord(ch) > 0x2E80 else 0.6) for ch in s)


def _n(x: int) -> str:
    return f"{x:,}"


# ---- a decoder layer -------------------------------------------------------------------------

def decoder_layer(spec: ModelSpec, lang: str = "en", name: str = "") -> str:
    """One decoder layer of `spec` as transformers builds it: norms, the attention linears with
    their (in -> out) widths, attention with its heads, the MLP linears, the residual adds, and
    the tensor shape [tokens, width] on each arrow. Widths come from `training.linear_shapes`."""
    from .training import linear_shapes

    check_lang(lang)
    if spec.is_moe or spec.is_mla or spec.is_hybrid:
        raise VramkitError(f"{name or spec.model_type}: decoder_layer draws dense attention + MLP layers; "
                           "expected a dense decoder (no MoE, MLA or hybrid layers)")
    shapes = linear_shapes(spec)
    attn = [s for s in shapes if s[0] in ("q", "k", "v", "qkv")]
    o_proj = next(s for s in shapes if s[0] == "o")
    mlp_in = [s for s in shapes if s[0] in ("gate", "up", "gate_up")]
    down = next(s for s in shapes if s[0] == "down")
    h = spec.hidden_size
    W, cx, bw = 720, 330, 150
    body: list[str] = []
    title = label("dg_layer_title", lang, model=name or spec.model_type, layers=spec.num_layers)
    body.append(_text(W / 2, 22, title, 15, weight="bold"))
    y = 40

    def shape(y, width, note=""):
        body.append(_text(cx - 10, y, f"[s, {_n(width)}]" + (f"  {note}" if note else ""), 11, "end", fill="#444"))

    def arrow(y1, y2):
        body.append(_line(cx, y1, cx, y2, arrow=True))

    norm = label("dg_rmsnorm" if not spec.norm_bias else "dg_layernorm", lang)
    # residual stream in
    body += _box(cx - bw / 2, y, bw, 28, LIGHT[GREY], [label("dg_hidden_in", lang)])
    arrow(y + 28, y + 52); shape(y + 44, h); y += 52
    res1_y = y - 12
    body += _box(cx - bw / 2, y, bw, 26, LIGHT[PURPLE], [norm]); arrow(y + 26, y + 50); y += 50
    # q, k, v side by side
    n = len(attn)
    gap, w3 = 14, 180
    total = n * w3 + (n - 1) * gap
    x0 = cx - total / 2
    for j, (nm, fin, fout) in enumerate(attn):
        bx = x0 + j * (w3 + gap)
        heads = {"q": spec.num_heads, "k": spec.num_kv_heads, "v": spec.num_kv_heads}.get(nm)
        sub = f"{heads} × {spec.head_dim if nm != 'v' else spec.value_head_dim}" if heads else ""
        body += _box(bx, y, w3, 40, LIGHT[BLUE], [f"{nm}_proj {_n(fin)} → {_n(fout)}",
                                                  label("dg_heads_times_dim", lang, shape=sub) if sub else ""])
        body.append(_line(bx + w3 / 2, y + 40, cx, y + 70, arrow=True))
    y += 72
    attn_lines = [label("dg_attention_box", lang, q=spec.num_heads, kv=spec.num_kv_heads),
                  f"softmax(QKᵀ / √{spec.head_dim}) · V"]
    body += _box(cx - 170, y, 340, 40, LIGHT[ORANGE], attn_lines)
    arrow(y + 40, y + 64); shape(y + 56, o_proj[1]); y += 64
    body += _box(cx - bw / 2 - 20, y, bw + 40, 26, LIGHT[BLUE], [f"o_proj {_n(o_proj[1])} → {_n(o_proj[2])}"])
    arrow(y + 26, y + 46); y += 46
    body.append(f'<circle cx="{cx}" cy="{y + 10}" r="10" fill="white" stroke="#555"/>')
    body.append(_text(cx, y + 15, "+", 15))
    add1 = y + 10
    # residual bypass on the right
    rx = cx + 250
    body.append(f'<path d="M{cx},{res1_y} H{rx} V{add1} H{cx + 10}" fill="none" stroke="#888" '
                f'stroke-dasharray="4 3" marker-end="url(#arrow)"/>')
    body.append(_text(rx + 6, (res1_y + add1) / 2, label("dg_residual", lang), 11, "start", fill="#666"))
    arrow(y + 20, y + 44); shape(y + 36, h); y += 44
    res2_y = y - 10
    body += _box(cx - bw / 2, y, bw, 26, LIGHT[PURPLE], [norm]); arrow(y + 26, y + 50); y += 50
    n = len(mlp_in)
    w2 = 200
    total = n * w2 + (n - 1) * gap
    x0 = cx - total / 2
    for j, (nm, fin, fout) in enumerate(mlp_in):
        bx = x0 + j * (w2 + gap)
        body += _box(bx, y, w2, 28, LIGHT[GREEN], [f"{nm}_proj {_n(fin)} → {_n(fout)}"])
        body.append(_line(bx + w2 / 2, y + 28, cx, y + 56, arrow=True))
    y += 58
    act = label("dg_gated_act" if spec.mlp_gated else "dg_act", lang)
    body += _box(cx - 110, y, 220, 26, LIGHT[GREEN], [act])
    arrow(y + 26, y + 50); shape(y + 42, spec.intermediate_size); y += 50
    body += _box(cx - bw / 2 - 20, y, bw + 40, 26, LIGHT[GREEN], [f"down_proj {_n(down[1])} → {_n(down[2])}"])
    arrow(y + 26, y + 46); y += 46
    body.append(f'<circle cx="{cx}" cy="{y + 10}" r="10" fill="white" stroke="#555"/>')
    body.append(_text(cx, y + 15, "+", 15))
    add2 = y + 10
    body.append(f'<path d="M{cx},{res2_y} H{rx} V{add2} H{cx + 10}" fill="none" stroke="#888" '
                f'stroke-dasharray="4 3" marker-end="url(#arrow)"/>')
    arrow(y + 20, y + 44); shape(y + 36, h); y += 44
    body += _box(cx - bw / 2, y, bw, 28, LIGHT[GREY], [label("dg_hidden_out", lang)])
    y += 28
    # the repeat bracket on the left
    lx = 40
    body.append(f'<path d="M{lx + 14},{res1_y - 6} H{lx} V{y - 34} H{lx + 14}" fill="none" stroke="#555"/>')
    body.append(_text(lx - 4, (res1_y + y) / 2, label("dg_times_layers", lang, layers=spec.num_layers),
                      12, "middle", "bold").replace("<text ", f'<text transform="rotate(-90 {lx - 4} {(res1_y + y) / 2:.1f})" ', 1))
    body.append(_text(W / 2, y + 24, label("dg_layer_note", lang, params=_n(spec.layer_params(0))), 11, fill="#444"))
    return _svg(W, int(y + 36), title, body, "layer")


# ---- GQA -----------------------------------------------------------------------------------

def gqa_heads(spec: ModelSpec, lang: str = "en", name: str = "", kv_dtype: str = "bf16") -> str:
    """Query heads above, KV heads below, a line from each query head to the KV head it reads
    (head i reads KV head i // (heads / kv_heads), as transformers' repeat_kv lays them out), and
    the KV bytes per token beside what they would be with one KV head per query head."""
    from .inference import kv_bytes_per_token

    check_lang(lang)
    if spec.is_mla:
        raise VramkitError(f"{name or spec.model_type}: an MLA model caches a latent, not KV heads; use mla_cache")
    q, kv = spec.num_heads, spec.num_kv_heads
    group = q // kv
    W = 760
    cell = min(22.0, (W - 80) / q)
    size = max(cell - 3, 2.0)
    x0 = (W - q * cell) / 2
    title = label("dg_gqa_title", lang, model=name or spec.model_type)
    body = [_text(W / 2, 22, title, 15, weight="bold")]
    yq, ykv = 60, 170
    body.append(_text(W / 2, yq - 10, label("dg_query_heads", lang, n=q, dim=spec.head_dim), 12))
    kv_cell = q * cell / kv
    for i in range(q):
        x = x0 + i * cell
        j = i // group
        body.append(_rect(x, yq, size, size, LIGHT[BLUE], BLUE, rx=2))
        kx = x0 + j * kv_cell + kv_cell / 2
        body.append(_line(x + size / 2, yq + size, kx, ykv, color=ORANGE if j % 2 else BLUE, width=0.8))
    for j in range(kv):
        x = x0 + j * kv_cell + max(kv_cell / 2 - 14, 1)
        body.append(_rect(x, ykv, min(28, kv_cell - 2), 22, LIGHT[ORANGE] if j % 2 else LIGHT[GREEN], "#555", rx=2))
    body.append(_text(W / 2, ykv + 42, label("dg_kv_heads", lang, n=kv, group=group), 12))
    mha = spec.with_changes(num_kv_heads=q)
    ours, full = kv_bytes_per_token(spec, kv_dtype), kv_bytes_per_token(mha, kv_dtype)
    body.append(_text(W / 2, ykv + 66, label("dg_gqa_bytes", lang, ours=fmt_bytes(ours, "KiB", 0),
                                             full=fmt_bytes(full, "KiB", 0), ratio=full // ours,
                                             dtype=kv_dtype), 12, weight="bold"))
    return _svg(W, ykv + 84, title, body, "gqa")


# ---- MLA -----------------------------------------------------------------------------------

def mla_cache(spec: ModelSpec, lang: str = "en", name: str = "", kv_dtype: str = "bf16") -> str:
    """MLA (DeepSeek): what the cache holds per token and layer (the normed latent c_KV and the
    shared rotary key) beside the per-head K and V that kv_b_proj expands it to inside attention,
    with bar lengths to scale."""
    from .inference import kv_bytes_per_token, kv_elements_per_token

    check_lang(lang)
    if not spec.is_mla:
        raise VramkitError(f"{name or spec.model_type}: not an MLA model (kv_lora_rank is 0); expected e.g. deepseek-v3")
    r, rope, heads = spec.kv_lora_rank, spec.qk_rope_head_dim, spec.num_heads
    nope, vdim = spec.head_dim - rope, spec.value_head_dim
    cached = kv_elements_per_token(spec, 0)                       # latent + rope key (+ DSA indexer key)
    expanded = heads * (spec.head_dim + vdim)
    W = 760
    title = label("dg_mla_title", lang, model=name or spec.model_type)
    body = [_text(W / 2, 22, title, 15, weight="bold")]
    # the projections
    y = 46
    body += _box(20, y, 170, 40, LIGHT[GREY], [label("dg_hidden_token", lang), f"[{_n(spec.hidden_size)}]"])
    body.append(_line(190, y + 20, 230, y + 20, arrow=True))
    body += _box(230, y, 210, 40, LIGHT[BLUE], ["kv_a_proj_with_mqa", f"{_n(spec.hidden_size)} → {_n(r)} + {_n(rope)}"])
    body.append(_line(440, y + 20, 480, y + 20, arrow=True))
    body += _box(480, y, 260, 40, LIGHT[GREEN], [label("dg_mla_cached", lang),
                                                  f"c_KV {_n(r)} + k_rope {_n(rope)} = {_n(cached)}"])
    y += 60
    body.append(_line(610, y - 20, 610, y + 10, arrow=True))
    body += _box(430, y + 10, 310, 40, LIGHT[ORANGE], ["kv_b_proj (" + label("dg_mla_inside", lang) + ")",
                                                        f"{_n(r)} → {heads} × ({_n(nope)} + {_n(vdim)})"])
    # bars to scale
    y += 80
    scale = (W - 60) / expanded
    body.append(_text(30, y, label("dg_mla_bar_cached", lang, n=_n(cached)), 12, "start"))
    body.append(_rect(30, y + 6, max(cached * scale, 2), 18, GREEN, GREEN, rx=1))
    y += 46
    body.append(_text(30, y, label("dg_mla_bar_expanded", lang, n=_n(expanded), heads=heads,
                                   k=_n(spec.head_dim), v=_n(vdim)), 12, "start"))
    body.append(_rect(30, y + 6, expanded * scale, 18, ORANGE, ORANGE, rx=1))
    y += 48
    per_token = kv_bytes_per_token(spec, kv_dtype)
    body.append(_text(W / 2, y, label("dg_mla_bytes", lang, ours=fmt_bytes(per_token, "KiB", 1),
                                      full=fmt_bytes(per_token * expanded // cached, "MiB", 2),
                                      ratio=f"{expanded / cached:.0f}", layers=spec.num_layers, dtype=kv_dtype),
                      12, weight="bold"))
    return _svg(W, y + 18, title, body, "mla")


# ---- vLLM's paged KV cache -------------------------------------------------------------------

def page_table(lengths, block_size: int) -> list[list[int]]:
    """Physical block ids of each sequence when all grow one token per step from the start:
    a sequence takes the next free block when its token count passes a multiple of block_size,
    so concurrent sequences' blocks interleave in the pool (as vLLM's free-block queue hands
    them out). Returns one list of block ids per sequence."""
    tables: list[list[int]] = [[] for _ in lengths]
    free = 0
    for t in range(max(lengths)):
        for i, n in enumerate(lengths):
            if t < n and t % block_size == 0:
                tables[i].append(free)
                free += 1
    return tables


def paged_kv(spec: ModelSpec, lang: str = "en", name: str = "", lengths=(37, 20, 53), block_size: int | None = None,
             kv_dtype: str = "bf16") -> str:
    """A few sequences of `lengths` tokens in vLLM's paged KV cache: each sequence's blocks of
    `block_size` tokens (vLLM's default when None), where they sit in the shared pool, the slots
    left empty in each last block, and the bytes of one block of `spec` across all its layers."""
    from .engines.vllm import DEFAULT_BLOCK_SIZE
    from .inference import kv_bytes_per_token

    check_lang(lang)
    if spec.architecture != "decoder" or not spec.attention_layer_count:
        raise VramkitError(f"{name or spec.model_type}: paged_kv draws a decoder's KV cache; this model keeps none")
    bs = block_size or DEFAULT_BLOCK_SIZE
    lengths = [int(n) for n in lengths]
    if not lengths or min(lengths) < 1 or bs < 1:
        raise VramkitError("paged_kv: expected positive sequence lengths and block size")
    tables = page_table(lengths, bs)
    n_blocks = sum(len(t) for t in tables)
    colors = [BLUE, ORANGE, GREEN, RED, PURPLE]
    W = 760
    title = label("dg_paged_title", lang, model=name or spec.model_type, bs=bs)
    body = [_text(W / 2, 22, title, 15, weight="bold")]
    slot = min(6.0, (W - 200) / (max(len(t) for t in tables) * bs + 4))
    y = 50
    for i, (n, table) in enumerate(zip(lengths, tables)):
        c = colors[i % len(colors)]
        body.append(_text(20, y + 14, label("dg_sequence", lang, i=i + 1, n=n), 12, "start"))
        for k, block in enumerate(table):
            x = 170 + k * (bs * slot + 8)
            used = min(bs, n - k * bs)
            body.append(_rect(x, y, bs * slot, 20, "white", "#555", rx=2))
            body.append(_rect(x, y, used * slot, 20, LIGHT[c], c, rx=2))
            body.append(_text(x + bs * slot / 2, y + 34, f"#{block}", 10, fill="#444"))
        y += 48
    # the pool
    y += 10
    body.append(_text(20, y + 14, label("dg_pool", lang), 12, "start", "bold"))
    owner = {b: i for i, t in enumerate(tables) for b in t}
    cw = min(40.0, (W - 190) / n_blocks)
    for b in range(n_blocks):
        c = colors[owner[b] % len(colors)]
        body.append(_rect(170 + b * cw, y, cw - 3, 22, LIGHT[c], c, rx=2))
        body.append(_text(170 + b * cw + (cw - 3) / 2, y + 15, str(b), 10))
    y += 46
    empty = n_blocks * bs - sum(lengths)
    block_bytes = kv_bytes_per_token(spec, kv_dtype, engine="vllm") * bs
    body.append(_text(W / 2, y, label("dg_paged_block_bytes", lang, bs=bs, bytes=fmt_bytes(block_bytes, "MiB", 2),
                                      layers=spec.num_layers, dtype=kv_dtype), 12, weight="bold"))
    body.append(_text(W / 2, y + 20, label("dg_paged_waste", lang, blocks=n_blocks, empty=empty,
                                           tokens=sum(lengths)), 12))
    return _svg(W, int(y + 34), title, body, "paged")


# ---- ZeRO ----------------------------------------------------------------------------------

def zero_stages(params: int, gpus: int, lang: str = "en", k: int = 12, shown: int = 4) -> str:
    """What each GPU holds under ZeRO stages 0-3 (the ZeRO paper's Figure 1): 16-bit weights
    (2 bytes per parameter), 16-bit gradients (2) and K bytes of fp32 optimizer states, each a
    bar; a GPU's own shard is the dark slice of a sharded bar (1/gpus of it). Per-GPU totals from
    `training.zero_model_states`. Draws the first `shown` - 1 GPUs and the last."""
    from .training import zero_model_states

    check_lang(lang)
    if gpus < 2:
        raise VramkitError(f"zero_stages: expected at least 2 GPUs, got {gpus}")
    cols = list(range(min(shown, gpus) - 1)) + [gpus - 1]
    W = 760
    colw = (W - 230) / len(cols)
    unit = (colw - 20) / (k + 4)                      # pixels per byte of a parameter
    title = label("dg_zero_title", lang, params=f"{params / 1e9:g}B", gpus=gpus, k=k)
    body = [_text(W / 2, 22, title, 15, weight="bold")]
    for c, g in enumerate(cols):
        body.append(_text(180 + c * colw + colw / 2, 48, f"GPU {g}", 12, weight="bold"))
    if len(cols) < gpus:
        body.append(_text(180 + (len(cols) - 1) * colw, 48, "…", 14))
    parts = [("weights", 2, BLUE), ("gradients", 2, ORANGE), ("optimizer", k, GREEN)]
    y = 60
    for stage in range(4):
        sharded = {0: set(), 1: {"optimizer"}, 2: {"optimizer", "gradients"},
                   3: {"optimizer", "gradients", "weights"}}[stage]
        total = zero_model_states(params, stage, gpus, k)
        body.append(_text(16, y + 24, label("dg_zero_stage", lang, stage=stage), 13, "start", "bold"))
        body.append(_text(16, y + 42, label("dg_per_gpu", lang, bytes=fmt_bytes(total, "GB", 1)), 12, "start"))
        for c, g in enumerate(cols):
            x = 180 + c * colw + 10
            for r, (key, nbytes, color) in enumerate(parts):
                by, bw = y + 6 + r * 16, nbytes * unit
                if key in sharded:
                    body.append(_rect(x, by, bw, 12, LIGHT[color], LIGHT[color], rx=1, opacity=0.5))
                    sw = max(bw / gpus, 2.0)
                    body.append(_rect(x + g * (bw - sw) / max(gpus - 1, 1), by, sw, 12, color, color, rx=0))
                else:
                    body.append(_rect(x, by, bw, 12, color, color, rx=1))
        y += 66
    lx = 120
    for key, nbytes, color in parts:
        body.append(_rect(lx, y + 4, 14, 12, color, color, rx=1))
        text = label("dg_zero_legend", lang, what=label(key, lang), b=nbytes)
        body.append(_text(lx + 20, y + 14, text, 12, "start"))
        lx += 36 + _text_width(text, 12)
    body.append(_text(W / 2, y + 40, label("dg_zero_note", lang), 11, fill="#444"))
    return _svg(W, y + 54, title, body, "zero")
