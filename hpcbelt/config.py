"""Study files: TOML parsed against a typed schema.

Every study kind declares a schema: a nested mapping of key name -> :class:`Key` (type, default,
unit, one-line description) or of table name -> sub-schema, and :class:`TableList` for arrays of
tables such as ``[[experiment]]``.  :func:`validate` checks a parsed TOML document against it:

* an unknown key is an error that names the key, the file and the closest valid names
  (typos must not survive silently);
* a value of the wrong type is an error naming the key, the expected type and the unit;
* a float that is not finite (``inf``, ``nan``, in a list too) is an error naming the key;
* a missing key takes its documented default, or is an error if it has none.

The returned document is a plain ``dict`` with every default filled in, so that the merged
configuration can be stored in the output file and read back without the schema.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from .errors import InputError

REQUIRED = object()
"""Sentinel default: the key must be given."""


@dataclass(frozen=True)
class Key:
    """One scalar (or list) key of a study file."""

    kind: str                     # "float", "int", "str", "bool", "float_or_list", "list_of_float"
    default: Any = REQUIRED
    unit: str = ""
    doc: str = ""
    choices: tuple = ()
    check: Callable[[Any], str | None] | None = None   # returns an error text or None
    optional: bool = False        # may be absent with no default (value None)


@dataclass(frozen=True)
class TableList:
    """An array of tables, e.g. ``[[experiment]]``; each entry validated against ``schema``."""

    schema: Mapping[str, Any]
    doc: str = ""
    min_items: int = 1


_KIND_NAMES = {
    "float": "a number",
    "int": "an integer",
    "str": "a string",
    "bool": "true or false",
    "float_or_list": "a number or a list of numbers",
    "list_of_float": "a list of numbers",
    "list_of_str": "a list of strings",
}


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _coerce(value: Any, key: Key, where: str) -> Any:
    kind = key.kind
    ok = True
    if kind == "float":
        ok = _is_number(value)
        value = float(value) if ok else value
    elif kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "str":
        ok = isinstance(value, str)
    elif kind == "bool":
        ok = isinstance(value, bool)
    elif kind in ("float_or_list", "list_of_float"):
        if kind == "float_or_list" and _is_number(value):
            value = float(value)
        elif isinstance(value, list) and value and all(_is_number(v) for v in value):
            value = [float(v) for v in value]
        else:
            ok = False
    elif kind == "list_of_str":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    else:  # pragma: no cover - schema bug
        raise ValueError(f"unknown key kind {kind!r}")
    if not ok:
        unit = f" in {key.unit}" if key.unit else ""
        raise InputError(f"{where}: expected {_KIND_NAMES[kind]}{unit}, got {value!r}")
    if kind in ("float", "float_or_list", "list_of_float") and not all(
            math.isfinite(v) for v in (value if isinstance(value, list) else [value])):
        unit = f" in {key.unit}" if key.unit else ""
        raise InputError(f"{where}: expected a finite number{unit} (inf and nan are refused), got {value!r}")
    if key.choices and value not in key.choices:
        raise InputError(
            f"{where}: expected one of {', '.join(repr(c) for c in key.choices)}, got {value!r}")
    if key.check is not None:
        problem = key.check(value)
        if problem:
            unit = f" {key.unit}" if key.unit else ""
            raise InputError(f"{where}: {problem}, got {value!r}{unit}")
    return value


def _unknown(name: str, allowed, where: str) -> InputError:
    close = difflib.get_close_matches(name, list(allowed), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return InputError(f"{where}: unknown key '{name}'{hint}; "
                      f"valid keys here: {', '.join(sorted(allowed))}")


def validate(doc: Mapping[str, Any], schema: Mapping[str, Any], source: str,
             prefix: str = "") -> dict:
    """Check ``doc`` against ``schema``; return a new dict with defaults filled in.

    ``source`` (usually the file name) and ``prefix`` (the dotted path of the table) are used
    only to build error messages of the form ``source: key.path: what was expected``.
    """
    if not isinstance(doc, Mapping):
        raise InputError(f"{source}: {prefix.rstrip('.') or 'document'}: expected a table")
    out: dict = {}
    for name, value in doc.items():
        if name not in schema:
            raise _unknown(name, schema.keys(), f"{source}: {prefix.rstrip('.') or 'top level'}")
    for name, spec in schema.items():
        where = f"{source}: {prefix}{name}"
        present = name in doc
        if isinstance(spec, Key):
            if present:
                out[name] = _coerce(doc[name], spec, where)
            elif spec.default is not REQUIRED:
                out[name] = spec.default
            elif spec.optional:
                out[name] = None
            else:
                raise InputError(f"{where}: missing required key ({spec.doc or spec.kind})")
        elif isinstance(spec, TableList):
            items = doc.get(name, [])
            if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
                raise InputError(f"{where}: expected an array of tables ([[{prefix}{name}]])")
            if len(items) < spec.min_items:
                raise InputError(f"{where}: expected at least {spec.min_items} [[{name}]] table(s)")
            out[name] = [validate(item, spec.schema, source, f"{prefix}{name}[{i}].")
                         for i, item in enumerate(items)]
        else:  # sub-table
            sub = doc.get(name, {})
            if not isinstance(sub, Mapping):
                raise InputError(f"{where}: expected a table [{prefix}{name}]")
            out[name] = validate(sub, spec, source, f"{prefix}{name}.")
    return out


def read_toml(path: str | Path) -> tuple[dict, str]:
    """Read a TOML file; return (parsed document, raw text). Errors name the file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{p}: study file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot read study file ({exc})") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{p}: not valid TOML ({exc})") from None
    return doc, text


