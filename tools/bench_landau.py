#!/usr/bin/env python3
"""Accuracy and cost of the oblique model's latitude quadrature and frequency scan.

    python tools/bench_landau.py                  # all four tables (~2-4 min on one core)
    python tools/bench_landau.py --only landau    # or: cyclotron, cost, scan

1. ``landau``: the Landau term (n = 0) alone, error against a converged reference, for the
   uniform map (``geometry.bounce_weights``, what n = 0 used before; cyclotron terms still use
   it) and the graded map (``geometry.bounce_weights_graded``, p = MIRROR_GRADING, what n = 0
   uses now), for n_lat = 48..768.  Reference: the uniform map with 6144 nodes (checked
   against the graded map with 3072 nodes: the two rules converge for different reasons).
2. ``cyclotron``: the cyclotron-only profile (the default database's sum) against n_lat, on
   the uniform map it uses (unchanged) and, for information, on the graded map.
3. ``cost``: CPU time of a profile with the Landau term, before (n = 0 summed on the uniform
   nodes) and now (on its own graded nodes), and of the cyclotron-only profile.
4. ``scan``: ``oblique.n_freq_scan`` (root-bracketing frequencies per band) against a
   reference of 384, for the cyclotron-only profile and the Landau term, with the time per
   profile.

Settings: inputs/hiss_L3_0.5MeV.toml (spectrum 400/200 Hz, 100-2000 Hz, waves to 45 deg,
X_w = tan 30 deg, N = 5, n_lat = 96; ``--config defaults``: the standard 550/300 Hz
spectrum), B_eq = 1100 nT, densities: the default database's storm-depleted and
quiet medians (0.87e9, 1.73e9 m^-3), dxx.md's 1e9 and a dense 3e9 m^-3.  Errors are
relative, in per cent: the largest over the equatorial pitch angles listed; for the Landau term
at every angle where it is non-zero (at 30-60 deg it is orders of magnitude below its 89 deg
peak, and what the issue is about), for whole profiles at angles where the reference is at least 1e-3 of
the profile's peak (the 75 deg minimum and the band's edges hold values 1e-6 of the peak, whose
relative errors mean nothing for the solver).  Timings are process CPU times (not wall: the
machine may be shared) after a warm-up call (numba compile or cache load).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

DENSITIES = (0.87e9, 1.0e9, 1.73e9, 3.0e9)
B_EQ_NT = 1100.0
LANDAU_ANGLES = (20.0, 25.0, 30.0, 40.0, 50.0, 55.0, 60.0, 65.0, 70.0, 75.0, 80.0, 85.0,
                 88.0, 89.0)


def load_cfg(path):
    from hpcbelt.config import read_toml, validate
    from hpcbelt.dxx.config import DxxConfig, full_schema

    if path == "defaults":        # the calculator's defaults, oblique (standard spectrum)
        return dataclasses.replace(DxxConfig(), wave_model="oblique", n_lat=96)
    doc, _ = read_toml(path)
    return DxxConfig.from_doc(validate(doc, full_schema(), str(path)))


def kernel_args(cfg, X, B_eq_nT):
    """The arguments of oblique._path_sum after (lat, wgt, mu), for unit intensity."""
    from hpcbelt import constants as K
    from hpcbelt.dxx import oblique as O
    from hpcbelt.dxx.plasma import EPS, Q_OVER_M, gyrofrequency_rad_s

    sp, ob = cfg.spectrum, cfg.oblique
    gamma = K.lorentz_factor_of_energy(cfg.energy_MeV)
    beta = math.sqrt(1.0 - 1.0 / gamma ** 2)
    tn, tw = O.wave_normal_quadrature(ob.X_m, ob.X_w, ob.X_min, ob.X_max, ob.n_wave_normal)
    fs = O.scan_frequencies(sp.f_lc_Hz, sp.f_uc_Hz, ob.n_freq_scan)
    w = cfg.direction_power_fraction
    bw2 = sp.total_power_nT2(1.0) * 1e-18
    return (B_eq_nT * 1e-9, X * gyrofrequency_rad_s(B_eq_nT), bw2, sp.f_m_Hz, sp.df_Hz,
            sp.f_lc_Hz, sp.f_uc_Hz, sp.rho(), gamma, beta, EPS, Q_OVER_M, w, w, tn, tw,
            ob.n_resonance, fs, np.empty(fs.size))


def path_term(cfg, a0_deg, X, n_lat, graded, landau_only, power=None, combined=False):
    """One bounce-averaged term on one node set: n = 0 alone or the cyclotron sum.

    ``combined``: n = -N..N with n = 0 on the same node set (how the Landau term was summed
    before it got its own nodes).
    """
    from hpcbelt.dxx import geometry as G
    from hpcbelt.dxx import oblique as O

    a = kernel_args(cfg, X, B_EQ_NT)
    lat_w = math.radians(cfg.spectrum.lat_max_deg)
    out = np.zeros(len(a0_deg))
    for i, ad in enumerate(a0_deg):
        a0 = math.radians(ad)
        if graded:
            lat, w, mu = G.bounce_weights_graded(a0, n_lat, lat_w,
                                                 power or G.MIRROR_GRADING)
        else:
            lat, w, mu = G.bounce_weights(a0, n_lat, lat_w)
        args = list(a)
        args[16] = 0 if landau_only else a[16]
        out[i] = O._path_sum(lat, w, mu, *args, landau_only or combined)
    return out


def max_err(d, ref, floor=1e-3):
    m = ref > floor * ref.max()
    return 100.0 * float(np.max(np.abs(d[m] / ref[m] - 1.0))) if m.any() else 0.0


def table_landau(cfg):
    from hpcbelt.dxx.plasma import X_from_density
    print("== 1. Landau term (n = 0) alone: max |error| [%] over a0 =",
          ", ".join(f"{a:g}" for a in LANDAU_ANGLES), "deg")
    print("   reference: uniform map, 6144 nodes; per-angle errors at n_lat = 96 below")
    ns = (48, 96, 192, 384, 768)
    rows = {}
    per_angle = {}
    for dens in DENSITIES:
        X = X_from_density(dens, B_EQ_NT)
        ref = path_term(cfg, LANDAU_ANGLES, X, 6144, False, True)
        chk = path_term(cfg, LANDAU_ANGLES, X, 3072, True, True)
        print(f"   n_e {dens:.3g}: reference check graded(3072)/uniform(6144): "
              f"{max_err(chk, ref, 0):.4f} %")
        for graded in (False, True):
            for n in ns:
                d = path_term(cfg, LANDAU_ANGLES, X, n, graded, True)
                rows.setdefault((graded, n), []).append(max_err(d, ref, 0.0))
                if n == 96:
                    per_angle[(graded, dens)] = 100.0 * (d / np.where(ref > 0, ref, 1) - 1)
    print("   quadrature       n_lat " + " ".join(f"{d:9.3g}" for d in DENSITIES)
          + "   CPU time of the n = 0 term, 91 angles")
    for (graded, n), errs in rows.items():
        t = _time_landau_profile(cfg, n, graded)
        name = f"graded p={_p()}" if graded else "uniform (old)"
        print(f"   {name:15s} {n:6d} " + " ".join(f"{e:9.3f}" for e in errs)
              + f"   {t * 1e3:8.1f} ms")
    print("   at n_lat = 96, per angle [%]:")
    print("   " + " " * 23 + " ".join(f"{a:7g}" for a in LANDAU_ANGLES))
    for (graded, dens), e in per_angle.items():
        name = "graded" if graded else "uniform"
        print(f"   {name:8s} n_e {dens:8.3g} " + " ".join(f"{x:+7.2f}" for x in e))
    print("   other grading exponents p (graded map, max |error| [%] over all densities):")
    for p in (2.0, 3.0, 4.0):
        line = []
        for n in (48, 96):
            worst = 0.0
            for dens in DENSITIES:
                X = X_from_density(dens, B_EQ_NT)
                ref = path_term(cfg, LANDAU_ANGLES, X, 6144, False, True)
                worst = max(worst, max_err(path_term(cfg, LANDAU_ANGLES, X, n, True, True, p),
                                           ref, 0.0))
            line.append(f"n_lat {n}: {worst:6.2f}")
        print(f"   p = {p:g}: " + ", ".join(line))


def _p():
    from hpcbelt.dxx.geometry import MIRROR_GRADING
    return MIRROR_GRADING


def _time_landau_profile(cfg, n, graded):
    """Seconds for the n = 0 term on the 91-angle grid (one density)."""
    from hpcbelt.dxx.plasma import X_from_density
    X = X_from_density(1.0e9, B_EQ_NT)
    a = tuple(np.linspace(0.0, 90.0, 91))
    path_term(cfg, a[:2], X, n, graded, True)
    t = time.process_time()
    path_term(cfg, a, X, n, graded, True)
    return time.process_time() - t


def table_cyclotron(cfg):
    from hpcbelt.dxx.plasma import X_from_density
    print("== 2. cyclotron-only profile (the default database's sum): max |error| [%], "
          "1 deg grid, reference uniform map 1536 nodes")
    a = tuple(np.linspace(0.0, 89.0, 90))
    refs = {d: path_term(cfg, a, X_from_density(d, B_EQ_NT), 1536, False, False)
            for d in DENSITIES}
    print("   quadrature       n_lat " + " ".join(f"{d:9.3g}" for d in DENSITIES)
          + "  (a0 <= 70 deg)")
    for graded in (False, True):
        for n in (48, 96, 192, 384):
            errs, errs70 = [], []
            for d, ref in refs.items():
                v = path_term(cfg, a, X_from_density(d, B_EQ_NT), n, graded, False)
                errs.append(max_err(v, ref))
                errs70.append(max_err(v[:71], ref[:71]))
            name = f"graded p={_p()}" if graded else "uniform (used)"
            print(f"   {name:15s} {n:6d} " + " ".join(f"{e:9.3f}" for e in errs) + "  ("
                  + " ".join(f"{e:.3f}" for e in errs70) + ")")


def table_cost(cfg):
    """CPU time of a 91-angle profile with the Landau term: before and now."""
    from hpcbelt.dxx.plasma import X_from_density
    a = tuple(np.linspace(0.0, 90.0, 91))
    Xs = [X_from_density(d, B_EQ_NT) for d in DENSITIES]
    n = cfg.n_lat

    def before(X):
        return path_term(cfg, a, X, n, False, False, combined=True)

    def cyclotron(X):
        return path_term(cfg, a, X, n, False, False)

    def now(X):
        return cyclotron(X) + path_term(cfg, a, X, n, True, True)

    print(f"== cost: CPU time per 91-angle profile, n_lat = {n}, mean over {len(Xs)} densities "
          "x 2 repeats")
    for name, f in (("cyclotron only (default database; unchanged)", cyclotron),
                    ("with Landau, before: n = 0 on the uniform nodes", before),
                    ("with Landau, now: n = 0 on its own graded nodes", now)):
        f(Xs[0])
        t = time.process_time()
        for X in Xs * 2:
            f(X)
        print(f"   {name:50s} {(time.process_time() - t) / (2 * len(Xs)) * 1e3:7.0f} ms")


def table_scan(cfg):
    from hpcbelt.dxx import calculator as C
    from hpcbelt.dxx.plasma import X_from_density
    print("== 3. n_freq_scan: max |error| [%] against n_freq_scan = 384 (1 deg grid, n_lat = "
          f"{cfg.n_lat}); time per 91-angle profile")
    scans = (4, 6, 8, 12, 16, 24, 48, 96)
    for label, landau, nres in (("cyclotron only (the default database's sum)", False, 5),
                                ("Landau term alone (n = 0)", True, 0)):
        floor2 = 0.0 if landau else 1e-6
        print(f"   {label}: D >= 1e-3 x peak; in brackets D " + (
            "> 0 (its onset below 25 deg, 1e-8 of its peak and 1e-7 of the cyclotron D there, "
            "converges slowly)" if landau else
            ">= 1e-6 x peak (the cut-off and the 75 deg minimum)"))
        print("   n_freq_scan " + " ".join(f"{d:9.3g}" for d in DENSITIES)
              + "   zeros moved     time   (" + ("D > 0" if landau else "D >= 1e-6 x peak")
              + ")")

        def cfg_scan(ns):
            return dataclasses.replace(cfg, oblique=dataclasses.replace(
                cfg.oblique, n_freq_scan=ns, include_landau=landau, n_resonance=nres))

        refs = {d: C.unit_profile(cfg_scan(384), X_from_density(d, B_EQ_NT), B_EQ_NT)
                for d in DENSITIES}
        for ns in scans:
            c = cfg_scan(ns)
            C.unit_profile(c, 9.0, B_EQ_NT)
            errs, errs6, moved, t = [], [], 0, 0.0
            for d, ref in refs.items():
                t0 = time.process_time()
                v = C.unit_profile(c, X_from_density(d, B_EQ_NT), B_EQ_NT)
                t += time.process_time() - t0
                errs.append(max_err(v, ref, 1e-3))
                errs6.append(max_err(v, ref, floor2))
                moved += int(np.sum((v > 0) != (ref > 0)))
            print(f"   {ns:11d} " + " ".join(f"{e:9.3f}" for e in errs)
                  + f"   {moved:11d}   {t / len(refs) * 1e3:6.0f} ms"
                  + "   (" + " ".join(f"{e:.3f}" for e in errs6) + ")")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=str(ROOT / "inputs" / "hiss_L3_0.5MeV.toml"),
                    help="a dxx TOML file, or 'defaults': the schema defaults with the oblique "
                         "model (standard 550/300 Hz spectrum) and n_lat = 96")
    ap.add_argument("--only", choices=("landau", "cyclotron", "cost", "scan"))
    args = ap.parse_args(argv)
    cfg = load_cfg(args.config)
    t = time.perf_counter()
    if args.only in (None, "landau"):
        table_landau(cfg)
    if args.only in (None, "cyclotron"):
        table_cyclotron(cfg)
    if args.only in (None, "cost"):
        table_cost(cfg)
    if args.only in (None, "scan"):
        table_scan(cfg)
    print(f"({time.perf_counter() - t:.0f} s wall)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
