"""Synthetic run files in the pitch-angle run-file layout (hpcbelt/pitch_angle/runfile.py), and
access to the pitch-angle test helpers (real runs through the real command line)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
F_UNITS = "cm^-2 s^-1 sr^-1 keV^-1"


def pa_helpers():
    """tests/pitch_angle/helpers.py (make_study, hpcbelt, mpi_env), loaded by path."""
    spec = importlib.util.spec_from_file_location("hpcbelt_tests_pa_helpers",
                                                  ROOT / "tests" / "pitch_angle" / "helpers.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


DEFAULT_EXPERIMENTS = (
    ("drand_2min", "random", 9, 120.0),
    ("drand_6h", "random", 7, 21600.0),
    ("mean_of_profiles", "mean_of_profiles", 1, None),
    ("mean_inputs", "mean_inputs", 1, None),
)


def member_values(rng, n_members, time_s, alpha_deg, spread=0.5):
    """Positive f that decays at a member-dependent rate, and a growing time integral of D."""
    days = time_s / 86400.0
    shape = 0.2 + np.sin(np.radians(alpha_deg)) ** 2
    rate = 0.15 * rng.lognormal(0.0, spread, (n_members, 1, 1))
    noise = rng.lognormal(0.0, 0.05, (n_members, days.size, alpha_deg.size))
    f = 5e3 * np.exp(-rate * days[None, :, None] / shape[None, None, :]) * noise
    f[:, 0, :] = 5e3
    d = np.cumsum(rng.lognormal(-1.0, 1.0, (n_members, days.size, alpha_deg.size)), axis=1)
    d[:, 0, :] = 0.0
    return f, d * shape[None, None, :]


def write_run(path, experiments=DEFAULT_EXPERIMENTS, n_time=25, n_alpha=31, days=30.0, seed=1,
              done=None, status="complete", db_path=None, block=2000, layout="chunked"):
    """Write a synthetic pitch-angle run file; ``done`` maps an experiment to its member_done flags
    (unfinished members keep the NaN fill value, like a run that stopped).  ``layout``: "chunked"
    (one member per chunk) or "contiguous" (allocated early, as restartable runs write them).
    Returns the arrays: {name: (f, daa_integral, done_flags)} with NaN where unfinished."""
    rng = np.random.default_rng(seed)
    time_s = np.linspace(0.0, days * 86400.0, n_time)
    alpha = np.linspace(0.0, 90.0, n_alpha)
    done = done or {}
    out = {}
    cfg = {"experiment": [{"name": n, "mode": m, "members": k} for n, m, k, _ in experiments]}
    with h5py.File(path, "w") as h5:
        h5.attrs.update({"kind": "pitch_angle", "layout_version": 1, "status": status, "title": "synthetic",
                         "f_units": F_UNITS, "hpcbelt_version": "test", "study_config_json": json.dumps(cfg)})
        for name, data, unit in (("time_s", time_s, "s"), ("alpha_deg", alpha, "deg")):
            d = h5.create_dataset(name, data=data)
            d.attrs["units"] = unit
            d.make_scale(name)
        g = h5.create_group("grid")
        g.attrs["loss_cone_deg"] = 8.62
        dbg = h5.create_group("database")
        dbg.attrs.update({"path": str(db_path or ""), "sha256": "", "n_profiles": 40})
        dbg.create_dataset("daa_mean", data=2e-6 * (0.5 + np.sin(np.radians(alpha)) ** 2)).attrs["units"] = "1/s"
        dbg.create_dataset("daa_of_mean_inputs", data=1e-6 * (0.5 + np.sin(np.radians(alpha)) ** 2)).attrs[
            "units"] = "1/s"
        for name, mode, members, switch in experiments:
            e = h5.create_group(name)
            e.attrs.update({"mode": mode, "members": members, "description": f"synthetic {name}",
                            "switch_every_s": np.nan if switch is None else switch})
            flags = np.asarray(done.get(name, np.ones(members, np.uint8)), np.uint8)
            kw = {"chunks": (1, n_time, n_alpha)} if layout == "chunked" else {"chunks": None}
            f = e.create_dataset("f", shape=(members, n_time, n_alpha), dtype="f8", fillvalue=np.nan, **kw)
            di = e.create_dataset("daa_integral", shape=(members, n_time, n_alpha), dtype="f8", fillvalue=np.nan,
                                  **kw)
            f.attrs["units"] = F_UNITS
            di.attrs["units"] = "1"
            e.create_dataset("member_done", data=flags)
            keep_f, keep_d = [], []
            small = members * n_time * n_alpha <= 2_000_000
            for m0 in range(0, members, block):
                m1 = min(members, m0 + block)
                fv, dv = member_values(rng, m1 - m0, time_s, alpha)
                fv[flags[m0:m1] == 0] = np.nan
                dv[flags[m0:m1] == 0] = np.nan
                f[m0:m1] = fv
                di[m0:m1] = dv
                if small:
                    keep_f.append(fv)
                    keep_d.append(dv)
            out[name] = (np.concatenate(keep_f) if small else None, np.concatenate(keep_d) if small else None,
                         flags)
    return out


def write_db(path, n_alpha=46):
    pa = pa_helpers()
    return pa.write_test_database(path, n_alpha=n_alpha)


def np_stats(x):
    """Reference statistics with numpy on the finished members (axis 0)."""
    q = np.percentile(x, [0, 5, 25, 50, 75, 95, 100], axis=0)
    return {"mean": x.mean(axis=0), "min": q[0], "p05": q[1], "p25": q[2], "median": q[3], "p75": q[4],
            "p95": q[5], "max": q[6]}


def write_drift_run(path, n_perm=6, n_time=9, n_L=12, n_mlt=8, n_ptime=5, coarsen=(2, 2), seed=3,
                    perm_done=None, pde_done=True, status="complete", radial=True, particles=True):
    """A synthetic drift-diffusion run in the layout of hpcbelt/drift/runfile.py (layout_version 2).
    Returns the arrays written: pde_F, pde_probe_F, radial_F, part_F, part_probe_F, number, perm_done."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 8 * 3600.0, n_time)
    L_edges = np.linspace(2.0, 8.0, n_L + 1)
    L = 0.5 * (L_edges[1:] + L_edges[:-1])
    mlt = (np.arange(n_mlt) + 0.5) * 24.0 / n_mlt
    meas = (1 / L_edges[:-1] - 1 / L_edges[1:]) * 2 * np.pi / n_mlt
    F = rng.uniform(0, 1, (n_time, n_L, n_mlt))
    rF = F.mean(axis=2) + rng.normal(0, 0.01, (n_time, n_L))
    probe_F = rng.uniform(0, 1, (1, n_time))
    pt = np.linspace(0.0, 6 * 3600.0, n_ptime)
    pL, pm = L[:: coarsen[0]], mlt[:: coarsen[1]]
    pF = rng.uniform(0, 1, (n_perm, n_ptime, pL.size, pm.size)).astype(np.float32)
    pprobe = rng.uniform(0, 1, (n_perm, 1, n_ptime))
    num = rng.uniform(1, 2, (n_perm, n_ptime))
    done = np.ones(n_perm, np.uint8) if perm_done is None else np.asarray(perm_done, np.uint8)
    for arr in (pF, pprobe, num):
        arr[done == 0] = np.nan
    if not pde_done:
        F[n_time // 2:] = np.nan
    with h5py.File(path, "w") as h5:
        h5.attrs.update({"kind": "drift_diffusion", "layout_version": 2, "status": status, "title": "synthetic drift",
                         "hpcbelt_version": "test", "study_config_json": "{}"})
        h5.create_dataset("time_s", data=t).attrs["units"] = "s"
        pr = h5.create_group("probe")
        pr["name"] = np.array([b"L3.5_22MLT"], dtype="S64")
        for k, v in (("L_lo", 3.45), ("L_hi", 3.55), ("mlt_lo_h", 21.75), ("mlt_hi_h", 22.25)):
            pr[k] = np.array([v])
        g = h5.create_group("pde")
        g["L_grid"], g["mlt_h"], g["L_edges"], g["cell_measure"] = L, mlt, L_edges, meas
        g["F"], g["probe_F"] = F, probe_F
        g["done"] = np.uint8(1 if pde_done else 0)
        if radial:
            h5.create_group("radial")["F"] = rF
        if particles:
            p = h5.create_group("particles")
            p["time_s"], p["L_grid"], p["mlt_h"] = pt, pL, pm
            p["F"], p["probe_F"], p["number_in_grid"], p["perm_done"] = pF, pprobe, num, done
    return {"pde_F": F, "pde_probe_F": probe_F, "radial_F": rF, "part_F": pF, "part_probe_F": pprobe,
            "number": num, "perm_done": done, "time_s": t, "p_time_s": pt, "cell_measure": meas}
