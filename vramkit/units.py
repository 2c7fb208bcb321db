"""Formatting, kept apart from computing.

Every vramkit function returns bytes as exact ints; this module turns them into text for people,
with an honest unit: GiB is 2**30 bytes, GB is 10**9. It also holds the Korean and English labels
that charts, tables and widgets use, so a chapter twin only changes the `lang` it passes.
"""
from __future__ import annotations

GIB = 2**30
GB = 10**9
MIB = 2**20

LANGS = ("ko", "en")

LABELS: dict[str, dict[str, str]] = {
    "weights": {"ko": "가중치", "en": "weights"},
    "kv_cache": {"ko": "KV 캐시", "en": "KV cache"},
    "activations": {"ko": "활성값", "en": "activations"},
    "overhead": {"ko": "런타임 오버헤드", "en": "runtime overhead"},
    "total": {"ko": "합계", "en": "total"},
    "gradients": {"ko": "그래디언트", "en": "gradients"},
    "optimizer": {"ko": "옵티마이저 상태", "en": "optimizer states"},
    "temporary": {"ko": "임시 텐서", "en": "temporaries"},
    "params": {"ko": "파라미터 수", "en": "parameters"},
    "active_params": {"ko": "활성 파라미터 수", "en": "active parameters"},
    "embedding": {"ko": "임베딩", "en": "embedding"},
    "attention": {"ko": "어텐션", "en": "attention"},
    "mlp": {"ko": "MLP", "en": "MLP"},
    "experts": {"ko": "전문가(MoE)", "en": "experts (MoE)"},
    "router": {"ko": "라우터", "en": "router"},
    "norms": {"ko": "정규화", "en": "norms"},
    "lm_head": {"ko": "출력층(lm_head)", "en": "output head (lm_head)"},
    "mixer": {"ko": "혼합기(Mamba·선형 어텐션·합성곱) 선형층", "en": "mixer linears (Mamba, linear attention, conv)"},
    "mixer_other": {"ko": "혼합기의 합성곱 커널·A_log·D·정규화", "en": "mixer conv kernels, A_log, D, norms"},
    "kv_attention": {"ko": "어텐션 층의 K/V", "en": "K/V of the attention layers"},
    "mixer_state": {"ko": "합성곱·순환 상태(고정)", "en": "conv + recurrent state (constant)"},
    "all_attention": {"ko": "모든 층이 어텐션이었다면", "en": "if every layer were attention"},
    "cache_part": {"ko": "캐시에 든 것", "en": "what the cache holds"},
    "position": {"ko": "위치 임베딩", "en": "position embedding"},
    "context": {"ko": "컨텍스트 길이(토큰)", "en": "context length (tokens)"},
    "batch": {"ko": "배치 크기", "en": "batch size"},
    "memory_gib": {"ko": "메모리(GiB)", "en": "memory (GiB)"},
    "memory_gb": {"ko": "메모리(GB)", "en": "memory (GB)"},
    "component": {"ko": "구성 요소", "en": "component"},
    "model": {"ko": "모델", "en": "model"},
    "gpu": {"ko": "GPU", "en": "GPU"},
    "format": {"ko": "형식", "en": "format"},
    "bits": {"ko": "비트", "en": "bits"},
    "fits": {"ko": "들어감", "en": "fits"},
    "does_not_fit": {"ko": "안 들어감", "en": "does not fit"},
    # the same verdicts as a sentence in prose (a table's cell label is not a sentence)
    "fits_sentence": {"ko": "들어갑니다", "en": "It fits"},
    "does_not_fit_sentence": {"ko": "들어가지 않습니다", "en": "It does not fit"},
    "bytes_per_param": {"ko": "파라미터당 바이트", "en": "bytes per parameter"},
    "error": {"ko": "오차", "en": "error"},
    "tokens_per_s": {"ko": "초당 토큰", "en": "tokens per second"},
    "share_of_params": {"ko": "파라미터 비율", "en": "share of parameters"},
    "best_format": {"ko": "들어가는 최선의 형식", "en": "best format that fits"},
    "usable_memory_gb": {"ko": "쓸 수 있는 메모리(GB)", "en": "usable memory (GB)"},
    # chapters 04 (KV cache) and 06 (speed)
    "kv_of_batch": {"ko": "배치 전체의 KV 캐시", "en": "KV cache of the batch"},
    "series": {"ko": "항목", "en": "series"},
    "engine": {"ko": "엔진", "en": "engine"},
    "intensity": {"ko": "산술 강도(FLOP/바이트)", "en": "arithmetic intensity (FLOPs/byte)"},
    "tflops": {"ko": "낼 수 있는 연산 속도(TFLOP/s)", "en": "attainable TFLOP/s"},
    "workload": {"ko": "작업", "en": "workload"},
    "bound": {"ko": "한계", "en": "bound by"},
    "memory_bound": {"ko": "메모리 대역폭", "en": "memory bandwidth"},
    "compute_bound": {"ko": "연산", "en": "compute"},
    "gpu_layers": {"ko": "GPU에 올린 층 수", "en": "layers on the GPU"},
    "max_gpu_layers": {"ko": "GPU에 들어가는 최대 층 수", "en": "most layers that fit"},
    "experts_touched": {"ko": "MoE 층당 읽는 전문가 수", "en": "experts read per MoE layer"},
    "tokens_per_s_k_only": {"ko": "초당 토큰(전문가 k개만 읽는다고 칠 때)", "en": "tokens per second (reading only k experts)"},
    # quantized checkpoints (chapter 03)
    "checkpoint": {"ko": "체크포인트", "en": "checkpoint"},
    "bits_per_param": {"ko": "파라미터당 비트", "en": "bits per parameter"},
    "scales_zeros": {"ko": "스케일·영점·인덱스", "en": "scales, zeros, indices"},
    "unquantized": {"ko": "양자화하지 않은 텐서", "en": "unquantized tensors"},
    # number formats and quantization (chapters 02-formats, 03-quantization)
    "sign": {"ko": "부호", "en": "sign"},
    "exponent": {"ko": "지수", "en": "exponent"},
    "mantissa": {"ko": "가수", "en": "mantissa"},
    "exponent_bits": {"ko": "지수 비트", "en": "exponent bits"},
    "mantissa_bits": {"ko": "가수 비트", "en": "mantissa bits"},
    "stored_value": {"ko": "저장된 값", "en": "stored value"},
    "value_over_max": {"ko": "값 / 최댓값", "en": "value / largest value"},
    "weight_value": {"ko": "가중치 값", "en": "weight value"},
    "count": {"ko": "개수", "en": "count"},
    "quant_level": {"ko": "양자화 레벨", "en": "quantization level"},
    "method": {"ko": "방식", "en": "method"},
    "block_size": {"ko": "블록 크기(원소 수)", "en": "block size (elements)"},
    "sqnr_db": {"ko": "SQNR(dB, 클수록 정확)", "en": "SQNR (dB, higher is better)"},
    "bits_per_weight": {"ko": "가중치당 비트", "en": "bits per weight"},
    "file_size_gib": {"ko": "파일 크기(GiB)", "en": "file size (GiB)"},
    "ppl_increase": {"ko": "퍼플렉서티 증가", "en": "perplexity increase"},
    "quant_family": {"ko": "양자화 계열", "en": "quantization family"},
    "value": {"ko": "값", "en": "value"},
    # seed audit (appendix)
    "right": {"ko": "맞음", "en": "right"},
    "approximate": {"ko": "근사", "en": "approximate"},
    "wrong": {"ko": "틀림", "en": "wrong"},
    "marginal": {"ko": "아슬아슬", "en": "marginal"},
    "seed": {"ko": "시드 문서", "en": "seed"},
    "quote": {"ko": "인용", "en": "quote"},
    "claimed": {"ko": "주장한 값", "en": "claimed"},
    "recomputed": {"ko": "vramkit 계산", "en": "vramkit"},
    "unit": {"ko": "단위", "en": "unit"},
    "verdict": {"ko": "판정", "en": "verdict"},
    "reason": {"ko": "이유", "en": "reason"},
    "term_ko": {"ko": "한국어", "en": "Korean"},
    "term_en": {"ko": "영어", "en": "English"},
    "meaning": {"ko": "뜻", "en": "meaning"},
    # training (chapter 5)
    "seq": {"ko": "시퀀스 길이(토큰)", "en": "sequence length (tokens)"},
    "gradient_checkpointing": {"ko": "그래디언트 체크포인팅", "en": "gradient checkpointing"},
    "ckpt_on": {"ko": "켬", "en": "on"},
    "ckpt_off": {"ko": "끔", "en": "off"},
    "zero_stage": {"ko": "ZeRO 단계", "en": "ZeRO stage"},
    "phase": {"ko": "단계", "en": "phase"},
    "forward_end": {"ko": "순전파 끝(손실)", "en": "end of forward (loss)"},
    "backward": {"ko": "역전파", "en": "backward"},
    "optimizer_step": {"ko": "옵티마이저 스텝", "en": "optimizer step"},
    "published": {"ko": "발표된 값", "en": "published"},
    "peak": {"ko": "최대 메모리", "en": "peak memory"},
    "setting": {"ko": "설정", "en": "setting"},
    "ratio": {"ko": "비율", "en": "ratio"},
    "full_ft": {"ko": "전체 미세조정", "en": "full fine-tuning"},
    "loop": {"ko": "학습 루프", "en": "training loop"},
    "loop_trainer": {"ko": "Trainer(손실만 남김)", "en": "Trainer (keeps only the loss)"},
    "loop_keep": {"ko": "직접 쓴 루프(출력을 남김)", "en": "hand-written loop (keeps the outputs)"},
    "micro_batch": {"ko": "마이크로 배치", "en": "micro-batch"},
    "accumulation_steps": {"ko": "그래디언트 누적 횟수", "en": "accumulation steps"},
    "effective_batch": {"ko": "유효 배치", "en": "effective batch"},
    "rung": {"ko": "단계별 대책", "en": "what you change"},
    "fits_on": {"ko": "들어가는가", "en": "fits"},
    "yes": {"ko": "예", "en": "yes"},
    "no": {"ko": "아니요", "en": "no"},
    # table headings of chapters 04 (inference) and 06 (speed); {names} are filled by label(..., name=value)
    "window": {"ko": "윈도", "en": "window"},
    "sliding_layers": {"ko": "슬라이딩 층", "en": "sliding layers"},
    "kv_all_full_attention": {"ko": "{tokens:,} 토큰, 모두 전체 어텐션", "en": "{tokens:,} tok, all full"},
    "blog_post": {"ko": "블로그 글", "en": "post"},
    "kv_per_token": {"ko": "토큰당 KV", "en": "KV per token"},
    "bytes_per_token": {"ko": "토큰당 바이트", "en": "B/token"},
    "tokens_short": {"ko": "{tokens:,} 토큰", "en": "{tokens:,} tok"},
    "kv_at_tokens": {"ko": "KV, {tokens:,} 토큰", "en": "KV, {tokens:,} tokens"},
    "kv_at_tokens_times": {"ko": "KV, {tokens:,} 토큰 x {n}", "en": "KV, {tokens:,} tokens x {n}"},
    "weights_in": {"ko": "가중치({fmt})", "en": "weights ({fmt})"},
    "activations_overhead": {"ko": "활성값 + 오버헤드", "en": "activations + overhead"},
    "total_sequences": {"ko": "합계, 시퀀스 {n}개", "en": "total, sequences: {n}"},
    "preallocated": {"ko": "미리 잡는 메모리", "en": "pre-allocated"},
    "kv_tokens": {"ko": "KV 토큰 수", "en": "KV tokens"},
    "requests_of_tokens": {"ko": "{tokens:,} 토큰 요청 수", "en": "{tokens:,}-token requests"},
    "gpu_working_set": {"ko": "GPU 작업 세트", "en": "GPU working set"},
    "working_set_limit": {"ko": "GPU 작업 세트 한도", "en": "GPU working set"},
    "printed": {"ko": "표의 값", "en": "printed"},
    "kv_heads": {"ko": "KV 헤드", "en": "KV heads"},
    "bytes_read_per_token": {"ko": "{fmt} 토큰당 읽기", "en": "{fmt} bytes/token"},
    "ridge_point": {"ko": "리지 포인트(FLOP/바이트)", "en": "ridge point (FLOPs/byte)"},
    "memory_needed": {"ko": "필요한 메모리", "en": "memory needed"},
    "fits_question": {"ko": "들어가나", "en": "fits"},
    "prefill_ms": {"ko": "프리필 {tokens:,} 토큰(ms)", "en": "prefill {tokens:,} tokens (ms)"},
    "prefill_bound": {"ko": "프리필 한계", "en": "prefill bound"},
    "prefill_tok_s": {"ko": "프리필 tok/s", "en": "prefill tok/s"},
    "decode_ms_token": {"ko": "디코드 ms/토큰", "en": "decode ms/token"},
    "decode_bound": {"ko": "디코드 한계", "en": "decode bound"},
    "model_used": {"ko": "계산에 쓴 모델", "en": "model used"},
    # more table headings (shown through vramkit.book.localized, or label() directly)
    "per_layer": {"ko": "층당", "en": "per layer"},
    "num_experts": {"ko": "전문가 수", "en": "experts"},
    "experts_per_token": {"ko": "토큰당 전문가", "en": "per token"},
    "active_share": {"ko": "활성 비율(%)", "en": "active %"},
    "scaling_book": {"ko": "scaling-book 어림", "en": "scaling book"},
    "difference": {"ko": "차이", "en": "difference"},
    "vocab": {"ko": "어휘(임베딩+출력층)", "en": "vocab"},
    "layers": {"ko": "층 수", "en": "layers"},
    "bias": {"ko": "지수 바이어스", "en": "bias"},
    "max": {"ko": "최댓값", "en": "max"},
    "smallest_normal": {"ko": "가장 작은 정규수", "en": "smallest normal"},
    "smallest_subnormal": {"ko": "가장 작은 비정규수", "en": "smallest subnormal"},
    "code": {"ko": "코드", "en": "code"},
    "x_code_s": {"ko": "x̂ = 코드 × s", "en": "x̂ = code × s"},
    # the activation ledger and the attention-implementation table (chapter 05)
    "lg_part": {"ko": "부분", "en": "part"},
    "lg_tensor": {"ko": "텐서", "en": "tensor"},
    "lg_saved_by": {"ko": "보관하는 연산", "en": "saved by"},
    "lg_width": {"ko": "토큰당 원소 수", "en": "elements per token"},
    "lg_dtype": {"ko": "자료형", "en": "dtype"},
    "lg_mib": {"ko": "MiB(층 하나)", "en": "MiB (one layer)"},
    "lg_paper_term": {"ko": "Korthikanti의 항", "en": "Korthikanti's term"},
    "lg_paper_coef": {"ko": "논문의 계수", "en": "paper's coefficient"},
    "lg_paper_mib": {"ko": "논문 공식(MiB)", "en": "paper (MiB)"},
    "lg_ours_mib": {"ko": "vramkit 장부(MiB)", "en": "vramkit ledger (MiB)"},
    "lg_not_in_paper": {"ko": "(논문에 없는 텐서)", "en": "(not in the paper)"},
    "scores": {"ko": "점수 행렬", "en": "scores"},
    "weight_casts": {"ko": "bf16 가중치 사본", "en": "bf16 weight copies"},
    "at_score_elements": {"ko": "층당 점수 원소(백만)", "en": "score elements per layer (M)"},
    "at_eager_saved": {"ko": "eager가 층마다 더 보관(MiB)", "en": "eager keeps per layer (MiB)"},
    "at_flash_saved": {"ko": "flash가 대신 보관(MiB)", "en": "flash keeps instead (MiB)"},
    "at_prefill_eager": {"ko": "프리필 활성값, eager(GB)", "en": "prefill activations, eager (GB)"},
    "at_prefill_sdpa": {"ko": "프리필 활성값, SDPA(GB)", "en": "prefill activations, SDPA (GB)"},
    "at_train_eager": {"ko": "학습 최대, eager(GB)", "en": "training peak, eager (GB)"},
    "at_train_sdpa": {"ko": "학습 최대, SDPA(GB)", "en": "training peak, SDPA (GB)"},
    # explanatory diagrams (vramkit.diagrams); {names} filled from the spec
    "dg_layer_title": {"ko": "{model}의 디코더 층 하나(층 {layers}개 중)", "en": "One decoder layer of {model} (of {layers})"},
    "dg_hidden_in": {"ko": "층 입력(잔차 스트림)", "en": "layer input (residual stream)"},
    "dg_hidden_out": {"ko": "다음 층으로", "en": "to the next layer"},
    "dg_rmsnorm": {"ko": "RMSNorm", "en": "RMSNorm"},
    "dg_layernorm": {"ko": "LayerNorm", "en": "LayerNorm"},
    "dg_heads_times_dim": {"ko": "헤드 {shape}", "en": "heads {shape}"},
    "dg_attention_box": {"ko": "어텐션: 쿼리 헤드 {q}개, KV 헤드 {kv}개", "en": "attention: {q} query heads, {kv} KV heads"},
    "dg_residual": {"ko": "잔차 연결", "en": "residual"},
    "dg_gated_act": {"ko": "SiLU(gate) × up", "en": "SiLU(gate) × up"},
    "dg_act": {"ko": "GELU", "en": "GELU"},
    "dg_times_layers": {"ko": "× {layers}층", "en": "× {layers} layers"},
    "dg_layer_note": {"ko": "s = 토큰 수. 가중치 행렬은 입력 폭 → 출력 폭. 층 하나의 파라미터: {params}개",
                      "en": "s = tokens. Weights read in → out. Parameters of one layer: {params}"},
    "dg_gqa_title": {"ko": "{model}의 GQA: 쿼리 헤드가 KV 헤드를 나눠 씁니다", "en": "GQA in {model}: query heads share KV heads"},
    "dg_query_heads": {"ko": "쿼리 헤드 {n}개(각 {dim}차원)", "en": "{n} query heads ({dim} wide each)"},
    "dg_kv_heads": {"ko": "KV 헤드 {n}개: 쿼리 헤드 {group}개가 하나를 함께 읽음(캐시되는 것은 이것)",
                    "en": "{n} KV heads: {group} query heads read each one (these are what the cache holds)"},
    "dg_gqa_bytes": {"ko": "토큰당 KV({dtype}, 모든 층): {ours}. 헤드마다 KV가 있었다면 {full}({ratio}배)",
                     "en": "KV per token ({dtype}, all layers): {ours}; with a KV head per query head, {full} ({ratio}×)"},
    "dg_mla_title": {"ko": "{model}의 MLA: 캐시되는 잠재 벡터와 펼친 K·V", "en": "MLA in {model}: the cached latent and the K, V it expands to"},
    "dg_hidden_token": {"ko": "토큰의 은닉 상태", "en": "a token's hidden state"},
    "dg_mla_cached": {"ko": "캐시에 저장(층마다, 토큰마다)", "en": "cached (per layer, per token)"},
    "dg_mla_inside": {"ko": "어텐션 안에서만", "en": "inside attention only"},
    "dg_mla_bar_cached": {"ko": "캐시: 원소 {n}개", "en": "cached: {n} elements"},
    "dg_mla_bar_expanded": {"ko": "펼치면: 헤드 {heads}개 × (K {k} + V {v}) = 원소 {n}개",
                            "en": "expanded: {heads} heads × (K {k} + V {v}) = {n} elements"},
    "dg_mla_bytes": {"ko": "토큰당 KV({dtype}, {layers}층): 잠재 벡터 {ours}, 펼친 K·V였다면 {full}({ratio}배)",
                     "en": "KV per token ({dtype}, {layers} layers): {ours} as latents, {full} expanded ({ratio}×)"},
    "dg_paged_title": {"ko": "vLLM의 페이지 KV 캐시({model}, 블록당 {bs}토큰)", "en": "vLLM's paged KV cache ({model}, {bs} tokens per block)"},
    "dg_sequence": {"ko": "시퀀스 {i}: {n}토큰", "en": "sequence {i}: {n} tokens"},
    "dg_pool": {"ko": "GPU의 블록 풀", "en": "the GPU's block pool"},
    "dg_paged_block_bytes": {"ko": "블록 하나 = {bs}토큰 × 모든 층({layers}개)의 K·V({dtype}) = {bytes}",
                             "en": "one block = {bs} tokens × K and V of all {layers} layers ({dtype}) = {bytes}"},
    "dg_paged_waste": {"ko": "{tokens}토큰에 블록 {blocks}개: 비어 있는 칸은 마지막 블록들의 {empty}칸뿐",
                       "en": "{tokens} tokens in {blocks} blocks: the only empty slots are {empty}, in the last blocks"},
    "dg_zero_title": {"ko": "ZeRO 단계별로 GPU 하나가 드는 것({params} 모델, GPU {gpus}개, K = {k})",
                      "en": "What one GPU holds at each ZeRO stage ({params} model, {gpus} GPUs, K = {k})"},
    "dg_zero_stage": {"ko": "ZeRO-{stage}", "en": "ZeRO-{stage}"},
    "dg_per_gpu": {"ko": "GPU당 {bytes}", "en": "{bytes} per GPU"},
    "dg_zero_legend": {"ko": "{what} {b}바이트/파라미터", "en": "{what}, {b} B/param"},
    "dg_zero_note": {"ko": "진한 조각: 그 GPU가 맡은 1/N. 연한 부분은 다른 GPU에 있습니다. 활성값은 그림에 없습니다.",
                     "en": "Dark slice: the 1/N shard that GPU owns; the pale rest lives on the other GPUs. Activations not shown."},
    "type": {"ko": "텐서 형식", "en": "type"},
    "tensors": {"ko": "텐서 수", "en": "tensors"},
    "elements": {"ko": "원소 수", "en": "elements"},
    "bytes": {"ko": "바이트", "en": "bytes"},
    "share_of_bytes": {"ko": "바이트 비율", "en": "share of bytes"},
    "baseline": {"ko": "기준(ZeRO 없음)", "en": "baseline"},
    "estimator": {"ko": "추정 방법", "en": "estimator"},
    "cases": {"ko": "사례 수", "en": "cases"},
    "median_error": {"ko": "오차 중앙값(절댓값)", "en": "median |error|"},
    "worst_error": {"ko": "최대 오차(절댓값)", "en": "worst |error|"},
    "within_5": {"ko": "5% 이내 비율", "en": "within 5%"},
    "name": {"ko": "이름", "en": "name"},
    "usable_gib": {"ko": "쓸 수 있는 GiB", "en": "usable GiB"},
    "bandwidth_gb_s": {"ko": "대역폭(GB/s)", "en": "bandwidth GB/s"},
    "source": {"ko": "출처", "en": "source"},
    "lazy_loading": {"ko": "지연 로딩", "en": "lazy loading"},
    "low": {"ko": "최소", "en": "low"},
    "high": {"ko": "최대", "en": "high"},
    "memory": {"ko": "메모리", "en": "memory"},
    "share": {"ko": "비율", "en": "share"},
    "budget": {"ko": "쓸 수 있는 메모리", "en": "budget"},
    "max_context": {"ko": "최대 컨텍스트", "en": "max context"},
    "max_batch": {"ko": "최대 배치", "en": "max batch"},
    "start": {"ko": "처음", "en": "start"},
    "step": {"ko": "단계", "en": "step"},
    "saved": {"ko": "줄어든 양", "en": "saved"},
    "blog": {"ko": "블로그 글", "en": "blog"},
    "need_usable": {"ko": "필요 / 사용 가능", "en": "need / usable"},
    # table headings and short phrases of the engine, hybrid and multi-GPU sections (chapters 04, 07)
    "h_attention_layers": {"ko": "어텐션 층", "en": "attention layers"},
    "h_mixer": {"ko": "혼합기", "en": "mixer"},
    "h_state_per_sequence": {"ko": "상태(시퀀스당)", "en": "state per sequence"},
    "h_k_v_at_131_072_tok": {"ko": "K/V, 131,072 토큰", "en": "K/V at 131,072 tok"},
    "h_cache_at_131_072_tok": {"ko": "캐시 합계, 131,072 토큰", "en": "cache at 131,072 tok"},
    "h_if_all_attention": {"ko": "모두 어텐션이었다면", "en": "if all attention"},
    "h_layers_with_a_cache": {"ko": "캐시를 가진 층", "en": "layers with a cache"},
    "h_131_072_tok_without_it": {"ko": "131,072 tok, 장치 없이", "en": "131,072 tok, without it"},
    "h_budget": {"ko": "예산", "en": "budget"},
    "h_weights": {"ko": "가중치", "en": "weights"},
    "h_activation_peak": {"ko": "활성값 최고치", "en": "activation peak"},
    "h_non_torch": {"ko": "비 torch", "en": "non-torch"},
    "h_cuda_graphs": {"ko": "CUDA 그래프", "en": "CUDA graphs"},
    "h_kv_pool": {"ko": "KV 풀", "en": "KV pool"},
    "h_blocks": {"ko": "블록", "en": "blocks"},
    "h_tokens": {"ko": "토큰", "en": "tokens"},
    "h_8_192_token_requests_at_once": {"ko": "8,192토큰 요청 동시 처리", "en": "8,192-token requests at once"},
    "h_vllm_blocks": {"ko": "vLLM 블록", "en": "vLLM blocks"},
    "h_vramkit_blocks": {"ko": "vramkit 블록", "en": "vramkit blocks"},
    "h_error": {"ko": "오차", "en": "error"},
    "h_starts": {"ko": "시작", "en": "starts"},
    "h_device": {"ko": "장치", "en": "device"},
    "h_model": {"ko": "모델", "en": "model"},
    "h_weights_2": {"ko": "형식", "en": "weights"},
    "h_weights_per_gpu": {"ko": "GPU당 가중치", "en": "weights per GPU"},
    "h_kv_pool_per_gpu": {"ko": "GPU당 KV 풀", "en": "KV pool per GPU"},
    "h_8_192_token_requests": {"ko": "8,192토큰 요청", "en": "8,192-token requests"},
    "h_starts_2": {"ko": "시작합니다", "en": "starts"},
    "h_refuses_to_start": {"ko": "시작하지 못합니다", "en": "refuses to start"},
    # headings of the multimodal, hybrid, MoE-routing and multi-GPU tables (chapters 01, 06, 07)
    "vision_tower": {"ko": "비전 타워", "en": "vision tower"},
    "projector": {"ko": "프로젝터", "en": "projector"},
    "audio_tower": {"ko": "오디오 타워", "en": "audio tower"},
    "embed_vision": {"ko": "비전 임베더", "en": "vision embedder"},
    "embed_audio": {"ko": "오디오 임베더", "en": "audio embedder"},
    "language_model": {"ko": "언어 모델", "en": "language model"},
    "whole_model": {"ko": "모델 전체", "en": "whole model"},
    "parameters": {"ko": "파라미터 수", "en": "parameters"},
    "routing_spread": {"ko": "상한(\"spread\")", "en": "spread"},
    "routing_same": {"ko": "하한(\"same\")", "en": "same"},
    "compute": {"ko": "계산 버퍼", "en": "compute"},
    "other": {"ko": "기타(CUDA 컨텍스트)", "en": "other"},
    "h_util": {"ko": "메모리 사용률", "en": "util"},
    # corrections of issue 16: the fp16 attention-score table (02), the Q4 pair (03), the seed audit (08)
    "score_stored": {"ko": "q·k(저장된 값)", "en": "q·k (stored)"},
    "score_scaled": {"ko": "q·k / √d", "en": "q·k / √d"},
    "softmax": {"ko": "softmax 결과", "en": "softmax"},
    "above_base_type": {"ko": "기본 형식보다 많은 비트", "en": "above the base type"},
    "quote_en": {"ko": "영어 번역", "en": "in English"},
    "margin": {"ko": "필요 / 쓸 수 있는 메모리", "en": "need / usable"},
    "reading_16bit": {"ko": "16비트 상태로 읽으면", "en": "with 16-bit states"},
    "left_out": {"ko": "뺀 주장", "en": "left out"},
    "why": {"ko": "이유", "en": "why"},
    "topic": {"ko": "주제", "en": "topic"},
}


