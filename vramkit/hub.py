"""Hugging Face Hub ids as users type them: config.json and safetensors headers, never weights.

`config_path("org/name")` is the path of the repo's config.json: from the local Hugging Face cache
when it is there, else downloaded into that cache with huggingface_hub (a few KB). With
`HF_HUB_OFFLINE=1` nothing is fetched. `safetensors_summary` reads the checkpoint's tensor headers
through `get_safetensors_metadata` (HTTP range requests of a few KB per file) for the exact stored
bytes per dtype. Every failure is one line that says what to do: a gated repo (401/403), an unknown
or private repo (404), no config.json, no network, huggingface_hub missing. huggingface_hub is
imported only here and only when needed (`import vramkit` stays fast). Endpoint, token and cache
come from huggingface_hub's own settings (HF_ENDPOINT, HF_TOKEN, HF_HOME / HF_HUB_CACHE).
"""
from __future__ import annotations

import contextlib
import logging

from .errors import VramkitError

# Seconds to wait for the Hub before saying it cannot be reached (huggingface_hub's default is 10).
TIMEOUT = 10


def _hf():
    try:
        import huggingface_hub
    except ImportError:
        raise VramkitError("reading a Hub id needs huggingface_hub: pip install 'vramkit[files]' "
                           "(or pass a local config.json path)") from None
    return huggingface_hub


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _explain(repo_id: str, e: Exception, what: str) -> VramkitError:
    """One line for a huggingface_hub error: what went wrong and what to do."""
    from huggingface_hub import errors

    if isinstance(e, errors.LocalEntryNotFoundError):  # a subclass of EntryNotFoundError: nothing reached
        return VramkitError(f"{repo_id}: cannot reach the Hugging Face Hub to fetch {what} and it is not cached; "
                            "check the network, or download it once and set HF_HUB_OFFLINE=1, or pass a local path")
    if isinstance(e, errors.GatedRepoError):
        return VramkitError(f"{repo_id}: gated repo on the Hub; accept its license on the model page, then log in "
                            "('hf auth login') or set HF_TOKEN")
    if isinstance(e, errors.RepositoryNotFoundError):
        return VramkitError(f"{repo_id}: no such repo on the Hub (or private: log in with 'hf auth login' or set "
                            "HF_TOKEN); check the spelling, or pass a local config.json path")
    if isinstance(e, errors.RevisionNotFoundError):
        return VramkitError(f"{repo_id}: no such revision on the Hub")
    if isinstance(e, errors.EntryNotFoundError):
        return VramkitError(f"{repo_id}: the repo has no {what}")
    if isinstance(e, errors.HfHubHTTPError):
        status = getattr(getattr(e, "response", None), "status_code", None)
        if status in (401, 403):
            return VramkitError(f"{repo_id}: the Hub refused access ({status}); log in ('hf auth login') or set HF_TOKEN")
        return VramkitError(f"{repo_id}: the Hub answered {status} for {what}; try again later or pass a local path")
    if isinstance(e, errors.OfflineModeIsEnabled):
        return _offline_error(repo_id, what)
    # LocalEntryNotFoundError (the Hub unreachable and nothing cached), connection errors, timeouts
    return VramkitError(f"{repo_id}: cannot reach the Hugging Face Hub to fetch {what} "
                        f"({type(e).__name__}); check the network, or download it once and set HF_HUB_OFFLINE=1, "
                        "or pass a local path")


def _offline_error(repo_id: str, what: str) -> VramkitError:
    return VramkitError(f"{repo_id}: {what} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set; "
                        f"unset it to download, or run 'hf download {repo_id} config.json', or pass a local path")


@contextlib.contextmanager
def _quiet():
    """huggingface_hub logs each retry to stderr; vramkit's one-line error says it all."""
    log = logging.getLogger("huggingface_hub")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


def config_path(repo_id: str, revision: str | None = None) -> str:
    """The local path of `repo_id`'s config.json: the cache's copy, else downloaded into the cache."""
    hf = _hf()
    cached = hf.try_to_load_from_cache(repo_id, "config.json", revision=revision)
    if isinstance(cached, str):
        return cached
    if _offline():
        raise _offline_error(repo_id, "config.json")
    try:
        with _quiet():
            return hf.hf_hub_download(repo_id, "config.json", revision=revision, etag_timeout=TIMEOUT)
    except Exception as e:  # huggingface_hub's errors, and httpx's for the network
        raise _explain(repo_id, e, "config.json") from None


def safetensors_summary(repo_id: str, revision: str | None = None) -> dict:
    """Element counts and stored bytes of `repo_id`'s safetensors checkpoint, from its headers only.

    Returns {"params": int, "bytes": int, "by_dtype": {dtype: elements}} as
    `sources.safetensors_params` does for local files (the bytes are the tensors' data, headers aside).
    """
    hf = _hf()
    if _offline():
        raise _offline_error(repo_id, "the safetensors headers")
    try:
        with _quiet():
            meta = hf.get_safetensors_metadata(repo_id, revision=revision, timeout=TIMEOUT)
    except Exception as e:
        if type(e).__name__ == "NotASafetensorsRepoError":
            raise VramkitError(f"{repo_id}: the repo has no safetensors checkpoint "
                               "(no model.safetensors or model.safetensors.index.json)") from None
        raise _explain(repo_id, e, "the safetensors headers") from None
    by_dtype: dict[str, int] = {}
    params = total = 0
    for f in meta.files_metadata.values():
        for t in f.tensors.values():
            n = 1
            for d in t.shape:
                n *= d
            if t.dtype not in _WIDTH:
                raise VramkitError(f"{repo_id}: tensor dtype '{t.dtype}' is not one vramkit knows")
            params += n
            total += n * _WIDTH[t.dtype]
            by_dtype[t.dtype] = by_dtype.get(t.dtype, 0) + n
    return {"params": params, "bytes": total, "by_dtype": by_dtype}


_WIDTH = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "U16": 2,
          "U32": 4, "U64": 8, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1}
