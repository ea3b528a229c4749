"""Command-line options made from the settings classes, so each setting is declared once.

A settings field gives its option everything: the environment variable (the class's
prefix and the field's name), the default, the type (choices for a Literal), and the help
(the field's line under "Attributes:" in the class docstring). A flag overrides the
environment only when given.
"""

from __future__ import annotations

import argparse
import inspect
import re
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic_settings import BaseSettings

from poster_index.settings import IndexSettings

S = TypeVar("S", bound=BaseSettings)

_ATTRIBUTE = re.compile(r"^    (\w+): (.*)$")


@dataclass(frozen=True)
class Flag:
    """One option for one settings field.

    Attributes:
        field: The settings field.
        flag: The option ("--port"); None for "--" and the field with dashes.
        aliases: Older spellings still accepted.
        help: What it sets, when the docstring's line does not suit the command.
    """

    field: str
    flag: str | None = None
    aliases: tuple[str, ...] = ()
    help: str | None = None


def field_docs(cls: type[BaseSettings]) -> dict[str, str]:
    """Each field's description from the "Attributes:" section of cls's docstring."""
    docs: dict[str, str] = {}
    current: str | None = None
    inside = False
    for line in (inspect.getdoc(cls) or "").splitlines():
        if line.strip() == "Attributes:":
            inside = True
            continue
        if not inside:
            continue
        match = _ATTRIBUTE.match(line)
        if match:
            current = match.group(1)
            docs[current] = match.group(2).strip()
        elif current is not None and line.startswith("        "):
            docs[current] += " " + line.strip()
        elif line.strip():
            break
    return docs


def env_name(cls: type[BaseSettings], field: str) -> str:
    """The environment variable that sets field."""
    return f"{cls.model_config.get('env_prefix', '')}{field}".upper()


def _dest(cls: type[BaseSettings], field: str) -> str:
    return f"{cls.__name__}.{field}"


def _type_and_choices(annotation: Any) -> tuple[Any, Sequence[str] | None]:
    if get_origin(annotation) in (Union, types.UnionType):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    if get_origin(annotation) is Literal:
        return str, [str(a) for a in get_args(annotation)]
    if annotation in (int, float, str, Path):
        return annotation, None
    return str, None


def _metavar(field: str) -> str:
    return "SECONDS" if field.endswith("_s") else field.upper()


def add_settings_options(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type[BaseSettings],
    flags: Iterable[Flag | str],
) -> None:
    """Adds one option per flag, each described by its field of cls."""
    docs = field_docs(cls)
    for item in flags:
        flag = Flag(item) if isinstance(item, str) else item
        info = cls.model_fields[flag.field]
        kind, choices = _type_and_choices(info.annotation)
        described = flag.help or docs.get(flag.field, "").rstrip(".")
        default = "computed" if info.default_factory is not None else info.default
        shown = "" if default in (None, "") else f", default {default}"
        parser.add_argument(
            flag.flag or "--" + flag.field.replace("_", "-"),
            *flag.aliases,
            dest=_dest(cls, flag.field),
            type=kind,
            choices=choices,
            metavar=None if choices else _metavar(flag.field),
            help=f"{described} ({env_name(cls, flag.field)}{shown})".replace("%", "%%"),
        )


def given(args: argparse.Namespace, cls: type[BaseSettings]) -> dict[str, Any]:
    """The fields of cls that flags set (None: not given, the environment decides)."""
    prefix = cls.__name__ + "."
    return {
        name[len(prefix) :]: value
        for name, value in vars(args).items()
        if name.startswith(prefix) and value is not None
    }


def settings_from(args: argparse.Namespace, cls: type[S], **fields: Any) -> S:
    """cls from its environment variables, with the given flags (and fields) on top."""
    return cls(**{**given(args, cls), **fields})


def add_index_options(parser: argparse.ArgumentParser) -> None:
    """The index options every command that opens the index shares."""
    group = parser.add_argument_group("index (defaults from QDRANT_* environment variables)")
    add_settings_options(
        group,
        IndexSettings,
        [
            Flag(
                "path",
                "--index",
                aliases=("--index-path",),
                help="Qdrant Edge folder; implies the Edge backend",
            ),
            Flag("backend", "--index-backend"),
            Flag("url", "--qdrant-url", help="use a Qdrant server at this URL instead"),
            Flag("api_key", "--qdrant-api-key"),
            "collection",
        ],
    )


def index_settings_from(args: argparse.Namespace) -> IndexSettings:
    """IndexSettings from QDRANT_* variables and the index options.

    --index picks the Edge backend and --qdrant-url the server; --index-backend, when
    given, has the last word.
    """
    fields = given(args, IndexSettings)
    backend = fields.pop("backend", None)
    if "path" in fields:
        fields["backend"] = "edge"
    if "url" in fields:
        fields["backend"] = "server"
    if backend is not None:
        fields["backend"] = backend
    return IndexSettings(**fields)


def add_model_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """--model and --device of an in-process encoder (see wiring.choose_model)."""
    parser.add_argument(
        "--model",
        help="in-process model id or folder (default: ENCODER_MODEL, else the model the "
        "collection was built with)",
    )
    parser.add_argument(
        "--device", help="in-process encoder device: auto, cpu, cuda, mps (ENCODER_DEVICE)"
    )
