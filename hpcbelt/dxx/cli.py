"""``hpcbelt dxx``: build, import and plot diffusion-coefficient databases.

::

    hpcbelt dxx build  [-o DB.h5] [--pairs PAIRS.csv] [--wave-model field_aligned|oblique]
                       [--config FILE.toml] [--seed N] [--n-profiles N] [--set KEY=VALUE] ...
                       [--energies-MeV 0.1,0.2,0.5,1,2]   (one multi-energy database)
    hpcbelt dxx import INPUT -o DB.h5 --alpha-deg ... (CSV, NPZ or HDF5 profiles)
    hpcbelt dxx plot   DB.h5 [-o FIG.png]

``register(subparsers)`` adds the ``dxx`` command to the top-level parser; ``python -m
hpcbelt.dxx`` runs the same sub-commands directly.  Each handler returns an exit code; bad
input raises :class:`~hpcbelt.errors.InputError` (exit code 2, nothing written).
"""

from __future__ import annotations

import argparse
import hashlib
import shlex
import sys
import tomllib
from pathlib import Path

from ..errors import InputError
from .config import drop_absent_variability, full_schema

DEFAULT_OUTPUT = "hiss_daa.h5"


# --------------------------------------------------------------------------------------
# configuration: file + options (the keys: hpcbelt.dxx.config.full_schema)
# --------------------------------------------------------------------------------------


# option dest -> dotted key
_OPTION_KEYS = {
    "wave_model": "wave.model", "seed": "synthetic.seed", "n_profiles": "synthetic.n_profiles",
    "L": "physics.L", "energy_MeV": "physics.energy_MeV", "B_eq_nT": "physics.B_eq_nT",
    "n_lat": "grid.n_lat", "alpha_step_deg": "grid.alpha_step_deg", "method": "table.method",
    "n_resonance": "oblique.n_resonance", "energies_MeV": "physics.energy_MeV",
}


def _energy_list(text: str) -> list[float]:
    """``--energies-MeV 0.1,0.2,0.5,1,2``: comma-separated energies [MeV]."""
    try:
        out = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        out = []
    if not out:
        raise argparse.ArgumentTypeError(f"expected comma-separated energies in MeV, e.g. "
                                         f"0.1,0.2,0.5,1,2; got {text!r}")
    return out


def _set_dotted(doc: dict, dotted: str, value, where: str) -> None:
    parts = dotted.split(".")
    node = doc
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise InputError(f"{where}: '{dotted}': '{p}' is not a table")
    node[parts[-1]] = value


def _parse_set(item: str):
    if "=" not in item:
        raise InputError(f"--set {item!r}: expected KEY=VALUE, e.g. spectrum.f_m_Hz=400")
    key, text = item.split("=", 1)
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text   # a bare word is a string
    return key.strip(), value


def load_settings(args) -> dict:
    """Merged, validated document: defaults < --config file < named options < --set."""
    from ..config import read_toml, validate

    if getattr(args, "energy_MeV", None) is not None and \
            getattr(args, "energies_MeV", None) is not None:
        raise InputError(f"--energy-MeV {args.energy_MeV:g} and --energies-MeV "
                         f"{','.join(f'{e:g}' for e in args.energies_MeV)}: give one (both set "
                         "physics.energy_MeV: one energy, or a list for a multi-energy database)")
    doc: dict = {}
    source = "command line"
    if args.config:
        doc, _ = read_toml(args.config)
        source = str(args.config)
    for dest, dotted in _OPTION_KEYS.items():
        v = getattr(args, dest, None)
        if v is not None:
            _set_dotted(doc, dotted, v, "command line")
    for item in args.set or []:
        k, v = _parse_set(item)
        _set_dotted(doc, k, v, "--set")
    # [variability] is in the merged document (and the provenance) only when it is given, so
    # databases built without it keep their settings (and bytes) unchanged
    return drop_absent_variability(validate(doc, build_schema(), source), doc)


