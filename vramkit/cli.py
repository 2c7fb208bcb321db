"""The `vramkit` command: a thin layer over the library, with a stable `--json` contract.

Bad input prints one line on stderr and exits with code 2 (see vramkit.errors).
"""
from __future__ import annotations

import argparse
import json
import sys

from .errors import VramkitError


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line with exit code 2."""

    def error(self, message):  # noqa: D102
        raise VramkitError(f"{self.prog}: {message}")


def _emit(data: dict, as_json: bool, table) -> None:
    if as_json:
        print(json.dumps(data, indent=1, ensure_ascii=False))
    else:
        print(table(data))


def _cmd_params(args) -> dict:
    from .sources import load_model

    spec = load_model(args.model)
    return {"model": args.model, "model_type": spec.model_type, "params": spec.params(),
            "active_params": spec.active_params(), "breakdown": spec.breakdown()}


def _table_params(d: dict) -> str:
    from .units import fmt_count

    rows = [f"{d['model']} ({d['model_type']})",
            f"  params         {d['params']:>20,}  ({fmt_count(d['params'])})",
            f"  active params  {d['active_params']:>20,}  ({fmt_count(d['active_params'])})"]
    rows += [f"    {k:<12} {v:>20,}" for k, v in d["breakdown"].items() if v]
    return "\n".join(rows)


def _cmd_models(args) -> dict:
    from . import catalog
    from .sources import load_model

    out = []
    for name in catalog.model_names():
        spec = load_model(name)
        out.append({"name": name, "model_type": spec.model_type, "params": spec.params(),
                    "active_params": spec.active_params(), "hf_repo": catalog.model_entry(name)["hf_repo"]})
    return {"models": out}


def _table_models(d: dict) -> str:
    from .units import fmt_count

    return "\n".join(f"{m['name']:<24} {m['model_type']:<12} {fmt_count(m['params']):>9}  {m['hf_repo']}"
                     for m in d["models"])


COMMANDS = {
    "params": (_cmd_params, _table_params, "exact parameter count of MODEL"),
    "models": (_cmd_models, _table_models, "list the catalog models"),
}


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="vramkit", description="How much GPU memory a language model needs, and why.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, (_, _, help_text) in COMMANDS.items():
        s = sub.add_parser(name, help=help_text, description=help_text)
        if name not in ("models", "gpus", "formats"):
            s.add_argument("model", metavar="MODEL", help="config.json path, folder, or catalog name")
        s.add_argument("--json", action="store_true", help="machine-readable output")
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        run, table, _ = COMMANDS[args.command]
        _emit(run(args), args.json, table)
    except VramkitError as e:
        print(f"vramkit: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