def label(key: str, lang: str = "en", **values) -> str:
    """The `lang` label for `key` ("ko" or "en"); unknown keys come back unchanged.

    A label with fields takes them as keywords: label("kv_at_tokens", "ko", tokens=8192) is
    "KV, 8,192 토큰", so a table heading names the computed setting instead of typing it.
    """
    if lang not in LANGS:
        from .errors import unknown

        raise unknown("language", lang, LANGS)
    entry = LABELS.get(key)
    text = entry[lang] if entry else key
    return text.format(**values) if values else text


def gib(n_bytes: int) -> float:
    """Bytes in GiB (2**30)."""
    return n_bytes / GIB


def gb(n_bytes: int) -> float:
    """Bytes in GB (10**9)."""
    return n_bytes / GB


def fmt_bytes(n_bytes: int, unit: str = "GiB", digits: int = 2) -> str:
    """'6.25 GiB' (unit 'GiB', 'GB', 'MiB', 'MB', 'KiB', 'KB' or 'B'); 'both' gives '6.25 GiB (6.71 GB)'."""
    if unit == "both":
        return f"{fmt_bytes(n_bytes, 'GiB', digits)} ({fmt_bytes(n_bytes, 'GB', digits)})"
    scale = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": GB, "TB": 10**12,
             "KiB": 2**10, "MiB": MIB, "GiB": GIB, "TiB": 2**40}
    if unit not in scale:
        from .errors import unknown

        raise unknown("unit", unit, scale)
    if unit == "B":
        return f"{n_bytes:,} B"
    return f"{n_bytes / scale[unit]:,.{digits}f} {unit}"


def fmt_count(n: int, digits: int = 2) -> str:
    """A parameter count for people: 8.03B, 124.44M, 7.1K."""
    for scale, suffix in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")):
        if abs(n) >= scale:
            return f"{n / scale:.{digits}f}{suffix}"
    return str(n)
