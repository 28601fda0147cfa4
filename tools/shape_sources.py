#!/usr/bin/env python
"""Physical sources of shape variability (issue 13, part 3) and the paper-like database (part 4).

``build``  one database from a build config with an optional ``[variability]`` table
           (hpcbelt.dxx.variability: per-observation peak frequency, width, latitude extent,
           wave-normal width), every profile through the calculator; written with
           hpcbelt.daa_database.write (provenance: the command, the merged settings, the mean
           inputs), plus one dataset ``wave_<name>`` per varied parameter.  Collective under
           mpirun; the same bytes for any number of ranks (every profile depends only on its own
           observation and parameters; the parameters are drawn identically on every rank).
           ``hpcbelt dxx build`` with a ``[variability]`` table writes the same bytes (the command
           users run; this tool keeps the sweep over sources).
``stats``  the numbers behind the statements Watt et al. (2021) make about their Fig. 1, and the
           30-day constant runs (exact solver on the mean profiles), for any database files.
``sweep``  for each variation in VARIATIONS: a small database (same observations, same seeds,
           only that source switched on), the dt sweep (``--study``, default
           inputs/watt2021_paperlike_dt_sweep.toml with database.path overridden) under mpirun,
           the aggregation with bootstrap intervals, and the table of tools/mechanism_surrogates.py.
           ``--members N`` rewrites the study's member counts (a copy in the workdir);
           ``--normalise`` also runs each variation with its profiles scaled so that its mean
           D(30 deg) is the 'none' database's (same shapes, same overall strength).

Usage (from the repository root):
  mpirun -n 2 .venv/bin/python tools/shape_sources.py build --config inputs/hiss_L3_0.5MeV_paperlike.toml \\
      -o inputs/hiss_L3_0.5MeV_paperlike.h5 --overwrite
  .venv/bin/python tools/shape_sources.py stats inputs/hiss_L3_0.5MeV.h5 inputs/hiss_L3_0.5MeV_paperlike.h5
  .venv/bin/python tools/shape_sources.py sweep --np 2 --n-profiles 400 --workdir results/shape_sources
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The variations of part 3 (each alone, all else as in the base config).  Magnitudes and sources
# (hpcbelt/dxx/variability.py has the references):
VARIATIONS = {
    "none": {},
    # hiss peak frequency from pass to pass: 5-95 % about 250-640 Hz (clipped to 100-600 Hz), the
    # dayside range of Li et al. (2015) and Meredith et al. (2018); width fixed at the base df
    "peak_frequency": {"f_m_sigma_log10": 0.125, "df_follows_f_m": False},
    # the same with the width following the peak (constant relative bandwidth)
    "peak_and_width": {"f_m_sigma_log10": 0.125, "df_follows_f_m": True},
    # spectral width alone: df x 10^(0.15 z), 5-95 % about 110-350 Hz for df = 200 Hz
    "width": {"df_sigma_log10": 0.15},
    # latitude extent 20-45 deg and more: normal about 35 deg, sigma 8 deg, clipped to 20-50 deg
    # (Meredith et al. 2018: dayside hiss to 30-40 deg; Agapitov et al. 2013)
    "latitude_extent": {"lat_max_sigma_deg": 8.0, "lat_max_min_deg": 20.0, "lat_max_max_deg": 50.0},
    # wave-normal width tan(theta_w) x 10^(0.3 z): quasi-parallel (theta_w ~ 15 deg) to oblique
    # (~50 deg) passes (Agapitov et al. 2013; Hartley et al. 2019)
    "wave_normal": {"X_w_sigma_log10": 0.3},
    # stronger hiss peaking lower (corr -0.5 with log Y): a hypothesis to test, not a measurement
    "peak_frequency_corr_intensity": {"f_m_sigma_log10": 0.125, "df_follows_f_m": False,
                                      "corr_log_Y_f_m": -0.5},
    # density (the cut-off angle): a 4-year database spans more than one month's density range;
    # sigma(log10 n_e) 0.15 (quiet) and 0.2 (storm-depleted) instead of 0.05 and 0.12, i.e.
    # factor-2 scatter about each population's median [assumption; Sheeley et al. 2001, JGR 106,
    # 25631, show a scatter of this order about their plasmasphere density model at L = 3]
    "density_spread": {"synthetic": {"n_e_sigma_log10": 0.15, "storm_n_e_sigma_log10": 0.2}},
    # every source at once (peak frequency, latitude extent, wave-normal width, density)
    "all_sources": {"f_m_sigma_log10": 0.125, "df_follows_f_m": False, "lat_max_sigma_deg": 8.0,
                    "lat_max_min_deg": 20.0, "lat_max_max_deg": 50.0, "X_w_sigma_log10": 0.3,
                    "synthetic": {"n_e_sigma_log10": 0.15, "storm_n_e_sigma_log10": 0.2}},
}
# Cheaper numerics for the sweep databases (n_lat 48, n = -2..2, 12 wave-normal nodes): ~6x
# faster than the default file's; against those they change D by < 2 % wherever D > 1e-3 of its
# peak, except 4 % at n_e = 3e9 m^-3 with f_m = 600 Hz (the missing n = +-3; measured over n_e
# 0.5-3e9 x f_m 150/400/600 Hz).  Every variation uses the same numerics, so they compare.
SWEEP_NUMERICS = {"grid": {"n_lat": 48}, "oblique": {"n_resonance": 2, "n_wave_normal": 12}}


def load_config(path: str | Path, overrides: dict | None = None):
    """(merged dxx document, DxxConfig, SyntheticSettings, VariabilitySettings) of a build config."""
    from hpcbelt.dxx import config
    from hpcbelt.dxx.synthetic import SyntheticSettings
    from hpcbelt.dxx.variability import VariabilitySettings
    from hpcbelt.errors import InputError

    try:
        raw = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"config {path}: cannot read ({exc})") from None
    for table, kv in (overrides or {}).items():
        if table == "variability":                 # a variation replaces the whole table
            raw[table] = dict(kv)
        else:
            raw.setdefault(table, {}).update(kv)
    var = raw.pop("variability", {})
    doc = config.load(raw, str(path), config.full_schema())
    return (doc, config.DxxConfig.from_doc(doc), SyntheticSettings(**doc["synthetic"]),
            VariabilitySettings.from_doc(var, f"{path}: [variability]"))


def build(config_path, out, overwrite=False, quiet=False, overrides=None, command=None) -> int:
    from mpi4py import MPI

    from hpcbelt import __version__, daa_database
    from hpcbelt.dxx import variability
    from hpcbelt.dxx.synthetic import generate
    from hpcbelt.errors import InputError

    comm = MPI.COMM_WORLD
    out = Path(out)
    problem = None
    try:
        doc, cfg, syn, var = load_config(config_path, overrides)
        if out.exists() and not overwrite:
            raise InputError(f"output {out}: exists (use --overwrite to replace it)")
    except InputError as exc:
        problem = str(exc)
    problem = comm.bcast(problem if comm.Get_rank() == 0 else None, root=0)
    if problem:
        print(f"shape_sources: {problem}", file=sys.stderr)
        return 2
    obs = generate(syn)
    res = variability.build(cfg, obs, var, comm, progress=not quiet)
    if comm.Get_rank() != 0:
        return 0
    par = res.parameters
    provenance = {
        "command": command or f"tools/shape_sources.py build --config {config_path} -o {out}",
        "builder": "tools/shape_sources.py build: hpcbelt.dxx.variability.build (every profile "
                   "through hpcbelt.dxx.calculator.profile with its own wave parameters, no table)",
        "settings": doc, "variability": var.as_dict(), "varied_parameters": list(var.active),
        "mean_inputs": res.mean_inputs,
        "daa_of_mean_inputs": "computed at the arithmetic means of X, Y, B_eq and of every wave parameter",
        "wave_parameter_quantiles_5_50_95": {p: [float(v) for v in np.quantile(par[p], [0.05, 0.5, 0.95])]
                                             for p in variability.PARAMETERS},
        "source": {"kind": "synthetic", "generator": "hpcbelt.dxx.synthetic.generate",
                   "settings": "settings.synthetic"},
        "overrides": overrides or {}, "hpcbelt_version": __version__,
    }
    desc = doc["description"] or "Hiss D_aa database with per-observation wave parameters (tools/shape_sources.py)."
    tmp = out.with_name(out.name + ".tmp")
    daa_database.write(tmp, alpha_deg=res.alpha_deg, daa=res.daa, daa_of_mean_inputs=res.daa_of_mean_inputs,
                       X=obs.X, Y=obs.Y, B_eq_nT=obs.B_eq_nT, L=cfg.L, energy_MeV=cfg.energy_MeV,
                       wave_model=cfg.wave_model, description=desc, provenance=provenance)
    import h5py
    units = {"f_m_Hz": "Hz", "df_Hz": "Hz", "lat_max_deg": "deg", "X_w": "1"}
    with h5py.File(tmp, "a") as fh:
        for p in var.active:
            ds = fh.create_dataset(f"wave_{p}", data=np.asarray(par[p], np.float64), track_times=False)
            ds.attrs["units"] = units[p]
            ds.attrs["description"] = f"per-observation wave parameter {p} (hpcbelt.dxx.variability)"
    os.replace(tmp, out)
    if not quiet:
        print(f"shape_sources: wrote {out}: {res.daa.shape[0]} profiles in {res.seconds:.0f} s on "
              f"{comm.Get_size()} rank(s)", file=sys.stderr)
    return 0


def constant_runs(path, days: float = 30.0, alpha: float = 30.0):
    """f(alpha) after ``days`` of the constant <D> and D(<X>,<Y>) runs (exact propagators, the
    study's uniform 1 deg grid, loss cone at 100 km, f0 = 5e3): (f_mean_profile, f_mean_inputs)."""
    from hpcbelt import daa_database
    from hpcbelt.dipole import loss_cone_deg_from_altitude
    from hpcbelt.pitch_angle.operator import make_grid
    from hpcbelt.pitch_angle.solver import propagators

    db = daa_database.load(path)
    g = make_grid(1.0, loss_cone_deg_from_altitude(db.L or 3.0, 100.0), db.L or 3.0, db.energy_MeV or 0.5)
    prof = np.vstack([db.mean_on_grid(g.alpha_deg), np.interp(g.alpha_deg, db.alpha_deg, db.daa_of_mean_inputs)])
    f = propagators(g, prof, days * 86400.0) @ np.full(g.n, 5e3)
    j = int(np.argmin(np.abs(g.alpha_deg - alpha)))
    return float(f[0, j]), float(f[1, j]), float(f[0, int(np.argmin(np.abs(g.alpha_deg - 80.0)))])


def stats(paths) -> None:
    from hpcbelt import daa_database
    from hpcbelt.dxx.variability import fig1_statistics

    for p in paths:
        db = daa_database.load(p)
        s = fig1_statistics(db.alpha_deg, db.daa, db.daa_of_mean_inputs)
        a = s["alpha_deg"]
        print(f"== {p}: {db.n_profiles} profiles")
        print("| alpha deg | <D> 1/s | D(<X>,<Y>) 1/s | ratio | median 1/s | sd log10 D | fraction D > 0 |")
        print("|---|---|---|---|---|---|---|")
        for ang in (10, 20, 30, 45, 55, 60, 65, 70, 72, 75, 78):
            j = int(np.argmin(np.abs(a - ang)))
            print(f"| {ang} | {s['mean_per_s'][j]:.3g} | {db.daa_of_mean_inputs[j]:.3g} | "
                  f"{s['ratio_mean_over_mean_inputs'][j]:.3g} | {s['median_per_s'][j]:.3g} | {s['sd_log10'][j]:.3g} | "
                  f"{s['fraction_positive'][j]:.3f} |")
        f1, f2, f80 = constant_runs(p)
        print(f"values > 1e-5 1/s: {s['fraction_values_above_1e-5']:.4f} of all; profiles exceeding it "
              f"anywhere: {s['fraction_profiles_above_1e-5']:.4f}")
        print(f"log10 D(45 deg): upper-tail ratio (q99 - q50)/(q50 - q01) = {s['tail_ratio_45']:.3f}, "
              f"(q95 - q50)/(q50 - q05) = {s['tail_ratio_45_q95']:.3f} (normal: 1), skewness {s['skewness_45']:.3f}")
        print(f"30-day constant runs f(30 deg): <D> {f1:.4g}, D(<X>,<Y>) {f2:.4g}, ratio {f2 / f1:.3f}; "
              f"f(80 deg) of the <D> run {f80:.5g} (initial 5e3)")


def sweep(args) -> int:
    sys.path.insert(0, str(ROOT / "tools"))
    from mechanism_surrogates import print_table

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1")

    def call(cmd):
        r = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True)
        if r.returncode:
            sys.exit(f"shape_sources: {' '.join(map(str, cmd))} failed:\n{r.stderr}")

    study = Path(args.study)
    if args.members:                      # the study with fewer members, written into the workdir
        import re
        text, k = re.subn(r"(?m)^members = \d+", f"members = {args.members}", study.read_text())
        study = work / f"study_{args.members}_members.toml"
        study.write_text(text)
    rows = []
    for name in [v for v in args.variations.split(",") if v]:
        if name not in VARIATIONS:
            sys.exit(f"shape_sources: --variations: unknown {name!r}; expected some of {', '.join(VARIATIONS)}")
        db = work / f"{name}.h5"
        ov = {k: dict(v) for k, v in SWEEP_NUMERICS.items()}
        var = dict(VARIATIONS[name])
        ov["synthetic"] = {"n_profiles": args.n_profiles, **var.pop("synthetic", {})}
        ov["variability"] = var
        if not db.exists() or args.rebuild:
            cfgfile = work / f"{name}.overrides.json"
            cfgfile.write_text(json.dumps(ov, sort_keys=True))
            call(["mpirun", "-n", args.np, sys.executable, __file__, "build", "--config", args.config,
                  "-o", db, "--overwrite", "--quiet", "--overrides-json", cfgfile])
        run, summary = work / f"run_{name}.h5", work / f"summary_{name}.h5"
        if not summary.exists() or args.rebuild:
            call(["mpirun", "-n", args.np, sys.executable, "-m", "hpcbelt", "run", study, "-o", run,
                  "--overwrite", "--quiet", "--set", f'database.path="{db.resolve()}"'])
            call([sys.executable, "-m", "hpcbelt", "aggregate", run, "-o", summary, "--overwrite",
                  "--bootstrap", "200", "--quiet"])
        if args.normalise and name != "none":
            db = normalised(db, work / "none.h5", work / f"{name}_norm.h5")
            name += "_norm"
            run, summary = work / f"run_{name}.h5", work / f"summary_{name}.h5"
            if not summary.exists() or args.rebuild:
                call(["mpirun", "-n", args.np, sys.executable, "-m", "hpcbelt", "run", study, "-o", run,
                      "--overwrite", "--quiet", "--set", f'database.path="{db.resolve()}"'])
                call([sys.executable, "-m", "hpcbelt", "aggregate", run, "-o", summary, "--overwrite",
                      "--bootstrap", "200", "--quiet"])
        rows.append((name, summary))
    print_table(rows)
    return 0


