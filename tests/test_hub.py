"""Hub ids as users type them, through huggingface_hub's real code path against a local fake Hub.

Each CLI call runs in a subprocess whose HF_ENDPOINT points at tests/fake_hub.py on 127.0.0.1 (no
test reaches the internet), with a fresh HF_HOME so the cache starts empty; request counts and
timeouts are bounded.
"""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fake_hub import FakeHub, safetensors_bytes
from vramkit import catalog

ROOT = Path(__file__).resolve().parents[1]
CONFIG = dict(catalog.model_entry("qwen3-0.6b")["config"])
TENSORS = {"model.embed_tokens.weight": ("BF16", [64, 32]), "model.norm.weight": ("F32", [32]),
           "lm_head.weight": ("BF16", [64, 32])}


def _cli(env_extra: dict, *argv, timeout=60):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update({"PYTHONPATH": str(ROOT), "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_ETAG_TIMEOUT": "5",
                "HF_HUB_DOWNLOAD_TIMEOUT": "5", **env_extra})
    r = subprocess.run([sys.executable, "-m", "vramkit", *argv], capture_output=True, text=True, env=env,
                       timeout=timeout)
    return r.returncode, r.stdout, r.stderr


@pytest.fixture()
def hub():
    repos = {"org/tiny": {"config.json": json.dumps(CONFIG).encode(),
                          "model.safetensors": safetensors_bytes(TENSORS)}}
    with FakeHub(repos, gated={"org/gated"}) as h:
        yield h


def test_fetches_config_then_reads_it_from_the_cache(hub, tmp_path):
    env = {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path)}
    code, out, err = _cli(env, "params", "org/tiny", "--json")
    assert code == 0, err
    assert json.loads(out)["params"] == catalog.model_entry("qwen3-0.6b")["published_params"]
    fetched = len(hub.requests)
    assert 1 <= fetched <= 4 and all("config.json" in p for _, p, _ in hub.requests)
    # Second time: from the cache, even offline, and without a request.
    code, out, err = _cli({**env, "HF_HUB_OFFLINE": "1"}, "params", "org/tiny", "--json")
    assert code == 0, err
    assert len(hub.requests) == fetched


def test_safetensors_headers_by_range_requests(hub, tmp_path):
    env = {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path)}
    code, out, err = _cli(env, "params", "org/tiny", "--safetensors", "--json")
    assert code == 0, err
    s = json.loads(out)["safetensors"]
    assert s == {"params": 64 * 32 * 2 + 32, "bytes": 64 * 32 * 2 * 2 + 32 * 4,
                 "by_dtype": {"BF16": 64 * 32 * 2, "F32": 32}}
    gets = [r for r in hub.requests if r[0] == "GET" and "model.safetensors" in r[1]]
    assert gets and all(r[2] and r[2].startswith("bytes=") for r in gets)  # never the whole file
    assert len(hub.requests) <= 10


@pytest.mark.parametrize("repo,expect", [("org/gated", "gated repo"), ("org/nope", "no such repo")])
def test_gated_and_unknown_repos_are_one_line(hub, tmp_path, repo, expect):
    code, out, err = _cli({"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path)}, "params", repo)
    assert code == 2 and expect in err and "HF_TOKEN" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_offline_and_not_cached(tmp_path):
    code, out, err = _cli({"HF_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}, "params", "org/tiny")
    assert code == 2 and "HF_HUB_OFFLINE" in err and len(err.strip().splitlines()) == 1


def test_no_network_is_one_line(tmp_path):
    """Connection refused: huggingface_hub retries with backoff (about 25 s in 2.x), then one line."""
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out, err = _cli({"HF_ENDPOINT": f"http://127.0.0.1:{port}", "HF_HOME": str(tmp_path)}, "params", "org/tiny")
    assert code == 2 and "cannot reach the Hugging Face Hub" in err and len(err.strip().splitlines()) == 1


def test_missing_huggingface_hub_is_one_line(tmp_path):
    # A sitecustomize-free way to hide the package: a module named huggingface_hub that fails to import.
    fake = tmp_path / "hide"
    fake.mkdir()
    (fake / "huggingface_hub.py").write_text("raise ImportError('hidden for the test')\n")
    code, out, err = _cli({"HF_HOME": str(tmp_path), "PYTHONPATH": f"{fake}{os.pathsep}{ROOT}"}, "params", "org/tiny")
    assert code == 2 and "pip install 'vramkit[files]'" in err and len(err.strip().splitlines()) == 1
