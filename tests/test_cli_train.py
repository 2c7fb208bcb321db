"""`vramkit train`: the --json contract of DESIGN.md and one-line errors with exit code 2."""
from __future__ import annotations

import json

import pytest

from vramkit.cli import main

COMPONENTS = {"weights", "gradients", "optimizer", "activations", "temporary"}


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_contract(capsys):
    code, out, _ = run(capsys, "train", "llama-3.2-1b", "--seq", "1024", "--batch", "2", "--json")
    assert code == 0
    d = json.loads(out)
    assert isinstance(d["peak_bytes"], int) and set(d["breakdown"]) == COMPONENTS
    assert all(isinstance(v, int) for v in d["breakdown"].values())
    assert sum(d["breakdown"].values()) == d["peak_bytes"]
    assert d["peak_phase"] in ("forward_end", "backward", "optimizer_step")
    assert d["overhead_bytes"] > 0 and d["total_with_overhead_bytes"] == d["peak_bytes"] + d["overhead_bytes"]


def test_options_change_the_answer(capsys):
    def peak(*extra):
        code, out, _ = run(capsys, "train", "llama-3.2-1b", "--seq", "1024", "--json", *extra)
        assert code == 0
        return json.loads(out)

    full = peak()
    lora = peak("--lora-rank", "16")
    assert lora["maxima"]["gradients"] < full["maxima"]["gradients"] / 50
    assert lora["trainable_params"] < full["trainable_params"] / 50
    zero3 = peak("--zero", "3", "--gpus", "8")
    assert zero3["peak_bytes"] < full["peak_bytes"]
    fsdp = peak("--zero", "full_shard", "--gpus", "8")
    assert fsdp["peak_bytes"] == zero3["peak_bytes"]
    qlora = peak("--qlora", "--precision", "bf16")
    prepared = peak("--qlora", "--precision", "bf16", "--prepare-kbit")
    assert prepared["settings"]["prepare_kbit"] is True and qlora["settings"]["prepare_kbit"] is False
    assert prepared["breakdown"]["weights"] > qlora["breakdown"]["weights"]   # the fp32 up-cast
    paged = peak("--optimizer", "paged_adamw_8bit")
    eight = peak("--optimizer", "adamw8bit")
    assert paged["settings"]["optimizer"] == "paged-adamw8bit" and eight["paged_optimizer_bytes"] == 0
    assert paged["paged_optimizer_bytes"] > 0 and paged["peak_bytes"] < eight["peak_bytes"]
    gpu = peak("--gpu", "h100-sxm5")
    assert gpu["fits"] in (True, False) and gpu["gpu_usable_bytes"] > 0


@pytest.mark.parametrize("argv, needle", [
    (["--lora-rank", "100000"], "hidden size"),
    (["--zero", "4"], "ZeRO stage"),
    (["--gpus", "0"], "gpus"),
    (["--optimizer", "adamq"], "did you mean"),
    (["--precision", "int3"], "precision"),
    (["--optimizer-impl", "vectorised"], "implementation"),
    (["--prepare-kbit"], "--qlora"),
])
def test_bad_input_one_line_exit_2(capsys, argv, needle):
    code, out, err = run(capsys, "train", "llama-3.2-1b", "--seq", "512", *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and needle in err


def test_train_with_gpu_reports_the_largest_batch_and_sequence_that_train(capsys):
    import json

    from vramkit import load_model
    from vramkit.cli import main
    from vramkit.hardware import get_gpu
    from vramkit.training import train_memory

    assert main(["train", "qwen3-0.6b", "--seq", "1024", "--gpu", "rtx-4090", "--gradient-checkpointing",
                 "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    usable = get_gpu("rtx-4090").usable_bytes()
    spec = load_model("qwen3-0.6b")

    def need(seq, batch):
        m = train_memory(spec, seq=seq, batch=batch, gradient_checkpointing=True)
        return m.peak_bytes + m.overhead_bytes

    assert d["max_batch"] >= 1 and d["max_seq"] >= 1024
    assert need(1024, d["max_batch"]) <= usable < need(1024, d["max_batch"] + 1)
    assert need(d["max_seq"], 1) <= usable < need(d["max_seq"] + 1, 1)
    assert main(["train", "qwen3-0.6b", "--seq", "1024", "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert set(plain) == set(d) and plain["max_batch"] is None  # one schema whatever the flags


def test_fit_train_answers_what_trains(capsys):
    import json

    from vramkit.cli import main

    assert main(["fit", "qwen3-0.6b", "--gpu", "rtx-4090", "--context", "1024", "--train",
                 "--gradient-checkpointing", "--json"]) == 0
    fit = json.loads(capsys.readouterr().out)
    assert main(["train", "qwen3-0.6b", "--seq", "1024", "--gpu", "rtx-4090", "--gradient-checkpointing",
                 "--json"]) == 0
    train = json.loads(capsys.readouterr().out)
    assert (fit["train"]["max_batch"], fit["train"]["max_seq"]) == (train["max_batch"], train["max_seq"])
    assert main(["fit", "qwen3-0.6b", "--gpu", "rtx-4090", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["train"] is None
