"""``hpcbelt dxx import``: a user's own profiles -> the database format.

Inputs (one profile per row / first axis):

* CSV: numbers separated by commas, '#' comments allowed.  The pitch angles come from
  ``--alpha`` or, without it, from a header row of numbers (the first non-comment line).
* NPZ: arrays named by ``--daa-key`` (default ``daa``) and ``--alpha-key`` (default
  ``alpha_deg``), optional ``--x-key/--y-key/--beq-key/--mean-inputs-key``.
* HDF5: the same options name datasets (paths like ``group/name`` work).

Units: ``--alpha-units deg|rad``; ``--daa-units`` one of 1/s (= rad^2/s), 1/min, 1/hr,
1/day (:data:`hpcbelt.daa_database.DAA_UNITS`).  The checks are the format's own
(:func:`hpcbelt.daa_database.check_arrays`, the solver's loader runs the same: shape, finite,
>= 0, increasing pitch angles within [0, 90] deg), each error naming the file and the profile
(row) and pitch angle.
If the grid does not reach 0 or 90 deg the end values are held out to them (the contract
grid covers 0..90; the solver weights vanish there), and the provenance says so.

``daa_of_mean_inputs`` is taken from ``--mean-inputs-key`` if given; otherwise, if X and Y
are given, computed from their arithmetic means with the calculator (``--wave-model``,
``--config``); otherwise it is left out (the loader treats it as optional).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from .. import daa_database
from ..daa_database import DAA_UNITS
from ..errors import InputError


def _parse_alpha(text: str, where: str) -> np.ndarray:
    """'0:90:1' (start:stop:step, stop included) or '0,5,10,...'."""
    try:
        if ":" in text:
            a, b, s = (float(v) for v in text.split(":"))
            if not all(np.isfinite((a, b, s))) or s <= 0 or b < a or (b - a) / s > 1e6:
                raise InputError(f"{where}: --alpha {text!r}: expected finite start <= stop and a step "
                                 "> 0 (at most 1e6 angles)")
            n = int(round((b - a) / s)) + 1
            return a + s * np.arange(n)
        values = np.array([float(v) for v in text.split(",")])
        if not np.all(np.isfinite(values)):
            raise InputError(f"{where}: --alpha {text!r}: expected finite numbers")
        return values
    except ValueError:
        raise InputError(f"{where}: --alpha {text!r}: expected start:stop:step or a comma "
                         "list of numbers") from None


def _read_csv(path: Path, alpha_text: str | None):
    rows = []
    alpha = None
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}: a binary or Latin-1 file?); "
                         "expected a CSV of numbers") from None
    if "\0" in text:
        raise InputError(f"{path}: contains NUL bytes (a binary file?); expected a CSV of numbers")
    for lineno, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1):
        s = line.split("#", 1)[0].strip()
        if not s:
            continue
        fields = [f.strip() for f in s.split(",")]
        if alpha is None and alpha_text is None and not rows:
            try:
                alpha = np.array([float(f) for f in fields])
            except ValueError:
                raise InputError(f"{path}: line {lineno}: header must be the pitch angles "
                                 "(numbers), or give --alpha") from None
            continue
        try:
            rows.append([float(f) for f in fields])
        except ValueError:
            bad = next(f for f in fields if not _isfloat(f))
            raise InputError(f"{path}: line {lineno}: {bad!r} is not a number") from None
    if alpha_text is not None:
        alpha = _parse_alpha(alpha_text, str(path))
    if not rows:
        raise InputError(f"{path}: no profile rows")
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise InputError(f"{path}: rows have different lengths {sorted(widths)}; expected one "
                         f"value per pitch angle ({alpha.size})")
    return alpha, np.array(rows), {}


def _isfloat(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def _read_keyed(path: Path, kind: str, keys: dict):
    """NPZ or HDF5: returns alpha, daa, extras {name: array}."""
    if kind == "npz":
        try:
            src = dict(np.load(path, allow_pickle=False))
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: not a readable NPZ file ({exc})") from None
        get = src.get
        names = sorted(src)
    else:
        import h5py
        try:
            fh = h5py.File(path, "r")
        except OSError as exc:
            raise InputError(f"{path}: not a readable HDF5 file ({exc})") from None
        names = []
        fh.visit(lambda n: names.append(n) if isinstance(fh[n], h5py.Dataset) else None)
        src = {n: np.asarray(fh[n][()]) for n in names}
        fh.close()
        get = src.get
    out = {}
    for role, key in keys.items():
        if key is None:
            continue
        v = get(key)
        if v is None:
            if role in ("daa", "alpha"):
                raise InputError(f"{path}: no array '{key}' for {role} (found: "
                                 f"{', '.join(names) or 'nothing'}); name it with "
                                 f"--{role}-key")
            raise InputError(f"{path}: no array '{key}' (--{role}-key); found: {', '.join(names)}")
        out[role] = np.asarray(v, dtype=float)
    alpha = out.pop("alpha", None)
    return alpha, out.pop("daa"), out


def import_profiles(args):
    """Read, convert and check; return the arrays to write and a provenance dict."""
    path = Path(args.input)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    kind = args.format or {".csv": "csv", ".txt": "csv", ".npz": "npz", ".h5": "h5",
                           ".hdf5": "h5", ".hdf": "h5"}.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"{path}: cannot tell the format from the suffix; give --format "
                         "csv|npz|h5")
    if kind == "csv":
        alpha, daa, extra = _read_csv(path, args.alpha)
    else:
        keys = {"daa": args.daa_key, "alpha": None if args.alpha else args.alpha_key,
                "x": args.x_key, "y": args.y_key, "beq": args.beq_key,
                "mean_inputs": args.mean_inputs_key}
        alpha, daa, extra = _read_keyed(path, kind, keys)
        if args.alpha:
            alpha = _parse_alpha(args.alpha, str(path))
    if alpha is None:
        raise InputError(f"{path}: no pitch-angle grid: give --alpha or --alpha-key")
    alpha = np.asarray(alpha, float).ravel()
    if args.alpha_units == "rad":
        alpha = np.degrees(alpha)
    if args.daa_units not in DAA_UNITS:
        raise InputError(f"{path}: --daa-units {args.daa_units!r}: expected one of "
                         f"{', '.join(DAA_UNITS)}")
    daa = np.atleast_2d(np.asarray(daa, float))
    if args.transpose:
        daa = daa.T
    mean_inputs = extra.get("mean_inputs")
    if mean_inputs is not None:
        mean_inputs = np.asarray(mean_inputs, float).ravel()
    columns = {f"{name} (--{role}-key)": extra[role].ravel()
               for role, name in (("x", "X"), ("y", "Y"), ("beq", "B_eq_nT")) if role in extra}
    try:       # in the units given, so that a bad value reads as in the input
        daa_database.check_arrays(alpha, daa, mean_inputs, columns, where=str(path),
                                  shape_hint=" (use --transpose for (n_alpha, n_profiles))")
    except ValueError as exc:
        raise InputError(str(exc)) from None
    scale = DAA_UNITS[args.daa_units]
    daa = daa * scale
    if mean_inputs is not None:
        mean_inputs = mean_inputs * scale
    notes = []
    if alpha[0] > 0 or alpha[-1] < 90:
        lo, hi = int(alpha[0] > 0), int(alpha[-1] < 90)
        alpha = np.concatenate([[0.0] if lo else [], alpha, [90.0] if hi else []])
        daa = np.concatenate([daa[:, :1]] * lo + [daa] + [daa[:, -1:]] * hi, axis=1)
        if mean_inputs is not None:
            mean_inputs = np.concatenate([mean_inputs[:1]] * lo + [mean_inputs]
                                         + [mean_inputs[-1:]] * hi)
        notes.append("end values held out to 0 and/or 90 deg")
    return alpha, daa, mean_inputs, extra, notes, kind


def cmd_import(args) -> int:
    """All ranks: rank 0 alone checks, converts and writes; the others get its verdict (one
    writer under mpirun, the same error on every rank)."""
    from ..parallel import abort_on_exception, root_decides, world

    comm = world()
    abort_on_exception(comm)
    root_decides(comm, lambda: _import(args))
    return 0


def _check_import_args(args, out: Path) -> None:
    from ..guard import refuse_inputs_as_output

    for flag, v, lo, hi in (("--L", args.L, 1.0, 100.0), ("--energy-MeV", args.energy_MeV, 1e-6, 1e4)):
        if not (np.isfinite(v) and lo <= v <= hi):
            raise InputError(f"{flag} {v:g}: expected a finite number in [{lo:g}, {hi:g}]")
    if not Path(args.input).is_file():
        raise InputError(f"{args.input}: input file not found")
    refuse_inputs_as_output(out, {"imported file": args.input, "--config file": args.config}, "-o")
    if out.is_dir():
        raise InputError(f"output {out}: is a directory; expected a file name")
    if out.exists() and not args.overwrite:
        raise InputError(f"output {out}: exists (use --overwrite to replace it)")
    if not out.resolve().parent.is_dir():
        raise InputError(f"output {out}: directory {out.resolve().parent} does not exist")
    if not os.access(out.resolve().parent, os.W_OK):
        raise InputError(f"output {out}: directory {out.resolve().parent} is not writable")
    if args.config:
        _config_doc(args)                 # refused before any input is read


def _config_doc(args) -> dict:
    """The validated ``--config`` document (defaults without one); a list of energies is
    refused: the importer writes a single-energy database."""
    from ..config import read_toml, validate
    from .config import full_schema

    doc = {}
    if args.config:
        doc, _ = read_toml(args.config)
    doc = validate(doc, full_schema(), args.config or "defaults")
    e = doc["physics"]["energy_MeV"]
    if isinstance(e, list):
        raise InputError(f"{args.config}: physics.energy_MeV: expected one energy in MeV (dxx "
                         f"import writes a single-energy database, at --energy-MeV), got the "
                         f"list {e!r}")
    return doc


def _import(args) -> None:
    import hashlib

    from .. import __version__

    out = Path(args.output)
    _check_import_args(args, out)
    alpha, daa, mean_inputs, extra, notes, kind = import_profiles(args)
    X = extra.get("x")
    Y = extra.get("y")
    B = extra.get("beq")
    n = daa.shape[0]
    if mean_inputs is None and X is not None and Y is not None:
        from . import calculator
        from .config import DxxConfig
        doc = _config_doc(args)
        if args.wave_model:
            doc["wave"]["model"] = args.wave_model
        cfg = DxxConfig.from_doc(doc)
        Bm = float(np.mean(B)) if B is not None else cfg.B_eq_nT
        prof = calculator.profile(cfg, float(np.mean(X)), float(np.mean(Y)), Bm)
        mean_inputs = np.interp(alpha, cfg.alpha_deg(), prof)
        notes.append(f"daa_of_mean_inputs computed by hpcbelt ({cfg.wave_model}) from <X>, "
                     "<Y>, <B_eq>")
    for name, v in (("X", X), ("Y", Y), ("B_eq_nT", B)):
        if v is None:
            notes.append(f"{name} not provided: stored as NaN")
    h = hashlib.sha256(Path(args.input).read_bytes()).hexdigest()
    provenance = {"command": "hpcbelt dxx import " + " ".join(sys.argv[sys.argv.index("import")
                                                                   + 1:])
                  if "import" in sys.argv else "hpcbelt dxx import",
                  "source": {"kind": kind, "path": str(args.input), "sha256": h,
                             "daa_units": args.daa_units, "alpha_units": args.alpha_units},
                  "notes": notes, "hpcbelt_version": __version__}
    nanv = np.full(n, np.nan)
    try:
        _write(out, alpha, daa, mean_inputs, X, Y, B, nanv, args, provenance)
    except OSError as exc:
        from ..output import WriteFailed, io_reason

        raise WriteFailed(f"output {out}: writing failed: {io_reason(exc)}") from None
    print(f"hpcbelt dxx: wrote {out}: {n} profiles x {alpha.size} angles", file=sys.stderr)


def _write(out, alpha, daa, mean_inputs, X, Y, B, nanv, args, provenance) -> None:
    daa_database.write(out, alpha_deg=alpha, daa=daa,
                       daa_of_mean_inputs=mean_inputs, X=nanv if X is None else X.ravel(),
                       Y=nanv if Y is None else Y.ravel(),
                       B_eq_nT=nanv if B is None else B.ravel(), L=args.L,
                       energy_MeV=args.energy_MeV, wave_model=args.wave_model_label,
                       description=args.description or f"Imported from {Path(args.input).name}",
                       provenance=provenance)


def add_parser(sub) -> None:
    p = sub.add_parser("import", help="convert your own profiles (CSV, NPZ, HDF5) to a database",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("input", help="CSV (one profile per row), NPZ or HDF5 file")
    p.add_argument("-o", "--output", required=True, help="database file to write")
    p.add_argument("--format", choices=("csv", "npz", "h5"), help="default: from the suffix")
    p.add_argument("--alpha", help="pitch-angle grid, start:stop:step or a comma list "
                   "(default: CSV header row / --alpha-key)")
    p.add_argument("--alpha-units", choices=("deg", "rad"), default="deg")
    p.add_argument("--alpha-key", default="alpha_deg", help="NPZ/HDF5 name of the grid")
    p.add_argument("--daa-key", default="daa", help="NPZ/HDF5 name of the profiles")
    p.add_argument("--daa-units", default="1/s", help="units of the profiles: "
                   + ", ".join(DAA_UNITS))
    p.add_argument("--transpose", action="store_true", help="profiles are (n_alpha, n_profiles)")
    p.add_argument("--x-key", help="NPZ/HDF5 name of X = omega_pe/Omega_e (optional)")
    p.add_argument("--y-key", help="NPZ/HDF5 name of Y [nT^2/Hz] (optional)")
    p.add_argument("--beq-key", help="NPZ/HDF5 name of B_eq [nT] (optional)")
    p.add_argument("--mean-inputs-key", help="NPZ/HDF5 name of D(<X>,<Y>) (same units)")
    p.add_argument("--L", type=float, required=True, help="L shell of the profiles")
    p.add_argument("--energy-MeV", dest="energy_MeV", type=float, required=True,
                   help="electron energy of the profiles [MeV]")
    p.add_argument("--wave-model-label", default="imported", help="stored as wave_model")
    p.add_argument("--wave-model", choices=("field_aligned", "oblique"),
                   help="model for computing D(<X>,<Y>) when only X and Y are given")
    p.add_argument("--config", help="settings TOML for that computation")
    p.add_argument("--description", help="stored as the description attribute")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_import)
