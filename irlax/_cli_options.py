"""Command-line options generated from dataclasses: the one way every `irlax` subcommand gets its.

Each field of a dataclass becomes one `--field-name` option. Its help is the field's entry in
the class docstring's Google-style `Attributes:` section (a field without one is refused), and
its type comes from the annotation:

- `bool`: a flag pair, `--name` / `--no-name`;
- `int`, `float`, `str`, `Path`: one value of that type;
- `Literal["a", "b"]`: one of the listed choices;
- `tuple[int, ...]` (layer widths): comma-separated, e.g. `64,64`; an empty string is `()`;
- a Flax module (a reward network): `linear`, or the hidden widths of an MLP, e.g. `64,64`;
- `X | None`: as `X`, or `none`.

An option that is not given is left out, so the dataclass's own default applies; a field
without a default is a required option. Building the dataclass from the parsed options runs
its validation (`__post_init__`), so a refused value reads as the config's own `ValueError`.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal

NONE = "none"


def field_docs(cls: type) -> dict[str, str]:
    """Each field's description from the `Attributes:` section of a Google-style docstring.

    Args:
        cls: a class whose docstring has an `Attributes:` section of `name: description`
            entries, continuation lines indented deeper; entries of its base classes'
            docstrings are inherited (the class's own win).

    Returns:
        Field name to its description, continuation lines joined by spaces.
    """
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):  # the class's own entries last, so they win
        docs.update(_own_field_docs(klass))
    return docs


def _own_field_docs(cls: type) -> dict[str, str]:
    docs: dict[str, str] = {}
    lines = inspect.cleandoc(cls.__dict__.get("__doc__") or "").splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == "Attributes:"]
    if not starts:
        return docs
    section = _indent(lines[starts[0]])
    entry, name = None, None
    for line in lines[starts[0] + 1 :]:
        if not line.strip():
            continue
        indent = _indent(line)
        if indent <= section:
            break  # the next section
        entry = indent if entry is None else entry
        match = re.fullmatch(r"(\w+)(?: \([^)]*\))?:\s*(.*)", line.strip())
        if indent == entry and match:
            name = match.group(1)
            docs[name] = match.group(2)
        elif name is not None:
            docs[name] = f"{docs[name]} {line.strip()}".strip()
    return docs


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def add_options(
    parser: argparse.ArgumentParser,
    cls: type,
    title: str | None = None,
    skip: tuple[str, ...] = (),
    prefix: str = "",
    prefixed: tuple[str, ...] = (),
    defaults: Any = None,
) -> None:
    """Add one `--option` per field of the dataclass `cls`, in a group of their own.

    Args:
        parser: the (sub)command's parser.
        cls: a dataclass documenting every field under `Attributes:`.
        title: the group's heading in `--help` (default: the class's name and module).
        skip: fields that get no option (set by the command itself, e.g. a nested config).
        prefix: put before the option names of the fields in `prefixed` (a nested config's
            fields that its parent has too: `--generator-learning-rate`).
        prefixed: the fields whose options get `prefix`.
        defaults: an instance of `cls` whose values `--help` shows as the defaults (a nested
            config's, which its parent's default sets); None for the class's own defaults.

    Raises:
        TypeError: a field without a description, or of a type the command line cannot read.
    """
    docs = field_docs(cls)
    hints = typing.get_type_hints(cls)
    summary = inspect.cleandoc(cls.__doc__ or "").split("\n\n")[0]
    group = parser.add_argument_group(title or f"{cls.__module__}.{cls.__qualname__}", summary)
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        if not docs.get(field.name):
            raise TypeError(f"{cls.__name__}.{field.name} has no entry under Attributes:")
        kwargs = _argument(hints[field.name], f"{cls.__name__}.{field.name}")
        default = _default(field) if defaults is None else getattr(defaults, field.name)
        if default is dataclasses.MISSING:
            kwargs["required"] = True
            note = ""
        else:
            note = f" (default: {_show(default)})"
        name = prefix + field.name if field.name in prefixed else field.name
        group.add_argument(
            "--" + name.replace("_", "-"),
            dest=_dest(cls, field.name),
            default=argparse.SUPPRESS,
            help=(docs[field.name] + note).replace("%", "%%"),
            **kwargs,
        )


def build(cls: type, args: argparse.Namespace) -> Any:
    """The dataclass `cls` from the options given (its defaults for the rest), validated.

    Args:
        cls: a dataclass whose options `add_options` added to the parser.
        args: the parsed command line.

    Returns:
        `cls(**given)`; its `__post_init__` refuses bad values with a `ValueError`.
    """
    return cls(**given(cls, args))


def given(cls: type, args: argparse.Namespace) -> dict[str, Any]:
    """The fields of `cls` given on the command line, by name (those left out are absent)."""
    return {
        field.name: getattr(args, _dest(cls, field.name))
        for field in dataclasses.fields(cls)
        if hasattr(args, _dest(cls, field.name))
    }


def _dest(cls: type, name: str) -> str:
    # Namespaced, so that two classes of one command may share a field name without clashing
    # in the namespace (argparse still refuses two options of one name, which is what we want).
    return f"{cls.__module__}.{cls.__qualname__}.{name}"


def _default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def _show(value: Any) -> str:
    if value is None:
        return NONE
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or '""'
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _argument(hint: Any, where: str) -> dict:
    """`add_argument` keywords that read a value of type `hint` from the command line."""
    if hint is bool:
        return {"action": argparse.BooleanOptionalAction}
    optional = _optional(hint)
    if optional is not None:
        inner = _argument(optional, where)
        if "action" in inner:
            raise TypeError(f"{where}: a bool or None cannot be read from the command line")
        convert, choices = inner["type"], inner.get("choices")
        kwargs = {
            "type": _named(lambda text: None if text.lower() == NONE else convert(text), convert),
            "metavar": f"{inner['metavar']}|{NONE}",
        }
        if choices is not None:
            kwargs["choices"] = [*choices, None]
            kwargs["metavar"] = "{" + ",".join(map(str, choices)) + f",{NONE}" + "}"
        return kwargs
    if typing.get_origin(hint) is Literal:
        choices = typing.get_args(hint)
        kind = type(choices[0])
        if not all(type(c) is kind for c in choices):
            raise TypeError(f"{where}: the choices of a Literal must share one type")
        metavar = "{" + ",".join(map(str, choices)) + "}"
        return {"type": kind, "choices": choices, "metavar": metavar}
    if hint is Path:
        return {"type": _named(_path, Path), "metavar": "PATH"}
    if hint in (int, float, str):
        return {"type": hint, "metavar": hint.__name__.upper()}
    if typing.get_origin(hint) is tuple:
        item, *rest = typing.get_args(hint)
        if rest == [Ellipsis] and item in (int, float):
            return {
                "type": _named(_tuple_of(item), item),
                "metavar": f"{item.__name__.upper()},...",
            }
    if _is_module(hint):
        return {"type": _reward_model, "metavar": "linear|WIDTH,..."}
    raise TypeError(f"{where}: the command line cannot read a {hint!r}")


def _optional(hint: Any) -> Any:
    """`X` for the annotation `X | None`, else None."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(rest) == 1 and len(typing.get_args(hint)) == 2:
            return rest[0]
    return None


