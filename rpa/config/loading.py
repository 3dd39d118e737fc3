"""The configuration file read from disk: YAML, the ``.env`` beside it, paths made
absolute; and the cache folder for compiled code kept between runs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from rpa.config.model import Config
from rpa.config.validation import check_folders, parse_config
from rpa.errors import ConfigError

DEFAULT_CONFIG = "rpa.yaml"


def load_dotenv(*folders: Path) -> None:
    """Read KEY=VALUE lines from the first ``.env`` found; the real environment wins."""
    for folder in folders:
        path = folder / ".env"
        if not path.is_file():
            continue
        for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("export "):
                line = line[len("export "):]
            if "=" not in line:
                raise ConfigError(f"line {lineno}: expected KEY=VALUE", file=str(path))
            key, value = line.split("=", 1)
            value = value.strip().strip("'\"")
            os.environ.setdefault(key.strip(), value)
        return


def cache_dir(name: str) -> Path | None:
    """``~/.cache/rpa/<name>`` (or under ``$XDG_CACHE_HOME``), made if need be: compiled code
    kept between runs so that a run starts sooner, never a run's data. None when it cannot
    be made (a read-only home): the caller then does without."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = root / "rpa" / name
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return path


# libyaml's loader when PyYAML was built with it: the same data, about ten times faster.
_FAST_YAML = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """Parse a YAML document (safe types only). A document the fast parser refuses is
    parsed again by the pure-Python one, whose error shows the line with a caret."""
    try:
        return yaml.load(text, Loader=_FAST_YAML)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        return yaml.safe_load(text)


def load_config(path: str | Path | None = None) -> Config:
    """Load and validate the YAML configuration file (default ``rpa.yaml``)."""
    cfg_path = Path(path or DEFAULT_CONFIG)
    if not cfg_path.is_file():
        raise ConfigError("file not found (create it from rpa.example.yaml)", file=str(cfg_path))
    try:
        data = load_yaml(cfg_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"not valid YAML: {err}", file=str(cfg_path)) from err
    load_dotenv(cfg_path.resolve().parent, Path.cwd())
    cfg = parse_config(data, str(cfg_path))
    base = cfg_path.resolve().parent
    if cfg.paths.selectors_overlay is None:
        cfg.paths.selectors_overlay = Path("selectors.local.yaml")
    for field in ("state_dir", "recordings_dir", "selectors_file", "selectors_overlay"):
        value = getattr(cfg.paths, field)
        if value is not None:
            value = Path(os.path.expanduser(str(value)))
            setattr(cfg.paths, field, value if value.is_absolute() else base / value)
    if cfg.mailbox is not None and cfg.mailbox.ca_file is not None:
        ca = cfg.mailbox.ca_file
        ca = ca if ca.is_absolute() else base / ca
        if not ca.is_file():
            raise ConfigError(f"{ca} is not a file (a PEM certificate of the CA to trust)",
                              file=str(cfg_path), key="mailbox.ca_file")
        cfg.mailbox.ca_file = ca
    check_folders(cfg)
    return cfg
