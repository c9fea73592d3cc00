"""Published weights from the Hugging Face Hub, as published: gated repository, pinned revision,
current and older file names, the user's token, the hub's own cache.

Order: a local file (``$SARGEO_WEIGHTS_DIR``, torch's hub checkpoint folder, a ``file://`` URL)
first; then the hub cache (``HF_HOME`` / ``HF_HUB_CACHE``) at the pinned revision, offline;
then a download at that revision with the token of ``HF_TOKEN`` or a saved ``hf auth login``.
Each failure says what to do: accept the licence of a gated repository, go online or copy the
file, or delete a file whose checksum does not match.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path


class WeightsUnavailable(FileNotFoundError):
    """The weights file cannot be had; the message says why and what to do."""


class ChecksumMismatch(ValueError):
    """A weights file is not the published one (damaged or another version)."""


def sha256_of(path: str | Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(path: Path, expected: str | None) -> Path:
    """``path`` if its SHA-256 is ``expected`` (or nothing is expected), else raise."""
    if expected:
        actual = sha256_of(path)
        if actual != expected.lower():
            raise ChecksumMismatch(
                f"{path}: checksum mismatch (SHA-256 {actual}, the published file has "
                f"{expected}); the file is damaged or another version: delete it and download "
                "it again")
    return path


def local_candidates(file_names: Sequence[str], url: str | None = None) -> list[Path]:
    """Where a user may have put the file by hand, first match wins."""
    import torch

    folders = []
    if os.environ.get("SARGEO_WEIGHTS_DIR"):
        folders.append(Path(os.environ["SARGEO_WEIGHTS_DIR"]))
    folders.append(Path(torch.hub.get_dir()) / "checkpoints")
    out = [folder / name for folder in folders for name in file_names]
    if url and url.startswith("file://"):
        out.insert(0, Path(url[len("file://"):]))
    return out


def _hub_help(repo: str, revision: str, names: Sequence[str]) -> str:
    return (f"download it where there is network (`hf download {repo} {names[0]} --revision "
            f"{revision}`, after accepting the licence at https://huggingface.co/{repo}) and "
            "copy the hub cache (HF_HOME), or put the file in $SARGEO_WEIGHTS_DIR")


def hub_file(repo: str, file_names: Sequence[str], revision: str, *,
             sha256: str | None = None, url: str | None = None, token: str | None = None,
             hint: str = "") -> Path:
    """The local path of the first of ``file_names`` (current name first, older names after)
    found locally, in the hub cache, or downloaded from ``repo`` at ``revision``."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    for path in local_candidates(file_names, url):
        if path.is_file():
            return check_sha256(path, sha256)
    for name in file_names:  # the hub cache, offline
        try:
            path = Path(hf_hub_download(repo, name, revision=revision, local_files_only=True))
            return check_sha256(path, sha256)
        except (LocalEntryNotFoundError, EntryNotFoundError, OfflineModeIsEnabled):
            continue
    looked = ", ".join(str(p) for p in local_candidates(file_names, url))
    missing = []
    for name in file_names:
        try:
            path = Path(hf_hub_download(repo, name, revision=revision, token=token))
            return check_sha256(path, sha256)
        except (LocalEntryNotFoundError, OfflineModeIsEnabled) as err:
            raise WeightsUnavailable(
                f"weights {file_names[0]} are not on this machine (looked in {looked} and the "
                f"hub cache at revision {revision}) and the hub cannot be reached ({err}): "
                f"{_hub_help(repo, revision, file_names)}. {hint}") from err
        except RemoteEntryNotFoundError:
            missing.append(name)
        except GatedRepoError as err:
            raise WeightsUnavailable(
                f"{repo} is a gated repository and this account has not been granted access: "
                f"accept its licence at https://huggingface.co/{repo} (logged in), then set "
                f"HF_TOKEN or run `hf auth login` and try again ({err}). {hint}") from err
        except RevisionNotFoundError as err:
            raise WeightsUnavailable(f"{repo} has no revision {revision} ({err}). {hint}") \
                from err
        except RepositoryNotFoundError as err:
            raise WeightsUnavailable(
                f"{repo} was not found or needs a token: set HF_TOKEN or run `hf auth login` "
                f"with an account that accepted its licence ({err}). {hint}") from err
        except (HfHubHTTPError, OSError) as err:  # other HTTP errors, network failures
            raise WeightsUnavailable(
                f"weights {file_names[0]} are not on this machine (looked in {looked} and the "
                f"hub cache at revision {revision}) and the download failed ({err}): "
                f"{_hub_help(repo, revision, file_names)}. {hint}") from err
    raise WeightsUnavailable(f"{repo} at revision {revision} has none of {missing}. {hint}")
