"""Active parameters in both named conventions, against the figures model cards publish."""
import json

import pytest

import vramkit
from vramkit.cli import main
from vramkit.errors import VramkitError

# OpenAI, "gpt-oss-120b & gpt-oss-20b Model Card" (Aug 2025), Table 1: total and active parameters
# in billions, to two decimals; "active" there leaves out the input embedding (the unembedding stays).
GPT_OSS_CARD = {"gpt-oss-120b": (116.83, 5.13), "gpt-oss-20b": (20.91, 3.61)}


@pytest.mark.parametrize("name", sorted(GPT_OSS_CARD))
def test_gpt_oss_card_convention(name):
    spec = vramkit.load_model(name)
    total, active = GPT_OSS_CARD[name]
    assert round(spec.params() / 1e9, 2) == total
    assert round(spec.active_params("without_embedding") / 1e9, 2) == active
    # The default convention counts the whole input table: the card's figure is not it.
    assert round(spec.active_params() / 1e9, 2) != active


def test_conventions_differ_by_the_input_table_only():
    spec = vramkit.load_model("llama-3.1-8b")  # untied: the table is read one row per token
    assert spec.active_params() - spec.active_params("without_embedding") == spec.vocab_size * spec.hidden_size
    tied = vramkit.load_model("qwen3-0.6b")    # tied: the same matrix is the head, used whole
    assert tied.tie_word_embeddings and tied.active_params() == tied.active_params("without_embedding")


def test_unknown_convention_is_one_line():
    with pytest.raises(VramkitError, match="did you mean 'without_embedding'"):
        vramkit.load_model("gpt-oss-20b").active_params("without_embeddings")


def test_params_json_has_both_keys(capsys):
    assert main(["params", "gpt-oss-120b", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert round(d["active_params_without_embedding"] / 1e9, 2) == 5.13
    assert d["active_params"] - d["active_params_without_embedding"] == d["breakdown"]["embedding"]
