"""Turn what a user names as MODEL into a `ModelSpec`, and read sizes from checkpoint files.

MODEL may be a config.json path, a folder holding one, a catalog name, or a Hugging Face repo id
("org/name"): its config.json from the local Hugging Face cache, else fetched into it (a few KB,
never weights; HF_HUB_OFFLINE=1 fetches nothing; see vramkit.hub). A path wins over a catalog name, so a local folder called like a catalog model is
read from disk. `safetensors_params` and `gguf_tensors` read exact element counts and stored bytes
from checkpoint headers without loading any weights.
"""
from __future__ import annotations

from pathlib import Path

from . import catalog
from .errors import VramkitError, did_you_mean
from .model import ModelSpec


def load_model(model: str | Path | dict | ModelSpec) -> ModelSpec:
    """A ModelSpec from a spec, a config dict, a config.json path or folder, or a catalog name."""
    if isinstance(model, ModelSpec):
        return model
    if isinstance(model, dict):
        return ModelSpec.from_config(model)
    path = Path(model)
    if path.exists():
        return ModelSpec.from_config(path)
    name = str(model)
    if name.lower() in {n.lower() for n in catalog.model_names()}:
        entry = catalog.model_entry(name)
        return ModelSpec.from_config(entry["config"], source=f"catalog:{entry['name']}")
    if _looks_like_repo_id(name):
        return ModelSpec.from_config(Path(_cached_hub_config(name)), source=f"hub:{name}")
    looks_like_path = name.endswith(".json") or "/" in name or name.startswith(".")
    if looks_like_path:
        raise VramkitError(f"{name}: no such file or folder")
    raise VramkitError(
        f"unknown model '{name}': not a config.json path or a catalog name{did_you_mean(name, catalog.model_names())}"
        " (see 'vramkit models')")


def _looks_like_repo_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "/")) and not name.endswith(".json")


def _cached_hub_config(repo_id: str) -> str:
    """The path of `repo_id`'s config.json: the local Hugging Face cache's, else fetched (vramkit.hub)."""
    from .hub import config_path

    return config_path(repo_id)


def safetensors_params(path: str | Path) -> dict:
    """Element counts and stored bytes of a .safetensors file or a folder of them, from headers only.

    Returns {"params": int, "bytes": int, "by_dtype": {dtype: elements}}. A checkpoint's element
    count can exceed the model's nn.Parameters by saved buffers (e.g. rotary inv_freq).
    """
    from safetensors import safe_open

    path = Path(path)
    files = sorted(path.glob("*.safetensors")) if path.is_dir() else [path]
    if not files:
        raise VramkitError(f"{path}: no .safetensors files")
    widths = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
              "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1, "U16": 2, "U32": 4, "U64": 8}
    by_dtype: dict[str, int] = {}
    total_bytes = 0
    for f in files:
        try:
            with safe_open(str(f), framework="numpy") as st:
                for name in st.keys():
                    sl = st.get_slice(name)
                    n = 1
                    for d in sl.get_shape():
                        n *= d
                    dtype = sl.get_dtype()
                    by_dtype[dtype] = by_dtype.get(dtype, 0) + n
                    total_bytes += n * widths.get(dtype, 0)
        except FileNotFoundError:
            raise VramkitError(f"{f}: no such file") from None
        except Exception as e:  # safetensors raises its own error types for bad headers
            raise VramkitError(f"{f}: not a safetensors file ({str(e).splitlines()[0]})") from None
    return {"params": sum(by_dtype.values()), "bytes": total_bytes, "by_dtype": by_dtype}


def gguf_tensors(path: str | Path) -> dict:
    """Element counts and stored bytes of a GGUF file by tensor type, from its header.

    Returns {"architecture": str | None, "params": int, "bytes": int, "by_type": {type: [elements, bytes]}}.
    """
    import gguf

    try:
        reader = gguf.GGUFReader(str(path))
    except FileNotFoundError:
        raise VramkitError(f"{path}: no such file") from None
    except Exception as e:
        raise VramkitError(f"{path}: not a GGUF file ({str(e).splitlines()[0]})") from None
    by_type: dict[str, list[int]] = {}
    for t in reader.tensors:
        entry = by_type.setdefault(t.tensor_type.name, [0, 0])
        entry[0] += int(t.n_elements)
        entry[1] += int(t.n_bytes)
    arch = reader.fields.get("general.architecture")
    architecture = bytes(arch.parts[arch.data[0]]).decode() if arch is not None else None
    return {"architecture": architecture, "params": sum(v[0] for v in by_type.values()),
            "bytes": sum(v[1] for v in by_type.values()), "by_type": by_type}