def build_schema() -> dict:
    """Every key of ``hpcbelt dxx build``: :func:`~hpcbelt.dxx.config.full_schema` and the
    ``[variability]`` table (:data:`hpcbelt.dxx.variability.SCHEMA`)."""
    from .variability import SCHEMA as VARIABILITY

    return {**full_schema(), "variability": VARIABILITY}


def canonical_command(argv: list[str]) -> str:
    """The build command as ``hpcbelt dxx build ...`` whatever launcher ran it."""
    return "hpcbelt dxx build " + shlex.join(argv) if argv else "hpcbelt dxx build"


def _sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------------------
# build
# --------------------------------------------------------------------------------------

def cmd_build(args, comm=None) -> int:
    """``hpcbelt dxx build``: collective over ``comm`` (default ``MPI.COMM_WORLD``); rank 0 writes.

    With an active ``[variability]`` table (per-observation wave parameters) every profile is
    computed directly with its own wave model (:func:`hpcbelt.dxx.variability.build`), and the
    file is the one ``tools/shape_sources.py build`` writes (datasets ``wave_<parameter>``
    for each varied parameter).
    """
    from .. import daa_database
    from ..parallel import abort_on_exception, root_decides, world
    from . import driver, table
    from .config import DxxConfig
    from .synthetic import Observations, SyntheticSettings, generate
    from .variability import VariabilitySettings

    comm = world() if comm is None else comm
    abort_on_exception(comm)
    rank = comm.Get_rank()
    out = Path(args.output or DEFAULT_OUTPUT)
    argv = list(getattr(args, "_argv", []) or [])

    def prepare():
        from ..guard import refuse_inputs_as_output

        refuse_inputs_as_output(out, {"--config file": args.config, "pairs file": args.pairs}, "-o")
        doc = load_settings(args)
        cfg = DxxConfig.from_doc(doc)
        src = f"{args.config or 'command line'}: [variability]"
        var = VariabilitySettings.from_doc(doc.get("variability"), src)
        if var.active and cfg.energies_MeV is not None:
            raise InputError(f"{src}: per-observation wave parameters ({', '.join(var.active)}) "
                             f"with a list of energies (physics.energy_MeV = "
                             f"{list(cfg.energies_MeV)}) is not supported: give one energy")
        if var.active and cfg.table_method == "table":
            raise InputError(f"{src}: per-observation wave parameters ({', '.join(var.active)}) "
                             "are computed directly for every observation; table.method = "
                             "'table' (one wave model for all) cannot be used: set 'direct' or "
                             "'auto'")
        if out.exists() and not args.overwrite:
            raise InputError(f"output {out}: exists (use --overwrite to replace it)")
        if not out.parent.exists():
            raise InputError(f"output {out}: directory {out.parent} does not exist")
        if args.pairs:
            X, Y, B = table.read_pairs_csv(args.pairs, cfg.B_eq_nT)
            obs = Observations(X=X, Y=Y, B_eq_nT=B)
            source = {"kind": "pairs_csv", "path": str(args.pairs), "sha256": _sha256(args.pairs),
                      "n_pairs": int(X.size)}
        else:
            syn = SyntheticSettings(**doc["synthetic"])
            obs = generate(syn)
            source = {"kind": "synthetic", "generator": "hpcbelt.dxx.synthetic.generate",
                      "settings": "settings.synthetic"}
        return doc, obs, source

    doc, obs, source = root_decides(comm, prepare)
    cfg = DxxConfig.from_doc(doc)
    var = VariabilitySettings.from_doc(doc.get("variability"))
    if var.active:
        return _build_variable(args, comm, doc, cfg, var, obs, source, out, argv)
    energies = cfg.energies_MeV
    if rank == 0 and not args.quiet:
        at = "" if energies is None else f", {len(energies)} energies ({_fmt_energies(energies)})"
        print(f"hpcbelt dxx: {len(obs)} observations, {cfg.wave_model} waves, method "
              f"{cfg.table_method}{at}, {comm.Get_size()} rank(s)", file=sys.stderr, flush=True)
    res = driver.build(cfg, obs, comm, progress=not args.quiet)
    if rank != 0:
        return 0
    table_info = None
    if res.grid is not None:
        table_info = {"n_X": int(res.grid.X.size), "n_B_eq": int(res.grid.B_eq_nT.size),
                 "X_min": float(res.grid.X[0]), "X_max": float(res.grid.X[-1]),
                 "B_eq_min_nT": float(res.grid.B_eq_nT[0]),
                 "B_eq_max_nT": float(res.grid.B_eq_nT[-1]),
                 "interpolation": "bilinear in (log X, B_eq), geometric in D where all "
                                  "corners > 0, else linear"}
    from .. import __version__
    provenance = {
        "command": canonical_command(argv),
        "method_used": "table" if res.grid is not None else "direct",
        "settings": doc,
        "source": source,
        "table": table_info,
        "hpcbelt_version": __version__,
        "daa_of_mean_inputs": "computed directly (no table) at the arithmetic means "
                              "<X>, <Y>, <B_eq> of the observations",
        "daa_at_90deg": "0: zero-length bounce path, no resonance in the band at v_par = 0",
    }
    if energies is not None:
        provenance["energies_MeV"] = list(energies)
        provenance["energies"] = (
            "daa[k] is computed with physics.energy_MeV = energies_MeV[k] and every other "
            "setting and observation unchanged: bit for bit the single-energy build at that "
            "energy")
    if cfg.wave_model == "oblique" and not cfg.oblique.include_landau:
        provenance["daa_near_90deg"] = (
            "0 above the cyclotron cut-off: oblique.include_landau = false sums the cyclotron "
            "resonances only (n = -N..N without n = 0), so no resonance exists between the "
            "cut-off and 90 deg (the resonance gap of Watt et al. 2021, Fig. 1); see "
            "hpcbelt.dxx.oblique, 'Landau resonance near the mirror point'.")
    elif cfg.wave_model == "oblique":
        provenance["daa_near_90deg"] = (
            "Landau (n = 0) resonance: at the equator it needs v_par = omega / k_par, "
            "cos(a) ~ (f / f_ce)^0.5 / (beta X cos(psi)^0.5), i.e. a0 ~ 88-89.7 deg for the "
            "100-2000 Hz band, with D_local ~ 1/cos^3(a); <D> peaks near 89 deg and is 0 above "
            "the lowest band frequency. Converged in latitude, frequency scan and wave-normal "
            "nodes; the kernel agrees with a brute-force root scan to 1e-3 "
            "(tests/dxx/test_oblique.py). Narrower than a 1 deg grid cell.")
    e_text = f"E = {cfg.energy_MeV:g} MeV" if energies is None else \
        f"E = {_fmt_energies(energies)}"
    desc = doc["description"] or (
        f"Bounce-averaged hiss pitch-angle diffusion coefficients <D_aa>/p^2 at L = {cfg.L:g}, "
        f"{e_text}, {cfg.wave_model.replace('_', '-')} waves, one profile "
        f"per observation ({source['kind']}).")
    try:
        daa_database.write(out, alpha_deg=res.alpha_deg, daa=res.daa,
                           daa_of_mean_inputs=res.daa_of_mean_inputs, X=obs.X, Y=obs.Y,
                           B_eq_nT=obs.B_eq_nT, L=cfg.L,
                           energy_MeV=cfg.energy_MeV if energies is None else list(energies),
                           wave_model=cfg.wave_model, description=desc, provenance=provenance)
    except OSError as exc:            # rank 0 alone writes, after every collective: exit 74, no hang
        from ..output import WriteFailed, io_reason

        raise WriteFailed(f"output {out}: writing failed: {io_reason(exc)}") from None
    if not args.quiet:
        rate = res.n_items / max(res.seconds, 1e-9) / comm.Get_size()
        names = ("energies", "profiles", "angles") if energies else ("profiles", "angles")
        shape = " x ".join(f"{n} {w}" for n, w in zip(res.daa.shape, names))
        print(f"hpcbelt dxx: wrote {out}: {shape}; "
              f"{res.n_items} computed profiles in {res.seconds:.1f} s "
              f"({rate:.2f} profiles/s/rank)", file=sys.stderr, flush=True)
    return 0


