"""vramkit.record: frozen dataclasses built without importing `dataclasses` at start-up."""
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vramkit import load_model
from vramkit.record import FrozenInstanceError, field, record, replace

ROOT = Path(__file__).resolve().parent.parent


@record
class Point:
    """A test record."""

    x: int
    y: int = 2
    tags: dict = field(default_factory=dict)
    note: str = field(default="", compare=False, repr=False)


@dataclasses.dataclass(frozen=True)
class DataPoint:
    """The same fields as a standard frozen dataclass."""

    x: int
    y: int = 2
    tags: dict = dataclasses.field(default_factory=dict)
    note: str = dataclasses.field(default="", compare=False, repr=False)


def test_a_record_behaves_as_the_frozen_dataclass():
    a, d = Point(1, note="a"), DataPoint(1, note="a")
    assert repr(a).replace("Point", "") == repr(d).replace("DataPoint", "")
    assert a == Point(1, 2, {}, note="other") and a != Point(1, 3)  # `note` is not compared
    assert hash(a.__class__(1, tags=())) == hash(Point(1, tags=(), note="x"))
    assert Point(1).tags is not Point(1).tags  # a fresh default per instance
    assert (a == d) is False  # another class: never equal, as between two dataclasses
    with pytest.raises(FrozenInstanceError):
        a.x = 5
    with pytest.raises(AttributeError):
        del a.y
    with pytest.raises(TypeError):
        Point()  # x is required
    assert Point.__match_args__ == ("x", "y", "tags", "note")


def test_the_standard_dataclasses_api_works_on_records():
    a = Point(1, tags={"k": 1})
    assert dataclasses.is_dataclass(a)
    assert [f.name for f in dataclasses.fields(a)] == [f.name for f in dataclasses.fields(DataPoint)]
    assert [(f.compare, f.repr) for f in dataclasses.fields(a)] == [(f.compare, f.repr) for f in dataclasses.fields(DataPoint)]
    assert dataclasses.asdict(a) == dataclasses.asdict(DataPoint(1, tags={"k": 1}))
    assert dataclasses.replace(a, y=7) == replace(a, y=7) == Point(1, 7, {"k": 1})


def test_model_specs_compare_and_copy_as_before():
    spec = load_model("llama-3.1-8b")
    assert dataclasses.is_dataclass(spec) and len(dataclasses.fields(spec)) == len(spec.__record_fields__)
    assert spec == load_model("llama-3.1-8b") and hash(spec) == hash(load_model("llama-3.1-8b"))
    assert spec.with_changes(vocab_size=1000).vocab_size == 1000
    assert dataclasses.replace(spec, vocab_size=1000) == spec.with_changes(vocab_size=1000)
    with pytest.raises(FrozenInstanceError):
        spec.vocab_size = 3


def test_the_command_path_never_imports_dataclasses():
    """`import dataclasses` costs ~12 ms of start-up (it imports inspect, ast, dis, tokenize): the
    modules `fit`, `infer`, `params` and `models` import use `vramkit.record` instead."""
    code = ("import sys\nfrom vramkit.cli import main\n"
            "main(['fit', 'llama-3.1-8b', '--gpu', 'rtx-4090', '--json'])\n"
            "main(['infer', 'qwen3-8b', '--context', '4096', '--engine', 'vllm', '--gpu', 'h100-sxm5', '--json'])\n"
            "main(['infer', 'qwen3-8b', '--context', '4096', '--engine', 'llama.cpp', '--weights', 'q4_k_m', '--json'])\n"
            "main(['models', '--json'])\n"
            "print(sorted(m for m in ('dataclasses', 'inspect', 'ast') if m in sys.modules), file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().splitlines()[-1] == "[]", "a module on the command path imports dataclasses: use vramkit.record"
