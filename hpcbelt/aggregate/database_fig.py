"""Data behind the Fig 1-like plot: the distribution of the database profiles used by a run.

The run file stores <D(X_i, Y_i)> and D(<X>, <Y>) on the model grid; the full database is read
from ``database@path`` when that file is still there (its sha256 is compared with the one the
run recorded).  Column-normalised PDFs of log10 D_aa at each database pitch angle (their Fig 1a),
the PDFs at 30 and 60 deg (Fig 1b) and a normal quantile-quantile sample at 45 deg (Fig 1c).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError


WINDOW_DECADES = 8.0   # histogram range below the largest D_aa [decades]


def database_distribution(db_info: dict, n_bins: int = 60, qq_alpha_deg: float = 45.0) -> dict:
    """Histogram the database named in the run; ``{"readable": False, "reason": ...}`` if it cannot."""
    from ..pitch_angle import database as dbmod

    path = db_info.get("path", "")
    if not path:
        return {"readable": False, "reason": "the run file records no database path"}
    if not Path(path).is_file():
        return {"readable": False, "reason": f"database file {path} not found"}
    try:
        db = dbmod.load(path)
    except InputError as exc:
        return {"readable": False, "reason": str(exc)}
    except (OSError, KeyError, ValueError, RuntimeError) as exc:   # a damaged file: the figure does without
        return {"readable": False, "reason": f"{path}: unreadable ({exc})"}
    daa = db.daa
    pos = daa[daa > 0]
    if pos.size == 0:
        return {"readable": False, "reason": f"{path}: no positive D_aa"}
    lg_min, lg_max = np.log10(pos.min()), np.log10(pos.max())
    hi = np.ceil(lg_max * 4) / 4
    # at most WINDOW_DECADES below the largest D: profiles falling steeply to 1e-30 and less
    # at a cyclotron cut-off would otherwise squeeze the diffusing range into a few bins
    lo = max(np.floor(lg_min * 4) / 4, hi - WINDOW_DECADES)
    if hi <= lo:
        hi = lo + 0.5
    edges = np.linspace(lo, hi, n_bins + 1)
    n_a = db.alpha_deg.size
    counts = np.zeros((n_a, n_bins), np.int64)
    zeros = np.zeros(n_a, np.int64)
    for j in range(n_a):
        col = daa[:, j]
        p = col > 0
        zeros[j] = int((~p).sum())
        counts[j] = np.histogram(np.log10(col[p]), bins=edges)[0]
    width = np.diff(edges)
    density = counts / (float(db.n_profiles) * width[None, :])
    jq = int(np.argmin(np.abs(db.alpha_deg - qq_alpha_deg)))
    sample = np.sort(daa[:, jq][daa[:, jq] > 0])
    from statistics import NormalDist

    n = sample.size
    inv = NormalDist().inv_cdf
    normal_q = np.array([inv((i - 0.5) / n) for i in range(1, n + 1)]) if n else np.zeros(0)
    return {
        "readable": True,
        "path": str(path),
        "sha256": db.sha256,
        "sha256_matches_run": bool(db.sha256 == db_info.get("sha256", "")),
        "n_profiles": int(db.n_profiles),
        "alpha_deg": db.alpha_deg.astype(float),
        "edges": edges,
        "counts": counts,
        "zeros": zeros,
        "density": density,
        "qq_alpha_deg": float(db.alpha_deg[jq]),
        "qq_sample_log10": np.log10(sample) if n else np.zeros(0),
        "qq_normal": normal_q,
        "daa_mean_db_grid": daa.mean(axis=0),
    }