_WAVE_UNITS = {"f_m_Hz": "Hz", "df_Hz": "Hz", "lat_max_deg": "deg", "X_w": "1"}


def _build_variable(args, comm, doc, cfg, var, obs, source, out, argv) -> int:
    """The build with per-observation wave parameters: the file of ``tools/shape_sources.py
    build`` (same datasets, bit for bit; provenance with this command)."""
    import os

    import numpy as np

    from .. import __version__, daa_database
    from . import variability

    rank = comm.Get_rank()
    if rank == 0 and not args.quiet:
        print(f"hpcbelt dxx: {len(obs)} observations, {cfg.wave_model} waves, per-observation "
              f"{', '.join(var.active)} ([variability], every profile computed directly), "
              f"{comm.Get_size()} rank(s)", file=sys.stderr, flush=True)
    res = variability.build(cfg, obs, var, comm, progress=not args.quiet)
    if rank != 0:
        return 0
    par = res.parameters
    provenance = {
        "command": canonical_command(argv),
        "method_used": "direct",
        "builder": "hpcbelt dxx build: hpcbelt.dxx.variability.build (every profile through "
                   "hpcbelt.dxx.calculator.profile with its own wave parameters, no table)",
        "settings": doc, "variability": var.as_dict(), "varied_parameters": list(var.active),
        "mean_inputs": res.mean_inputs,
        "daa_of_mean_inputs": "computed at the arithmetic means of X, Y, B_eq and of every wave "
                              "parameter",
        "wave_parameter_quantiles_5_50_95": {
            p: [float(v) for v in np.quantile(par[p], [0.05, 0.5, 0.95])]
            for p in variability.PARAMETERS},
        "source": source, "hpcbelt_version": __version__,
    }
    desc = doc["description"] or (
        f"Bounce-averaged hiss pitch-angle diffusion coefficients <D_aa>/p^2 at L = {cfg.L:g}, "
        f"E = {cfg.energy_MeV:g} MeV, {cfg.wave_model.replace('_', '-')} waves, one profile per "
        f"observation ({source['kind']}) with its own wave parameters ({', '.join(var.active)}; "
        "hpcbelt.dxx.variability).")
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        import h5py

        daa_database.write(tmp, alpha_deg=res.alpha_deg, daa=res.daa,
                           daa_of_mean_inputs=res.daa_of_mean_inputs, X=obs.X, Y=obs.Y,
                           B_eq_nT=obs.B_eq_nT, L=cfg.L, energy_MeV=cfg.energy_MeV,
                           wave_model=cfg.wave_model, description=desc, provenance=provenance)
        with h5py.File(tmp, "a") as fh:
            for p in var.active:
                ds = fh.create_dataset(f"wave_{p}", data=np.asarray(par[p], np.float64),
                                       track_times=False)
                ds.attrs["units"] = _WAVE_UNITS[p]
                ds.attrs["description"] = f"per-observation wave parameter {p} (hpcbelt.dxx.variability)"
        os.replace(tmp, out)             # an existing output is replaced whole or not at all
    except OSError as exc:
        from ..output import WriteFailed, io_reason

        tmp.unlink(missing_ok=True)
        raise WriteFailed(f"output {out}: writing failed: {io_reason(exc)}") from None
    if not args.quiet:
        print(f"hpcbelt dxx: wrote {out}: {res.daa.shape[0]} profiles x {res.daa.shape[1]} angles "
              f"with per-observation {', '.join(var.active)} in {res.seconds:.1f} s on "
              f"{comm.Get_size()} rank(s)", file=sys.stderr, flush=True)
    return 0


