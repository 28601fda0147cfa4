"""Spectral diagnostics of a stochastic pitch-angle ensemble (issue 13: why the time scale of
variability matters).

Every profile k of a database gives an operator A_k = M^-1 K_k - Lambda that is self-adjoint in
the inner product <u, v> = u^T M v, because the content weights M and the loss rates Lambda do
not depend on the profile; its symmetric form S_k = M^1/2 A_k M^-1/2 is the tridiagonal of
:func:`.operator.symmetric_tridiagonal`, and S is linear in D, so the mean of the S_k is the S of
the mean profile <D(X_i, Y_i)>.

Three quantities follow, all per second:

* ``rate_of_mean_profile``  -lambda_max(S(<D>)): the asymptotic decay rate of the constant <D> run.
* ``rate_of_mean_propagator(tau)``  -ln(mu_max) / tau with mu_max the top eigenvalue of
  E[exp(S tau)] = mean over rows of exp(S_k tau): the asymptotic decay rate of the *ensemble
  mean* of f when a row is drawn independently and uniformly every tau.
* ``segment_rates``  -lambda_max(S_k) for each row: the decay of its own slowest mode.

The bound.  For a unit vector v, v^T exp(S tau) v = sum_i c_i^2 exp(tau s_i) >= exp(tau v^T S v)
(Jensen on the spectral measure c_i^2 of S), and the mean over draws of exp(tau v^T S_k v) is
>= exp(tau v^T <S> v) (Jensen on the draw).  With v the top eigenvector of <S>:
mu_max >= v^T E[exp(S tau)] v >= exp(tau lambda_max(<S>)), i.e. **the ensemble mean under any iid
switching decays asymptotically no faster than the <D> run**, at every tau.  Only statistics
that weight members unequally (the median, the geometric mean) can fall below the <D> run.

The gap.  Where D all but vanishes (above about 75 deg in hiss databases) the operator nearly
splits into decoupled blocks; the block above the gap hardly leaks in a month, and its slow
modes would hide the decay of the main belt.  Rates are therefore taken on the block from 0 deg
up to the gap (:func:`below_gap`), closed there: the angles the loss cone drains.

The per-member decomposition.  Over a member's history, ln f(a, t) - ln f(a, 0) is split into
the *commuting part* C(t) = -sum over segments of rate_k tau (what the loss would be if every
segment's slowest mode were the same shape, i.e. if the operators commuted) and the *rest*
R(t) = ln f(a, t) / f(a, 0) - C(t): the loss (R < 0) or gain (R > 0) at the switches from the
mismatch of the mode shapes, plus the decay of the initial state's faster modes.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import eigh, eigh_tridiagonal

from .operator import Grid, symmetric_tridiagonal


GAP_FRACTION = 1e-4     # D below this fraction of its peak opens the gap (see below_gap)


def below_gap(grid: Grid, daa_mean: np.ndarray, fraction: float = GAP_FRACTION) -> int:
    """Number of grid nodes below the gap: the nodes under the first angle above the peak of
    ``daa_mean`` where it falls below ``fraction`` of its peak (all nodes if it never does).

    Above that angle the exchange with the rest of the distribution is slow against a month,
    and the block there holds near-stationary modes (rate < 0.03 /day for the default database)
    that would hide the decay of the main belt.  The cut is a choice, and the rates depend on it:
    on the default database the <D> run's rate is 0.191, 0.178 and 0.159 /day with the cut at 75,
    76 (the default, D = 8e-5 of its peak) and 77 deg.  The bound holds for any cut (the block
    with a closed face at the cut keeps every property it uses).
    """
    d = np.asarray(daa_mean, float)
    peak = int(np.argmax(d))
    low = np.flatnonzero(d[peak:] < fraction * d[peak])
    return grid.n if low.size == 0 else peak + int(low[0])


def _block(grid: Grid, daa: np.ndarray, nb: int):
    diag, off = symmetric_tridiagonal(grid, np.atleast_2d(daa))
    return diag[:, :nb], off[:, :nb - 1]


def segment_rates(grid: Grid, daa_stack: np.ndarray, nb: int) -> np.ndarray:
    """-lambda_max of each profile's operator on the first ``nb`` nodes [1/s], >= 0."""
    diag, off = _block(grid, daa_stack, nb)
    top = np.array([eigh_tridiagonal(d, o, eigvals_only=True, select="i",
                                     select_range=(nb - 1, nb - 1))[0] for d, o in zip(diag, off)])
    return -top


def rate_of_mean_profile(grid: Grid, daa_mean: np.ndarray, nb: int) -> float:
    """Asymptotic decay rate of the constant run with ``daa_mean`` on the first ``nb`` nodes [1/s]."""
    return float(segment_rates(grid, daa_mean, nb)[0])


def mean_propagators(grid: Grid, daa_stack: np.ndarray, taus_s, nb: int) -> list[np.ndarray]:
    """E[exp(S tau)] over the rows of ``daa_stack`` (uniform draws), symmetric form, nb x nb, for
    each tau of ``taus_s``: one eigen-decomposition per row, whatever the number of taus."""
    diag, off = _block(grid, daa_stack, nb)
    taus = [float(t) for t in taus_s]
    acc = [np.zeros((nb, nb)) for _ in taus]
    for d, o in zip(diag, off):
        w, q = eigh_tridiagonal(d, o)
        for a, tau in zip(acc, taus):
            a += (q * np.exp(w * tau)) @ q.T
    return [a / diag.shape[0] for a in acc]


def mean_propagator(grid: Grid, daa_stack: np.ndarray, tau_s: float, nb: int) -> np.ndarray:
    """E[exp(S tau)] for one tau (:func:`mean_propagators`)."""
    return mean_propagators(grid, daa_stack, [tau_s], nb)[0]


def rates_of_mean_propagator(grid: Grid, daa_stack: np.ndarray, taus_s, nb: int) -> list[float]:
    """Asymptotic decay rate of the ensemble mean under iid switching every tau [1/s], per tau."""
    out = []
    for tau, P in zip(taus_s, mean_propagators(grid, daa_stack, taus_s, nb)):
        mu = eigh(P, eigvals_only=True, subset_by_index=(nb - 1, nb - 1))[0]
        out.append(float(-np.log(mu) / float(tau)))
    return out


def rate_of_mean_propagator(grid: Grid, daa_stack: np.ndarray, tau_s: float, nb: int) -> float:
    """The same for one tau."""
    return rates_of_mean_propagator(grid, daa_stack, [tau_s], nb)[0]


def decompose(log_f: np.ndarray, time_s: np.ndarray, seg_t: np.ndarray, seg_rows: np.ndarray,
              rates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split ln f(a, t) - ln f(a, 0) of members into the commuting part and the rest.

    Parameters
    ----------
    log_f : (members, n_time) ln f at one pitch angle.
    time_s : (n_time,) output times [s], starting at 0.
    seg_t : (n_seg,) segment start times [s].
    seg_rows : (members, n_seg) the row of ``rates`` each member used in each segment.
    rates : (K,) each row's slowest-mode decay rate [1/s] (:func:`segment_rates`).

    Returns (commuting, rest), each (members, n_time), both 0 at t = 0.
    """
    seg_end = np.append(seg_t[1:], np.inf)
    # overlap of each segment with [0, t] for every output time t: (n_time, n_seg)
    spent = np.clip(np.minimum(time_s[:, None], seg_end[None, :]) - seg_t[None, :], 0.0, None)
    commuting = -(rates[seg_rows] @ spent.T)                     # (members, n_time)
    rest = (log_f - log_f[:, :1]) - commuting
    return commuting, rest
