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

The stored notebooks are for every front end (Colab, Jupyter, Binder, the HTML book), so their
markdown holds no MyST-only syntax: after executing, the tool writes each `{glue:text}`name``
role's value (the text myst-nb would paste, from that run's glue output) into the prose, and turns
`:::{admonition}` blocks into HTML that Jupyter and Sphinx both render (`<details>` for a dropdown,
an admonition `<div>` otherwise). An answer cell (tagged `hide-input`, right after a dropdown) also
gets `hide-output` and Jupyter's collapsed flags, so nothing of the answer shows below the closed box.

    python tools/chapters.py build [NAME ...]    write and execute (all sources when no NAME)
    python tools/chapters.py write [NAME ...]    write only (no outputs, glue roles unfilled: nbval and the build need a build)
    python tools/chapters.py check               exit 1 if a notebook differs from its source or lacks outputs
    python tools/chapters.py new NAME            start chapters/src/NAME.md from a skeleton
"""
from __future__ import annotations

import html
import json
import re
import sys
from ast import literal_eval
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "chapters" / "src"
LANGS = ("ko", "en")
INSTALL_TAGS = ["remove-cell", "nbval-skip"]
TWIN_TEXT = {"ko": "[Read this chapter in English](../en/{name}.ipynb)",
             "en": "[이 장을 한국어로 읽기](../ko/{name}.ipynb)"}
_MARKER = re.compile(r"^<!-- (ko|en|both|code)((?: tags=[\w,-]+)?) -->$")
TIMEOUT_S = 120  # per cell; as _config.yml's execute.timeout: a stalled cell fails, never hangs
GLUE_ROLE = re.compile(r"\{glue(?::text)?\}`([^`]+)`")
_FENCE_OPEN = re.compile(r"^(:{3,})\{admonition\}\s*(.*)$")
_OPTION = re.compile(r"^:(\w+):\s*(.*)$")
_TARGET = re.compile(r"^\([\w-]+\)=[ \t]*\n?", re.M)  # MyST `(name)=` targets: nothing links to them
# Characters that would turn a pasted value into markup (emphasis, links, HTML, math, tables).
_MARKUP = re.compile(r"([\\`*_\[\]<>|$~])")
ANSWER_CLASS = "vk-answer"


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


def admonitions_to_html(text: str, where: str = "") -> str:
    """`:::{admonition} Title` blocks as HTML that CommonMark front ends and Sphinx both render.

    A dropdown becomes `<details class="vk-answer"><summary>Title</summary>` (closed until clicked,
    in Jupyter, Colab and the HTML book alike); any other class becomes the `<div class="admonition
    CLASS">` that the book theme styles. The body stays markdown: blank lines separate it from the
    HTML lines, so CommonMark parses it as usual.
    """
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        m = _FENCE_OPEN.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        fence, title, options, i = m.group(1), m.group(2).strip(), {}, i + 1
        while i < len(lines) and _OPTION.match(lines[i]):
            key, value = _OPTION.match(lines[i]).groups()
            options[key], i = value.strip(), i + 1
        body = []
        while i < len(lines) and lines[i].strip() != fence:
            if _FENCE_OPEN.match(lines[i]):
                sys.exit(f"{where}: nested admonitions are not supported")
            body.append(lines[i])
            i += 1
        if i == len(lines):
            sys.exit(f"{where}: admonition {title!r} is not closed with {fence}")
        i += 1
        classes = options.get("class", "").split()
        inner = "\n".join(body).strip("\n")
        if "dropdown" in classes:
            out += [f'<details class="{ANSWER_CLASS}">', f"<summary>{html.escape(title)}</summary>", "",
                    inner, "", "</details>"]
        else:
            kind = " ".join(c for c in classes if c) or "note"
            out += [f'<div class="admonition {html.escape(kind)}">',
                    f'<p class="admonition-title">{html.escape(title)}</p>', "", inner, "", "</div>"]
    return "\n".join(out)


def _ends_with_answer(text: str) -> bool:
    return text.rstrip().endswith("</details>") and ANSWER_CLASS in text


def notebook(name: str, lang: str):
    """The nbformat notebook for `lang`, without outputs (glue roles not yet filled in: see fill)."""
    import nbformat

    cells = [nbformat.v4.new_code_cell(install_source(), metadata={"tags": INSTALL_TAGS})]
    linked = False
    for kind, tags, text in parse(SRC / f"{name}.md"):
        if kind == "code":
            metadata = {}
            previous = cells[-1]
            if "hide-input" in tags and previous.cell_type == "markdown" and _ends_with_answer(previous.source):
                # The answer's computation: folded with its output under the closed answer box.
                tags = tags + ["hide-output"] if "hide-output" not in tags else tags
                metadata["jupyter"] = {"source_hidden": True, "outputs_hidden": True}
            if tags:
                metadata["tags"] = tags
            cells.append(nbformat.v4.new_code_cell(text.replace("{{lang}}", lang), metadata=metadata))
        elif kind in (lang, "both"):
            text = admonitions_to_html(_TARGET.sub("", text), f"chapters/src/{name}.md ({lang})").strip("\n")
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


def glue_values(nb) -> dict[str, str]:
    """name -> text/plain of every glue output in the executed notebook `nb` (myst-nb's format)."""
    values = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            record = output.get("metadata", {}).get("scrapbook")
            if record:
                values[record["name"]] = output["data"][record["mime_prefix"] + "text/plain"]
    return values


def paste_text(plain: str, spec: str = "") -> str:
    """What `{glue:text}` pastes for a text/plain repr, escaped for markdown.

    As myst-nb's format_plain_text: literal_eval the repr, then format it with `spec` (the part
    after the last ":" of `name:spec`, e.g. ",d"), converting to int or float by its type letter.
    """
    try:
        value = literal_eval(plain)
    except (SyntaxError, ValueError):
        value = plain
    if spec:
        kind = spec[-1]
        value = int(value) if kind in "bcdoxX" else float(value) if kind in "eEfFgGn%" else str(value)
        value = format(value, spec)
    return _MARKUP.sub(r"\\\1", str(value))


def _name_and_spec(role: str) -> tuple[str, str]:
    """"n:,d" -> ("n", ",d"); "n" -> ("n", "") (myst-nb splits at the last colon)."""
    name, colon, spec = role.rpartition(":")
    return (name, spec) if colon else (role, "")


def fill_markdown(text: str, values: dict[str, str], where: str = "") -> str:
    """`text` with every glue role replaced by its value; exits naming the missing glue name."""
    def paste(m):
        name, spec = _name_and_spec(m.group(1))
        if name not in values:
            sys.exit(f"{where}: no glue named {name!r} in the executed notebook "
                     f"(glued: {', '.join(sorted(values)) or 'none'})")
        return paste_text(values[name], spec)

    return GLUE_ROLE.sub(paste, text)


def fill(nb, where: str = "", values: dict[str, str] | None = None):
    """Write glued values into `nb`'s markdown cells (in place); returns `nb`.

    `values` defaults to the glue outputs of `nb` itself (an executed notebook).
    """
    values = glue_values(nb) if values is None else values
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            cell.source = fill_markdown(cell.source, values, f"{where} cell {i}")
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
    metadata = cell.get("metadata", {})
    return (cell["cell_type"], cell["source"], tuple(metadata.get("tags", [])),
            json.dumps(metadata.get("jupyter", {}), sort_keys=True))


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
        if any(c.cell_type == "code" and c.execution_count is None for c in stored.cells):
            found.append(f"{rel}: not executed (no stored outputs); run python tools/chapters.py build {name}")
            continue
        fresh = notebook(name, lang)
        values = glue_values(stored)
        missing = sorted({_name_and_spec(m.group(1))[0] for c in fresh.cells if c.cell_type == "markdown"
                          for m in GLUE_ROLE.finditer(c.source)} - set(values))
        if missing:
            found.append(f"{rel}: glue {', '.join(missing)} not in its outputs; run python tools/chapters.py build {name}")
            continue
        # The prose must be the source with the stored run's values pasted in (nbval checks that a
        # fresh run glues the same values, so the sentences are computed, never typed).
        if [_cell_key(c) for c in stored.cells] != [_cell_key(c) for c in fill(fresh, str(rel), values).cells]:
            found.append(f"{rel}: differs from chapters/src/{name}.md; run python tools/chapters.py build {name}")
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
                fill(execute(nb, path), str(path.relative_to(ROOT)))
            save(nb, path)
            print(f"{'executed' if command == 'build' else 'wrote'} {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
