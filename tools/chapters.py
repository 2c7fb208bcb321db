"""Chapter twins from one source: write chapters/{ko,en}/NAME.ipynb, execute them, save outputs.

A source chapters/src/NAME.md is a list of cells, each opened by a marker line:

    <!-- ko -->                 Korean markdown cell
    <!-- en -->                 English markdown cell
    <!-- both -->               markdown cell for both languages (rare: a figure, a table of code names)
    <!-- code -->               code cell shared by both twins
    <!-- code tags=remove-input,nbval-ignore-output -->   the same, with cell tags

Text before the first marker is a comment for authors and is dropped. In code cells `{{lang}}` becomes
"ko" or "en": the only way the twins' code may differ. The tool adds, in both twins, the hidden
install cell (first cell; repository URL from _config.yml) and, under the first heading, the link to
the twin. See chapters/README.md.

    python tools/chapters.py build [NAME ...]    write and execute (all sources when no NAME)
    python tools/chapters.py write [NAME ...]    write only (no outputs: nbval and the build need them)
    python tools/chapters.py check               exit 1 if a notebook differs from its source or lacks outputs
    python tools/chapters.py new NAME            start chapters/src/NAME.md from a skeleton
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "chapters" / "src"
LANGS = ("ko", "en")
INSTALL_TAGS = ["remove-cell", "nbval-skip"]
TWIN_TEXT = {"ko": "[Read this chapter in English](../en/{name}.ipynb)",
             "en": "[이 장을 한국어로 읽기](../ko/{name}.ipynb)"}
_MARKER = re.compile(r"^<!-- (ko|en|both|code)((?: tags=[\w,-]+)?) -->$")
TIMEOUT_S = 120  # per cell; as _config.yml's execute.timeout: a stalled cell fails, never hangs


def repository_url() -> str:
    """repository.url from _config.yml: the one place the book names its repository."""
    import yaml

    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]["url"]


def install_source() -> str:
    return ("# Installs vramkit when it is missing (Colab, Binder). Hidden in the book; nbval skips it.\n"
            "try:\n"
            "    import vramkit\n"
            "except ImportError:\n"
            f'    %pip install --quiet "vramkit[book] @ git+{repository_url()}"')


def parse(path: Path) -> list[tuple[str, list[str], str]]:
    """The cells of a source file as (kind, tags, text)."""
    cells: list[tuple[str, list[str], list[str]]] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        m = _MARKER.match(line)
        if m:
            tags = m.group(2).removeprefix(" tags=").split(",") if m.group(2) else []
            if tags and m.group(1) != "code":
                sys.exit(f"{path}:{n}: tags are for code cells only")
            cells.append((m.group(1), tags, []))
        elif line.startswith("<!-- ") and line.split()[1] in ("ko", "en", "both", "code"):
            sys.exit(f"{path}:{n}: malformed marker {line!r}; expected e.g. '<!-- code tags=a,b -->'")
        elif cells:
            cells[-1][2].append(line)
    return [(kind, tags, "\n".join(lines).strip("\n")) for kind, tags, lines in cells]


def notebook(name: str, lang: str):
    """The nbformat notebook for `lang`, without outputs."""
    import nbformat

    cells = [nbformat.v4.new_code_cell(install_source(), metadata={"tags": INSTALL_TAGS})]
    linked = False
    for kind, tags, text in parse(SRC / f"{name}.md"):
        if kind == "code":
            cells.append(nbformat.v4.new_code_cell(text.replace("{{lang}}", lang),
                                                   metadata={"tags": tags} if tags else {}))
        elif kind in (lang, "both"):
            if not linked:
                head, _, rest = text.partition("\n")
                if not head.startswith("# "):
                    sys.exit(f"{name}: the first {lang} markdown cell must start with '# Title'")
                text = f"{head}\n\n{TWIN_TEXT[lang].format(name=name)}\n{rest}".rstrip("\n")
                linked = True
            cells.append(nbformat.v4.new_markdown_cell(text))
    for i, cell in enumerate(cells):
        cell["id"] = f"{name}-{lang}-{i:03d}"  # stable ids: rewriting a chapter gives no spurious diff
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata.update({
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
        "language_info": {"name": "python"},
        "vramkit": {"source": f"chapters/src/{name}.md", "lang": lang},
    })
    return nb


def target(name: str, lang: str) -> Path:
    return ROOT / "chapters" / lang / f"{name}.ipynb"


def execute(nb, path: Path):
    """Run `nb` in this Python's kernel (cwd: the notebook's folder) and keep outputs and widget state."""
    from nbclient import NotebookClient

    client = NotebookClient(nb, timeout=TIMEOUT_S, kernel_name="python3", record_timing=False,
                            store_widget_state=True, resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return nb


def save(nb, path: Path) -> None:
    import nbformat

    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.validate(nb)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")


def sources() -> list[str]:
    return sorted(p.stem for p in SRC.glob("*.md") if p.name != "README.md")


def _cell_key(cell) -> tuple:
    return (cell["cell_type"], cell["source"], tuple(cell.get("metadata", {}).get("tags", [])))


def problems(name: str) -> list[str]:
    """What is wrong with the stored twins of source `name` (empty when they are up to date)."""
    import nbformat

    found = []
    for lang in LANGS:
        path = target(name, lang)
        rel = path.relative_to(ROOT)
        if not path.exists():
            found.append(f"{rel}: missing; run python tools/chapters.py build {name}")
            continue
        stored = nbformat.read(path, as_version=4)
        if [_cell_key(c) for c in stored.cells] != [_cell_key(c) for c in notebook(name, lang).cells]:
            found.append(f"{rel}: differs from chapters/src/{name}.md; run python tools/chapters.py build {name}")
        elif any(c.cell_type == "code" and c.execution_count is None for c in stored.cells):
            found.append(f"{rel}: not executed (no stored outputs); run python tools/chapters.py build {name}")
    return found


NEW = """Source of chapters/ko/{name}.ipynb and chapters/en/{name}.ipynb; see chapters/README.md.

<!-- ko -->
# 제목

<!-- en -->
# Title

<!-- code -->
import vramkit
from vramkit.book import glue

LANG = "{{{{lang}}}}"
"""


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("build", "write", "check", "new"):
        print(__doc__)
        return 2
    command, names = argv[0], argv[1:]
    if command == "new":
        for name in names:
            path = SRC / f"{name}.md"
            if path.exists():
                sys.exit(f"{path.relative_to(ROOT)} exists")
            path.write_text(NEW.format(name=name), encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}; add chapters/ko/{name} and chapters/en/{name} to _toc.yml")
        return 0
    if command == "check":
        found = [p for name in sources() for p in problems(name)]
        print("\n".join(found) or f"{len(sources())} chapter pairs up to date")
        return 1 if found else 0
    for name in names or sources():
        if not (SRC / f"{name}.md").exists():
            sys.exit(f"no chapters/src/{name}.md (have: {', '.join(sources())})")
        for lang in LANGS:
            path = target(name, lang)
            nb = notebook(name, lang)
            if command == "build":
                execute(nb, path)
            save(nb, path)
            print(f"{'executed' if command == 'build' else 'wrote'} {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
