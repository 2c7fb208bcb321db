"""Chapter 5's published data (catalog/published-*.json) and the checks the chapter makes with it.

Truth here is the published figure, not our formula: the ZeRO paper's Figure 1, the QLoRA paper's
bounds and the four bytes-per-parameter ledgers.
"""
import pytest

from vramkit import audit, catalog, load_model
from vramkit.training import train_memory

STATES = ("weights", "gradients", "optimizer")


def test_ledgers_add_up_as_printed():
    for book in catalog.published("bytes-per-param")["ledgers"]:
        assert sum(book["items"].values()) == book["total"], book["name"]


@pytest.mark.parametrize("name", ["EleutherAI Transformer Math 101", "Ultra-Scale Playbook", "ZeRO paper (K = 12)"])
def test_mixed_adamw_states_match_the_16_byte_ledgers(name):
    book = next(b for b in catalog.published("bytes-per-param")["ledgers"] if b["name"] == name)
    spec = load_model("llama-2-7b")
    for kw in (dict(), dict(zero=1, gpus=1)):  # Trainer's and DeepSpeed's way give the same total
        m = train_memory(spec, seq=1, precision="mixed", optimizer="adamw", **kw)
        assert sum(m.maxima[c] for c in STATES) == book["total"] * spec.params()


@pytest.mark.parametrize("stage", [0, 1, 2, 3])
def test_zero_figure_1(stage):
    fig = catalog.published("zero-fig1")
    printed = list(fig["rows"].values())[stage]
    spec = load_model("llama-2-7b")
    m = train_memory(spec, seq=1, zero=stage, gpus=fig["gpus"])
    gb = sum(m.maxima[c] for c in STATES) / spec.params() * fig["params"] / 1e9
    assert gb == pytest.approx(printed, abs=0.05)  # the figure prints one decimal


def test_qlora_65b_bounds():
    paper = catalog.published("qlora-65b")["values"]
    llama65 = load_model(audit.claims_data()["models"]["llama-1-65b"]["config"])
    full = train_memory(llama65, seq=512, precision="mixed", gradient_checkpointing=True)
    q = train_memory(llama65, seq=512, precision="bf16", gradient_checkpointing=True, qlora=True,
                     lora_rank=64, optimizer_impl="fused")
    assert full.peak_bytes > paper["full_16bit_more_than"] * 1e9
    assert q.peak_bytes < paper["qlora_less_than"] * 1e9


def test_blog_table_shape():
    blog = catalog.published("hf-blog-llama31-train")
    assert set(blog["rows"]) == {"8B", "70B", "405B"}
    assert all(len(r) == len(blog["columns"]) for r in blog["rows"].values())