@dataclass(frozen=True)
class StudyFile:
    """A study file read once: its path, raw text and parsed TOML (before ``--set`` overrides).

    The command line reads the file once, finds its ``kind`` and hands this object to that
    kind's loader; loaders also accept a plain path (:meth:`coerce`).
    """

    path: Path
    text: str
    doc: dict

    @classmethod
    def read(cls, path: str | Path) -> "StudyFile":
        doc, text = read_toml(path)
        return cls(Path(path), text, doc)

    @classmethod
    def coerce(cls, source: "StudyFile | str | Path") -> "StudyFile":
        return source if isinstance(source, StudyFile) else cls.read(source)

    @classmethod
    def from_mapping(cls, doc: Mapping[str, Any], base_dir: str | Path | None = None) -> "StudyFile":
        """A study given as a plain mapping (same keys as the TOML file) instead of a file.

        The mapping is written out as TOML text (the ``study_toml`` a run file stores, from
        which the study can be rebuilt) and that text is parsed back, so a mapping and the
        file holding its text are the same study.  Its name is :data:`MAPPING_NAME` inside
        ``base_dir`` (default: the current directory), so error messages read
        ``<dict>: grid.dalpha_deg: ...`` and relative paths in it resolve against ``base_dir``.
        ``None`` values mean an absent key; values TOML cannot hold are an InputError.
        """
        text = to_toml(doc, MAPPING_NAME)
        name = Path(base_dir) / MAPPING_NAME if base_dir is not None else Path(MAPPING_NAME)
        return cls(name, text, tomllib.loads(text))


MAPPING_NAME = "<dict>"
"""The name that stands for the file of a study given as a mapping (:meth:`StudyFile.from_mapping`)."""


# ------------------------------------------------------------------------------------------
# Plain mappings as TOML text (for studies and settings given as Python dicts)
# ------------------------------------------------------------------------------------------

_BARE_KEY = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def _toml_key(name: str) -> str:
    return name if set(name) <= _BARE_KEY else _toml_string(name)


def _toml_string(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _plain(value: Any, source: str, key: str = "") -> Any:
    """``value`` as TOML-able Python: numpy scalars and arrays, tuples and other mappings become
    their plain equivalents; ``None`` stays (dropped from mappings by the caller).  Errors read
    ``source: dotted.key: ...``."""
    where = f"{source}: {key or 'top level'}"
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str) or not k:
                raise InputError(f"{where}: expected non-empty strings as keys, got {k!r}")
            v = _plain(v, source, f"{key}.{k}" if key else k)
            if v is not None:
                out[k] = v
        return out
    if isinstance(value, float):                    # numpy.float64 too
        return float(value)
    if isinstance(value, int):
        return int(value)
    tolist = getattr(value, "tolist", None)          # numpy scalars and arrays
    if callable(tolist) and not isinstance(value, (list, tuple)):
        return _plain(tolist(), source, key)
    if isinstance(value, (list, tuple)):
        items = [_plain(v, source, f"{key}[{i}]") for i, v in enumerate(value)]
        if any(v is None for v in items):
            raise InputError(f"{where}: expected a list without None values, got {value!r}")
        return items
    if isinstance(value, Path):
        return str(value)
    raise InputError(f"{where}: expected a string, number, boolean, list or table, got "
                     f"{type(value).__name__} {value!r}")


