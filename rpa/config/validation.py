"""Loaded data to a checked ``Config``, and what is wrong said plainly: the key path at
fault, a misspelt key with its likely meaning, a folder that cannot be written."""

from __future__ import annotations

import difflib
import tempfile
import types
import typing
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ValidationError

from rpa.config.model import Config
from rpa.errors import ConfigError


def parse_config(data: Any, source: str = "<config>") -> Config:
    """Validate already-loaded YAML data; errors name the source, key path and expectation."""
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping at the top level", file=source)
    try:
        cfg = Config.model_validate(data)
    except ValidationError as err:
        problems = [_problem(e) for e in err.errors()]
        if len(problems) == 1:
            key, msg = problems[0]
            raise ConfigError(msg, file=source, key=key) from err
        listed = "\n".join(f"  {key}: {msg}" for key, msg in problems)
        raise ConfigError(f"{len(problems)} problems:\n{listed}", file=source) from err
    cfg.source = source
    cfg.check_meaning()
    return cfg


def _problem(error: Any) -> tuple[str, str]:
    """One validation error as (key path, what is wrong), a misspelt key with its likely
    meaning."""
    loc = tuple(error["loc"])
    msg = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        known = _fields_at(loc[:-1])
        near = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
        msg = f"unknown key; did you mean '{near[0]}'?" if near else (
            "unknown key" + (f" (known here: {', '.join(known)})" if known else ""))
    return _key_path(loc), msg


def _key_path(loc: tuple[Any, ...]) -> str:
    """A key path as the configuration file reads: ``accounts[0].email``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model class an annotation holds (directly, in a list, or optional)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (list, typing.Union, types.UnionType, Annotated):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys the configuration knows at ``loc`` (a path of keys and list indexes)."""
    model: type[BaseModel] | None = Config
    for part in loc:
        if model is None:
            return []
        if isinstance(part, int):
            continue
        info = model.model_fields.get(str(part))
        model = _model_in(info.annotation) if info is not None else None
    if model is None:
        return []
    return [name for name in model.model_fields if name != "source"]


def check_folders(cfg: Config) -> None:
    """The state and recordings folders can be written (or created): else a ConfigError
    naming the folder, before any browser starts."""
    for key in ("state_dir", "recordings_dir"):
        folder = Path(getattr(cfg.paths, key))
        probe = folder
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if not probe.is_dir():
            raise ConfigError(f"{probe} is not a folder, so {folder} cannot be created",
                              file=cfg.source, key=f"paths.{key}")
        try:  # a real write: permissions, read-only mounts and ACLs all answer
            with tempfile.TemporaryFile(dir=probe):
                pass
        except OSError as err:
            where = "" if probe == folder else f" (in {probe}, where it would be created)"
            raise ConfigError(f"{folder} is not writable by this user{where}: "
                              f"{err.strerror or err}", file=cfg.source,
                              key=f"paths.{key}") from None