def _fmt_energies(energies) -> str:
    return ", ".join(f"{e:g}" for e in energies) + " MeV"


def cmd_surrogate(args) -> int:
    """``hpcbelt dxx surrogate SOURCE -o OUT --kind K``: a surrogate database (rank 0 writes)."""
    from .. import __version__, daa_database
    from ..guard import refuse_inputs_as_output
    from ..parallel import root_decides, world
    from . import surrogate

    comm = world()
    out = Path(args.output)

    def make():
        refuse_inputs_as_output(out, {"source database": args.source}, "-o")
        if out.exists() and not args.overwrite:
            raise InputError(f"output {out}: exists (use --overwrite to replace it)")
        if not out.parent.exists():
            raise InputError(f"output {out}: directory {out.parent} does not exist")
        db = daa_database.load(args.source)
        try:
            daa, info = surrogate.make(args.kind, db.alpha_deg, db.daa, alpha_ref_deg=args.alpha_ref_deg,
                                       seed=args.seed, tail_factor=args.tail_factor)
        except ValueError as exc:
            raise InputError(f"--{str(exc).split(':')[0].replace('_', '-')}: {str(exc).split(': ', 1)[1]}") from None
        provenance = {"command": canonical_command(["surrogate", *sys.argv[sys.argv.index("surrogate") + 1:]]
                                                   if "surrogate" in sys.argv else []),
                      "surrogate": info, "source": {"path": str(args.source), "sha256": db.sha256},
                      "hpcbelt_version": __version__,
                      "definition": "hpcbelt.dxx.surrogate (module docstring)"}
        desc = (f"Surrogate '{args.kind}' of {args.source} (reference angle {args.alpha_ref_deg:g} deg): "
                f"{info['rows_out']} profiles; see hpcbelt.dxx.surrogate")
        tmp = out.with_name(f".{out.name}.tmp")
        try:
            daa_database.write(tmp, alpha_deg=db.alpha_deg, daa=daa, daa_of_mean_inputs=db.daa_of_mean_inputs,
                               L=db.L, energy_MeV=db.energy_MeV, description=desc, provenance=provenance,
                               surrogate_kind=args.kind)
            tmp.replace(out)                 # an existing OUT is replaced whole or not at all
        except OSError as exc:
            from ..output import WriteFailed, io_reason

            tmp.unlink(missing_ok=True)
            raise WriteFailed(f"output {out}: writing failed: {io_reason(exc)}") from None
        return info

    info = root_decides(comm, make)
    if comm.Get_rank() == 0 and not args.quiet:
        print(f"hpcbelt dxx: wrote {out}: {args.kind} surrogate, {info['rows_out']} of {info['rows_in']} "
              "profiles", file=sys.stderr, flush=True)
    return 0


