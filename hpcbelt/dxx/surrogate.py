"""Surrogate databases: one property of a database kept, another destroyed (issue 13).

Which property of a D_aa database decides how the stochastic ensembles depend on the switching
interval -- the spread of the amplitudes, the variety of the shapes, the coherence of a profile
across pitch angles, the upper tail?  Each surrogate answers one such question when the paper's
study is run on it next to the original (``hpcbelt dxx surrogate``, then ``hpcbelt run`` with
``--set database.path=...``).  Write a_ref for the reference angle (``alpha_ref_deg``, 30 deg by
default, the angle Watt et al. 2021 report), A_k = D_k(a_ref) for row k's amplitude and
<D> for the mean profile of the original.

``amplitude_only``       D'_k(a) = A_k <D>(a) / <D>(a_ref): every row on the mean shape, with
                         its own amplitude at a_ref.  Keeps the amplitude distribution at a_ref
                         and the mean profile exactly; no shape variability.
``shape_only``           D'_k(a) = D_k(a) <D>(a_ref) / A_k: every row's own shape, all with the
                         mean's amplitude at a_ref.  Rows with A_k = 0 (no shape to scale) are
                         left out; their number is in the provenance.
``shuffled_angles``      at every pitch angle independently, the rows' values permuted (one
                         permutation per angle): keeps each angle's distribution and the mean
                         profile, destroys the coherence of a profile across angles.
``shuffled_amplitudes``  row k keeps its shape D_k / A_k and gets the amplitude A_pi(k) of
                         another row (one permutation of the rows with A > 0): keeps the shapes
                         and the amplitude distribution, destroys their correlation.
``heavy_tail``           amplitudes above their median stretched in log about it,
                         A' = med (A / med)^g (g = ``tail_factor`` >= 1) for the rows above the
                         middle value(s) of A, the row scaled by A'/A; the other rows unchanged.
                         Same median and lower half, heavier upper tail (its mean rises).

The surrogate keeps the original's pitch-angle grid, L, energy and ``daa_of_mean_inputs``
(D(<X>, <Y>) is a property of the observations, not of the profiles); it drops the X, Y, B_eq
columns, since its rows are no longer observations.  The provenance names the source file and
its sha256, the kind, the parameters and the seed: the same call gives the same bytes.
"""

from __future__ import annotations

import numpy as np

KINDS = ("amplitude_only", "shape_only", "shuffled_angles", "shuffled_amplitudes", "heavy_tail")
DEFAULT_ALPHA_REF_DEG = 30.0
DEFAULT_TAIL_FACTOR = 2.0


def amplitudes(alpha_deg: np.ndarray, daa: np.ndarray, alpha_ref_deg: float) -> np.ndarray:
    """Each row's D at ``alpha_ref_deg`` (linear interpolation in angle, as the study does)."""
    return np.array([np.interp(alpha_ref_deg, alpha_deg, row) for row in daa])


def make(kind: str, alpha_deg: np.ndarray, daa: np.ndarray, *, alpha_ref_deg: float = DEFAULT_ALPHA_REF_DEG,
         seed: int = 0, tail_factor: float = DEFAULT_TAIL_FACTOR) -> tuple[np.ndarray, dict]:
    """The surrogate profiles of ``kind`` and a dict of what was done (for the provenance).

    Raises ValueError (naming the parameter) for a kind or parameter it cannot use.
    """
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    alpha_deg = np.asarray(alpha_deg, float)
    daa = np.asarray(daa, float)
    if not alpha_deg[0] <= alpha_ref_deg <= alpha_deg[-1]:
        raise ValueError(f"alpha_ref_deg: expected an angle within the database's {alpha_deg[0]:g}.."
                         f"{alpha_deg[-1]:g} deg, got {alpha_ref_deg:g}")
    amp = amplitudes(alpha_deg, daa, alpha_ref_deg)
    mean = daa.mean(axis=0)
    mean_ref = float(np.interp(alpha_ref_deg, alpha_deg, mean))
    if mean_ref <= 0 and kind != "shuffled_angles":
        raise ValueError(f"alpha_ref_deg: the mean profile is 0 at {alpha_ref_deg:g} deg; choose an "
                         "angle where the database diffuses")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), KINDS.index(kind)]))
    info = {"kind": kind, "alpha_ref_deg": float(alpha_ref_deg), "seed": int(seed),
            "rows_in": int(daa.shape[0])}
    pos = amp > 0
    if kind == "amplitude_only":
        out = amp[:, None] * (mean / mean_ref)[None, :]
    elif kind == "shape_only":
        out = daa[pos] * (mean_ref / amp[pos])[:, None]
        info["rows_left_out_zero_at_alpha_ref"] = int((~pos).sum())
    elif kind == "shuffled_angles":
        out = np.empty_like(daa)
        for j in range(daa.shape[1]):
            out[:, j] = daa[rng.permutation(daa.shape[0]), j]
    elif kind == "shuffled_amplitudes":
        out = daa.copy()
        rows = np.flatnonzero(pos)
        out[rows] = daa[rows] * (amp[rng.permutation(rows)] / amp[rows])[:, None]
    else:  # heavy_tail
        if not (np.isfinite(tail_factor) and tail_factor >= 1.0):
            raise ValueError(f"tail_factor: expected a number >= 1 (1 leaves the database as it is), "
                             f"got {tail_factor:g}")
        med = float(np.median(amp))
        if med <= 0:
            raise ValueError(f"alpha_ref_deg: the median amplitude at {alpha_ref_deg:g} deg is 0; the "
                             "heavy tail is stretched about it, choose an angle where most rows diffuse")
        up = amp > np.sort(amp)[amp.size // 2]     # above the middle value(s): the median stays
        scale = np.ones_like(amp)
        scale[up] = (amp[up] / med) ** (tail_factor - 1.0)
        out = daa * scale[:, None]
        info.update(tail_factor=float(tail_factor), median_amplitude_per_s=med, rows_stretched=int(up.sum()))
    info["rows_out"] = int(out.shape[0])
    return np.ascontiguousarray(out), info