def _toml_value(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v, where) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v, where)}"
                               for k, v in value.items()) + "}"
    raise InputError(f"{where}: expected a string, number, boolean, list or table, got {value!r}")  # pragma: no cover


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _toml_table(doc: dict, header: list[str], where: str, lines: list[str]) -> None:
    # keys first, then sub-tables, then arrays of tables: what follows a header belongs to it
    for k, v in doc.items():
        if not isinstance(v, dict) and not _is_table_list(v):
            lines.append(f"{_toml_key(k)} = {_toml_value(v, where)}")
    for k, v in doc.items():
        if isinstance(v, dict):
            sub = [*header, _toml_key(k)]
            lines.extend(["", f"[{'.'.join(sub)}]"])
            _toml_table(v, sub, where, lines)
    for k, v in doc.items():
        if _is_table_list(v):
            sub = [*header, _toml_key(k)]
            for item in v:
                lines.extend(["", f"[[{'.'.join(sub)}]]"])
                _toml_table(item, sub, where, lines)


def to_toml(doc: Mapping[str, Any], where: str = MAPPING_NAME) -> str:
    """TOML text of a plain mapping; ``tomllib.loads(to_toml(d))`` equals ``d`` without its
    ``None`` values (numpy values and tuples become numbers and lists).  A value TOML cannot
    hold is an InputError naming ``where`` and the key."""
    if not isinstance(doc, Mapping):
        raise InputError(f"{where}: expected a table (a dict of keys), got {type(doc).__name__}")
    plain = _plain(doc, where)
    lines: list[str] = []
    _toml_table(plain, [], where, lines)
    text = "\n".join(lines).lstrip("\n") + "\n"
    import json

    if json.dumps(tomllib.loads(text), sort_keys=True) != json.dumps(plain, sort_keys=True):  # pragma: no cover
        raise ValueError(f"{where}: the TOML text written for this mapping does not read back as it")
    return text


def study_repr(study: Any) -> str:
    """A one-line description of a loaded study (kind, title, source, seed, overrides and, for
    studies with ``[[experiment]]`` tables, their names and member counts)."""
    doc = getattr(study, "doc", {}) or {}
    parts = [f"{doc.get('kind', type(study).__name__)} study {doc.get('title', '')!r}",
             f"from {getattr(study, 'path', '?')}", f"seed {doc.get('seed')}"]
    overrides = tuple(getattr(study, "overrides", ()) or ())
    if overrides:
        parts.append(f"{len(overrides)} override(s)")
    experiments = getattr(study, "experiments", None)
    if experiments:
        names = [f"{getattr(e, 'name', '?')}x{getattr(e, 'members', '?')}" for e in experiments]
        shown = ", ".join(names[:4]) + (f", ... ({len(names)} in all)" if len(names) > 4 else "")
        parts.append(f"experiments {shown}")
    return f"<{', '.join(parts)}>"


def apply_overrides(doc: dict, overrides: list[str] | None, source: str) -> dict:
    """Apply ``--set table.key=value`` overrides (value in TOML syntax; bare words are strings).

    Returns a new document; the study text stored in the output is the file's, and the
    overrides are stored beside it.
    """
    import copy

    out = copy.deepcopy(doc)
    for item in overrides or []:
        if "=" not in item:
            raise InputError(f"--set {item!r}: expected table.key=value")
        dotted, text = (s.strip() for s in item.split("=", 1))
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text
        parts = dotted.split(".")
        node = out
        for part in parts[:-1]:
            if isinstance(node.get(part), list):
                raise InputError(f"--set {item!r}: arrays of tables ([[{part}]]) cannot be set "
                                 f"from the command line; edit {source}")
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise InputError(f"--set {item!r}: '{part}' is not a table in {source}")
        node[parts[-1]] = value
    return out


def describe(schema: Mapping[str, Any], prefix: str = "") -> list[str]:
    """One line per key: dotted name, type, default, unit and description (for --help-keys)."""
    lines = []
    for name, spec in schema.items():
        if isinstance(spec, Key):
            default = "required" if spec.default is REQUIRED and not spec.optional else (
                "unset" if spec.default is REQUIRED else repr(spec.default))
            unit = f" [{spec.unit}]" if spec.unit else ""
            lines.append(f"{prefix}{name}{unit}: {_KIND_NAMES[spec.kind]}, default {default}. {spec.doc}")
        elif isinstance(spec, TableList):
            lines.append(f"[[{prefix}{name}]]: {spec.doc}")
            lines.extend(describe(spec.schema, f"{prefix}{name}[]."))
        else:
            lines.extend(describe(spec, f"{prefix}{name}."))
    return lines


def positive(v) -> str | None:
    return None if v > 0 else "expected a positive value"


def non_negative(v) -> str | None:
    return None if v >= 0 else "expected a value >= 0"