def _named(convert, kind):
    """`convert` under the name of `kind`, for argparse's "invalid int value: 'x'" messages."""
    convert.__name__ = getattr(kind, "__name__", str(kind))
    return convert


def _path(text: str) -> Path:
    """A path; an empty one (an unset shell variable, `--out $OUT`) is refused, since `Path("")`
    is the current folder and a command would write its files there."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            f"expected a path, got {text!r} (an empty path would be the current folder)"
        )
    return Path(text)


def _tuple_of(kind):
    def convert(text: str) -> tuple:
        try:
            return tuple(kind(w) for w in text.split(",")) if text.strip() else ()
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {kind.__name__}s such as 64,64, got {text!r}"
            ) from None

    return convert


def _is_module(hint: Any) -> bool:
    if not isinstance(hint, type) or not hint.__module__.startswith("flax"):
        return False
    from flax import linen as nn

    return issubclass(hint, nn.Module)


def _reward_model(text: str):
    """`linear` is `LinearReward()`; widths such as `64,64` are `MLPReward(hidden=(64, 64))`."""
    from irlax.nets import LinearReward, MLPReward

    if text.strip().lower() == "linear":
        return LinearReward()
    hidden = _tuple_of(int)(text)
    if not hidden:
        raise argparse.ArgumentTypeError(f"expected linear or widths such as 64,64, got {text!r}")
    return MLPReward(hidden=hidden)
