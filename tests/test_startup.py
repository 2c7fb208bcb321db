"""Start-up: the family modules load only for a config whose model_type model.py does not read."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _modules_after(code: str) -> str:
    r = subprocess.run([sys.executable, "-c", "import sys\n" + code + "\nprint('vramkit.families' in sys.modules)"],
                       capture_output=True, text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().splitlines()[-1]


def test_a_core_model_type_reads_without_the_families():
    assert _modules_after("from vramkit import load_model\nload_model('llama-3.1-8b')") == "False"


def test_a_family_model_type_loads_them_and_reads_as_before():
    code = ("from vramkit import load_model\nfrom vramkit.model import READERS\n"
            "s = load_model('qwen3-next-80b-a3b')\nassert s.mixer == 'gated_deltanet', s.mixer\n"
            "assert 'qwen3_next' in READERS")
    assert _modules_after(code) == "True"


def test_an_unknown_model_type_lists_every_family():
    code = ("from vramkit import ModelSpec, VramkitError\ntry:\n    ModelSpec.from_config({'model_type': 'nosuch'})\n"
            "except VramkitError as e:\n    assert 'qwen3_next' in str(e) and 'llama' in str(e), e")
    assert _modules_after(code) == "True"


def test_no_family_changes_what_model_py_reads_itself():
    """The lazy import is sound only while no family registers a reader, alias or default for a
    model_type that vramkit.model reads itself (it would apply only after the first family config)."""
    code = ("import copy, vramkit.model as m\n"
            "core = set(m.READERS)\n"
            "before = {k: copy.deepcopy({t: getattr(m, k).get(t) for t in core}) for k in ('ATTRIBUTE_MAPS', 'CLASS_DEFAULTS')}\n"
            "readers = {t: m.READERS[t] for t in core}\n"
            "import vramkit.families\n"
            "assert all(m.READERS[t] is readers[t] for t in core), 'a family replaces a reader of vramkit.model'\n"
            "for k, d in before.items():\n"
            "    assert all(getattr(m, k).get(t) == v for t, v in d.items()), f'a family changes {k} of a core type'")
    assert _modules_after(code) == "True"
