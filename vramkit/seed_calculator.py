"""The calculator code of seed document 001, kept as the seed printed it, so the audit can run it.

The seed ("내 GPU엔 몇 B 모델까지 올라갈 수 있을까?", section 8.1 "빠른 계산 도구") offers these two
functions as a quick tool and calls them for a 7B model; the audit (vramkit/audit.py) compares what
they return with vramkit. Their faults are the seed's and are left in on purpose: the KV cache and
the activations use Llama 2 7B's shape (4096 x 32) whatever the model, the KV cache is K and V of
`hidden` each but counted in GiB (/1024**3) beside weights in GB, and the overhead is a fixed share
of the weights. Only the print lines are left out (the audit calls the functions itself).
"""


# 추론 메모리 (GB)
def inference_memory(params_B, batch, seq_len, precision="fp16"):
    bytes_per_param = {"fp16": 2, "int8": 1, "int4": 0.5}[precision]

    model = params_B * bytes_per_param
    kv_cache = batch * seq_len * 4096 * 32 * 2 * bytes_per_param / 1024**3
    overhead = model * 0.2 + 1

    return model + kv_cache + overhead


# 학습 메모리 (GB)
def training_memory(params_B, batch, seq_len, optimizer="adam"):
    model = params_B * 2  # FP16
    gradient = model
    opt_state = model * (2 if optimizer == "adam" else 1)
    activation = batch * seq_len * 4096 * 32 * 2 / 1024**3
    overhead = model * 0.3 + 2

    return model + gradient + opt_state + activation + overhead


FUNCTIONS = {"inference_memory": inference_memory, "training_memory": training_memory}