def normalised(src: Path, ref: Path, out: Path, alpha: float = 30.0) -> Path:
    """``src`` with every profile (and D(<X>,<Y>)) times the factor that gives its mean profile the
    mean D(``alpha``) of ``ref``: the same shapes and relative spread at the reference database's
    overall strength (an intensity recalibration; D is linear in Y)."""
    import h5py

    from hpcbelt import daa_database

    a, b = daa_database.load(src), daa_database.load(ref)
    k = float(np.interp(alpha, b.alpha_deg, b.daa.mean(axis=0)) / np.interp(alpha, a.alpha_deg, a.daa.mean(axis=0)))
    with h5py.File(src, "r") as fh:
        prov = json.loads(fh.attrs["provenance"])
    prov = {"normalised_from": str(src), "source_sha256": a.sha256, "reference": str(ref),
            "factor": k, "alpha_deg": alpha, "source_provenance": prov}
    daa_database.write(out, alpha_deg=a.alpha_deg, daa=a.daa * k, daa_of_mean_inputs=a.daa_of_mean_inputs * k,
                       L=a.L, energy_MeV=a.energy_MeV, description=f"{src.name} x {k:.4g}", provenance=prov)
    return out


def condensed(rows) -> None:
    """One line per database: the <D> rate, median f(30 deg, 30 d) / <D> run of each ensemble (6 h
    with its bootstrap interval), the 6 h geometric mean, and the 6 h commuting + rest."""
    import h5py

    print("| database | <D> rate /day | 2 min | 1 h | 6 h median [95 % CI] | 1 d | 6 h geo. mean | 6 h commuting + rest |")
    print("|---|---|---|---|---|---|---|---|")
    for name, path in rows:
        with h5py.File(path) as h5:
            g = h5["mechanism"]
            if not g.attrs["available"]:
                print(f"| {name} | {g.attrs['reason']} |")
                continue
            ia = int(np.argmin(np.abs(h5["alpha_deg"][()] - g.attrs["alpha_deg"])))
            ref = h5[f"{g.attrs['reference_experiment']}/f/median"][-1, ia]
            med = {e: g[e]["f_median_over_reference"][-1] for e in g if "f_median_over_reference" in g[e]}
            e6 = g.get("drand_6h")
            b = h5["drand_6h/bootstrap"]
            cell = lambda e: f"{med[e]:.3g}" if e in med else "-"
            print(f"| {name} | {g.attrs['rate_mean_profile_per_day']:.3g} | {cell('drand_2min')} | {cell('drand_1h')} | "
                  f"{med['drand_6h']:.3g} [{b['median_ci_low'][-1] / ref:.3g}, {b['median_ci_high'][-1] / ref:.3g}] | "
                  f"{cell('drand_1d')} | {e6['f_geometric_mean_over_reference'][-1]:.3g} | "
                  f"{e6['commuting/median'][-1]:.3g} {e6['rest/median'][-1]:+.3g} |")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--config", required=True)
    b.add_argument("-o", "--output", required=True)
    b.add_argument("--overwrite", action="store_true")
    b.add_argument("--quiet", action="store_true")
    b.add_argument("--overrides-json", help="JSON {table: {key: value}} applied over the config")
    t = sub.add_parser("table", help="condensed table of aggregated summaries: NAME=SUMMARY.h5 ...")
    t.add_argument("summaries", nargs="+")
    s = sub.add_parser("stats")
    s.add_argument("databases", nargs="+")
    w = sub.add_parser("sweep")
    w.add_argument("--np", type=int, default=2)
    w.add_argument("--config", default=str(ROOT / "inputs" / "hiss_L3_0.5MeV.toml"),
                   help="base build config (its [variability], if any, is replaced by each variation's)")
    w.add_argument("--study", default=str(ROOT / "inputs" / "watt2021_paperlike_dt_sweep.toml"))
    w.add_argument("--n-profiles", type=int, default=400)
    w.add_argument("--members", type=int, default=40, help="members per ensemble (0: the study's)")
    w.add_argument("--variations", default=",".join(VARIATIONS))
    w.add_argument("--workdir", default=str(ROOT / "results" / "shape_sources"))
    w.add_argument("--rebuild", action="store_true")
    w.add_argument("--normalise", action="store_true",
                   help="also run each variation scaled to the 'none' database's mean D(30 deg)")
    args = p.parse_args()
    if args.cmd == "build":
        ov = json.loads(Path(args.overrides_json).read_text()) if args.overrides_json else None
        cmd = "tools/shape_sources.py " + " ".join(sys.argv[1:])
        return build(args.config, args.output, args.overwrite, args.quiet, ov, cmd)
    if args.cmd == "table":
        condensed([tuple(x.split("=", 1)) for x in args.summaries])
        return 0
    if args.cmd == "stats":
        stats(args.databases)
        return 0
    return sweep(args)


if __name__ == "__main__":
    sys.exit(main())