def cmd_keys(args) -> int:
    from ..config import describe

    print("\n".join(describe(build_schema())))
    return 0


# --------------------------------------------------------------------------------------
# parser
# --------------------------------------------------------------------------------------

def add_commands(parser: argparse.ArgumentParser) -> None:
    """Add build / import / plot / keys to ``parser`` (``hpcbelt dxx`` or ``-m hpcbelt.dxx``)."""
    sub = parser.add_subparsers(dest="dxx_command", required=True)

    p = sub.add_parser("build", help="compute a database from synthetic or given (X, Y) pairs",
                       description="Compute bounce-averaged <D_aa>(a0) for every observation "
                       "and write the database. Settings: defaults < --config < options < --set "
                       "(see 'hpcbelt dxx keys').")
    p.add_argument("-o", "--output", help=f"database file to write (default {DEFAULT_OUTPUT})")
    p.add_argument("--pairs", help="CSV with columns X, Y [, B_eq_nT] (else synthetic)")
    p.add_argument("--wave-model", dest="wave_model", choices=("field_aligned", "oblique"))
    p.add_argument("--config", help="TOML file with any of the keys of 'hpcbelt dxx keys'")
    p.add_argument("--seed", type=int, help="synthetic generator seed")
    p.add_argument("--n-profiles", dest="n_profiles", type=int,
                   help="number of synthetic observations")
    p.add_argument("--L", dest="L", type=float, help="L shell (metadata)")
    p.add_argument("--energy-MeV", dest="energy_MeV", type=float, help="electron energy [MeV]")
    p.add_argument("--energies-MeV", dest="energies_MeV", type=_energy_list, metavar="E1,E2,...",
                   help="several electron energies [MeV], comma-separated (e.g. 0.1,0.2,0.5,1,2): "
                   "one multi-energy database, daa[energy, profile, alpha], from the same "
                   "observations (physics.energy_MeV = [E1, E2, ...])")
    p.add_argument("--B-eq-nT", dest="B_eq_nT", type=float,
                   help="equatorial field for pairs without B_eq_nT [nT]")
    p.add_argument("--n-lat", dest="n_lat", type=int, help="latitude nodes per bounce integral")
    p.add_argument("--alpha-step-deg", dest="alpha_step_deg", type=float,
                   help="pitch-angle step [deg]")
    p.add_argument("--method", choices=("auto", "table", "direct"),
                   help="tabulate D for unit intensity and interpolate, or compute every pair "
                   "(auto: table unless it has more nodes than there are pairs)")
    p.add_argument("--n-resonance", dest="n_resonance", type=int,
                   help="oblique: resonances n = -N..N")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="any setting by dotted name, e.g. spectrum.f_m_Hz=400 (repeatable)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=cmd_build)

    from .surrogate import DEFAULT_ALPHA_REF_DEG, DEFAULT_TAIL_FACTOR, KINDS
    p = sub.add_parser("surrogate", help="a surrogate of a database: one property kept, another destroyed",
                       description="Write a surrogate of a database (kinds and definitions: "
                       "hpcbelt.dxx.surrogate; README 'Why the switching interval matters').")
    p.add_argument("source", help="database file to transform")
    p.add_argument("-o", "--output", required=True, help="surrogate database file to write")
    p.add_argument("--kind", required=True, choices=KINDS)
    p.add_argument("--alpha-ref-deg", dest="alpha_ref_deg", type=float, default=DEFAULT_ALPHA_REF_DEG,
                   help=f"reference angle of the amplitudes [deg] (default {DEFAULT_ALPHA_REF_DEG:g})")
    p.add_argument("--seed", type=int, default=0, help="seed of the shuffles (default 0)")
    p.add_argument("--tail-factor", dest="tail_factor", type=float, default=DEFAULT_TAIL_FACTOR,
                   help=f"heavy_tail: log-stretch of the amplitudes above the median (default "
                   f"{DEFAULT_TAIL_FACTOR:g})")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=cmd_surrogate)

    p = sub.add_parser("keys", help="list every build setting with type, default and unit")
    p.set_defaults(func=cmd_keys)

    try:
        from . import importer
        importer.add_parser(sub)
    except ImportError:
        pass
    try:
        from . import plot
        plot.add_parser(sub)
    except ImportError:
        pass


def register(subparsers) -> None:
    """Add ``dxx`` to the top-level ``hpcbelt`` sub-command parsers."""
    p = subparsers.add_parser("dxx", help="hiss diffusion-coefficient databases: build, import, "
                              "plot", description=__doc__.split("\n\n")[0])
    add_commands(p)
    _remember_argv(p)


def _remember_argv(parser) -> None:
    """Make the build handler see its own argv (for the provenance's regenerate command)."""
    argv = sys.argv[1:]
    if "build" in argv:
        tail = argv[argv.index("build") + 1:]
        parser.set_defaults(_argv=tail)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m hpcbelt.dxx``."""
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="hpcbelt dxx", description=__doc__.split("\n\n")[0])
    add_commands(parser)
    if "build" in argv:
        parser.set_defaults(_argv=argv[argv.index("build") + 1:])
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        rank = 0
        if "mpi4py" in sys.modules:
            from mpi4py import MPI
            rank = MPI.COMM_WORLD.Get_rank()
        if rank == 0:
            print(f"hpcbelt: error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
