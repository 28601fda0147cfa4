"""Time integration of one ensemble member: the two integrators behind ``[time] method``.

``explicit``  forward Euler for diffusion (the paper's scheme, dt = 0.1 s by default) and
              backward Euler for the loss, f_new = (f + dt Diff f) / (1 + lambda dt): stable
              and non-negative for any dt, and it keeps the quasi-steady balance
              f = Diff f / lambda inside the loss cone exact (an exp(-lambda dt) split factor
              gets that balance wrong by O(1) at the paper's dt / tau_L ~ 1).  dt above the
              diffusion limit of :func:`operator.explicit_dt_limit` is refused.
``exact``     D is piecewise constant, so each interval is advanced with exp(A_k tau), built
              from the eigen-decomposition of the symmetric form of A_k: exact in time.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import eigh_tridiagonal

from . import kernels
from .operator import Grid, face_coefficients, symmetric_tridiagonal


def output_times(duration_s: float, output_every_s: float) -> np.ndarray:
    """Output times 0, dt_out, 2 dt_out, ... and the end time if it is not a multiple."""
    n = int(np.floor(duration_s / output_every_s * (1 + 1e-12)))
    t = np.arange(n + 1) * output_every_s
    if duration_s - t[-1] > 1e-9 * duration_s:
        t = np.append(t, duration_s)
    return t


def switch_times(duration_s: float, switch_every_s: float | None) -> np.ndarray:
    """Start times of the profile segments (one segment for a constant profile)."""
    if not switch_every_s:
        return np.zeros(1)
    n = int(np.ceil(duration_s / switch_every_s * (1 - 1e-12)))
    return np.arange(n) * switch_every_s


def intervals(out_t: np.ndarray, seg_t: np.ndarray):
    """Merge output and switch times into intervals.

    Returns (segment number, length [s], output-at-end flag) for each interval.
    """
    end = out_t[-1]
    scale = max(end, 1.0)
    events = np.union1d(out_t, seg_t[seg_t < end])
    # merge events closer than round-off so no zero-length interval appears
    keep = np.concatenate(([True], np.diff(events) > 1e-9 * scale))
    events = events[keep]
    tau = np.diff(events)
    seg = np.searchsorted(seg_t, events[:-1] + 1e-9 * scale, side="right") - 1
    is_out = np.zeros(tau.size, bool)
    pos = np.searchsorted(events, out_t[1:] - 1e-9 * scale)
    is_out[pos - 1] = True
    return seg.astype(np.int64), tau, is_out


def stencil(grid: Grid, daa_stack: np.ndarray, dt_s: float) -> np.ndarray:
    """Explicit-step weights (K, 3, n): (lo, ce, up) divided by (1 + lambda dt) (implicit loss)."""
    daa_stack = np.atleast_2d(daa_stack)
    c = face_coefficients(grid, daa_stack) * dt_s
    k, n = daa_stack.shape
    coef = np.zeros((k, 3, n))
    coef[:, 0, 1:] = c / grid.volume[1:]
    coef[:, 2, :-1] = c / grid.volume[:-1]
    coef[:, 1, :] = 1.0 - coef[:, 0, :] - coef[:, 2, :]
    coef /= (1.0 + grid.loss_rate_per_s * dt_s)[None, None, :]
    return coef


def _decompose(grid: Grid, daa_stack: np.ndarray):
    """Per profile k of ``daa_stack``: (w, M^-1/2 Q, Q^T M^1/2) of S_k = Q diag(w) Q^T."""
    diag, off = symmetric_tridiagonal(grid, daa_stack)
    sq = np.sqrt(grid.volume)
    for k in range(daa_stack.shape[0]):
        w, q = eigh_tridiagonal(diag[k], off[k])
        yield w, q / sq[:, None], (q * sq[:, None]).T


def _propagator(w: np.ndarray, left: np.ndarray, right: np.ndarray, tau_s: float, out: np.ndarray) -> None:
    """``out = left diag(exp(w tau)) right``, round-off negatives clipped to zero."""
    np.matmul(left * np.exp(w * tau_s)[None, :], right, out=out)
    np.maximum(out, 0.0, out=out)


def propagators(grid: Grid, daa_stack: np.ndarray, tau_s: float, out: np.ndarray | None = None) -> np.ndarray:
    """exp(A_k tau) for each profile k of ``daa_stack`` (K, n) -> (K, n, n), into ``out`` if given.

    A_k = M^-1 K_k - Lambda is similar to the symmetric tridiagonal S_k (see operator.py):
    exp(A tau) = M^-1/2 Q exp(w tau) Q^T M^1/2 with S = Q diag(w) Q^T.  Entries of the exact
    propagator are non-negative (A is an M-matrix generator); round-off negatives of order
    1e-16 are clipped so f never goes below zero.  Each profile's matrix is computed on its own,
    so its bits do not depend on which other profiles share the call (the shared bank relies on it).
    """
    daa_stack = np.atleast_2d(daa_stack)
    if out is None:
        out = np.empty((daa_stack.shape[0], grid.n, grid.n))
    for k, (w, left, right) in enumerate(_decompose(grid, daa_stack)):
        _propagator(w, left, right, tau_s, out[k])
    return out


def bank_keys(plans) -> list[tuple[int, float]]:
    """The distinct (profile row, interval length [s], rounded to 1e-9 s) pairs of some members.

    ``plans`` yields (kidx, tau) of each member (:func:`member_intervals`).  Sorted by length
    then profile, so that the keys of one length are contiguous (one batch per length).
    """
    used: dict[float, np.ndarray] = {}          # length -> which profiles use it
    for kidx, tau in plans:
        kidx = np.asarray(kidx, dtype=np.int64)
        tau = np.round(np.asarray(tau, dtype=float), 9)
        lengths, where = np.unique(tau, return_inverse=True)
        for i, t in enumerate(lengths.tolist()):
            ks = kidx[where == i] if lengths.size > 1 else kidx
            hit = np.bincount(ks, minlength=int(ks.max()) + 1) > 0
            have = used.get(t)
            if have is None or have.size < hit.size:
                grown = np.zeros(hit.size, bool)
                if have is not None:
                    grown[:have.size] = have
                have = used[t] = grown
            have[:hit.size] |= hit
    return [(int(k), t) for t in sorted(used) for k in np.flatnonzero(used[t]).tolist()]


def build_propagators(grid: Grid, daa_stack: np.ndarray, keys: list[tuple[int, float]],
                      out: np.ndarray) -> None:
    """``out[i] = exp(A_{k_i} t_i)`` for ``keys[i] = (k_i, t_i)``, in any order.

    Each profile is decomposed once, whatever the number of lengths it is wanted for (e.g. the
    same database row drawn by a 2-min and a 6-h experiment), and every matrix is bitwise what
    :func:`propagators` gives for it.
    """
    if not keys:
        return
    rows: dict[int, list[int]] = {}
    for i, (k, _) in enumerate(keys):
        rows.setdefault(k, []).append(i)
    profiles = sorted(rows)
    for k, (w, left, right) in zip(profiles, _decompose(grid, daa_stack[profiles])):
        for i in rows[k]:
            _propagator(w, left, right, keys[i][1], out[i])


def member_intervals(seg_profile: np.ndarray, out_t: np.ndarray, seg_t: np.ndarray):
    """(profile row, length [s], output flag) of every interval of one member."""
    seg, tau, is_out = intervals(out_t, seg_t)
    return np.ascontiguousarray(seg_profile[seg], dtype=np.int64), tau, is_out


class PropagatorBank:
    """Propagators exp(A_k tau) in one contiguous (count, n, n) array, indexed by (profile, length).

    Two ways to fill it: on demand (:meth:`rows` builds what is missing, in batches: one rank's
    private bank), or :meth:`over` a fixed key list whose matrices were built elsewhere, e.g. in
    a node's shared-memory window (see the driver).  The kernels index ``matrices`` directly, so
    no per-member copies are made.
    """

    def __init__(self, grid: Grid, daa_stack: np.ndarray):
        self.grid = grid
        self.daa = np.atleast_2d(daa_stack)
        self._store = np.empty((0, grid.n, grid.n))
        self.count = 0
        self.index: dict[tuple[int, float], int] = {}
        self.fixed = False

    @classmethod
    def over(cls, grid: Grid, daa_stack: np.ndarray, keys: list[tuple[int, float]],
             store: np.ndarray) -> "PropagatorBank":
        """A bank whose row i is the (already built) propagator of ``keys[i]``; it never grows."""
        bank = cls(grid, daa_stack)
        bank._store = store
        bank.count = len(keys)
        bank.index = {key: i for i, key in enumerate(keys)}
        bank.fixed = True
        return bank

    @property
    def matrices(self) -> np.ndarray:
        """The propagators built so far, (count, n, n) (a view, no copy)."""
        return self._store[:self.count]

    @property
    def nbytes(self) -> int:
        return self.count * self.grid.n * self.grid.n * 8

    def _reserve(self, extra: int) -> None:
        need = self.count + extra
        if need > self._store.shape[0]:
            grown = np.empty((max(need, 2 * self._store.shape[0]), self.grid.n, self.grid.n))
            grown[:self.count] = self._store[:self.count]
            self._store = grown

    def rows(self, kidx: np.ndarray, tau: np.ndarray) -> np.ndarray:
        """Row of ``matrices`` for each interval (profile kidx[j], length tau[j])."""
        kidx = np.asarray(kidx, dtype=np.int64)
        tau = np.round(np.asarray(tau, dtype=float), 9)
        lengths, where = np.unique(tau, return_inverse=True)
        out = np.empty(kidx.size, dtype=np.int64)
        for i, t in enumerate(lengths.tolist()):
            sel = where == i
            table = self._table(t)
            got = table[kidx[sel]]
            if (got < 0).any():
                self._build({(int(k), t) for k in np.unique(kidx[sel][got < 0]).tolist()})
                table = self._table(t)
                got = table[kidx[sel]]
            out[sel] = got
        return out

    def _table(self, t: float) -> np.ndarray:
        """Row of each profile's propagator of length ``t`` (-1 where not built), cached."""
        tables = self.__dict__.setdefault("_tables", {})
        table = tables.get(t)
        if table is None or tables.get(("count", t)) != self.count:
            table = np.full(self.daa.shape[0], -1, dtype=np.int64)
            for (k, tt), row in self.index.items():
                if tt == t:
                    table[k] = row
            tables[t] = table
            tables[("count", t)] = self.count
        return table

    def _build(self, wanted: set) -> None:
        missing = wanted - self.index.keys()
        if not missing:
            return
        if self.fixed:
            raise RuntimeError(f"propagator bank built for other intervals: {len(missing)} missing")
        keys = sorted(missing, key=lambda kt: (kt[1], kt[0]))
        self._reserve(len(keys))
        build_propagators(self.grid, self.daa, keys, self._store[self.count:self.count + len(keys)])
        for key in keys:
            self.index[key] = self.count
            self.count += 1

    def prepare(self, kidx_list, tau_list) -> None:
        """Build every propagator that a set of members will need, in one allocation."""
        self._build(set(bank_keys(zip(kidx_list, tau_list))))


def run_member(grid: Grid, f0: np.ndarray, daa_stack: np.ndarray, seg_profile: np.ndarray,
               out_t: np.ndarray, seg_t: np.ndarray, method: str, dt_s: float = 0.1,
               prop_cache: "PropagatorBank | None" = None):
    """Integrate one member; return (f, daa_integral), each (n_out, n).

    ``daa_stack`` (K, n) holds the profiles on the model grid; segment s uses profile
    ``seg_profile[s]``.  ``prop_cache`` (a :class:`PropagatorBank` for the same grid and profiles) is shared
    between members so that each propagator is built once per rank.
    """
    kidx, tau, is_out = member_intervals(seg_profile, out_t, seg_t)
    out_f = np.empty((out_t.size, grid.n))
    out_d = np.empty((out_t.size, grid.n))
    f0 = np.ascontiguousarray(f0, float)
    if method == "explicit":
        steps = np.rint(tau / dt_s).astype(np.int64)
        coef = stencil(grid, daa_stack, dt_s)
        kernels.march_explicit(f0, coef, kidx, steps, daa_stack, tau, is_out, out_f, out_d)
    elif method == "exact":
        bank = PropagatorBank(grid, daa_stack) if prop_cache is None else prop_cache
        pidx = bank.rows(kidx, tau)
        kernels.march_exact(f0, bank.matrices, pidx, kidx, daa_stack, tau, is_out, out_f, out_d)
    else:
        raise ValueError(f"unknown method {method!r}")
    return out_f, out_d


def check_steps(tau: np.ndarray, dt_s: float) -> float:
    """Largest relative mismatch between interval lengths and whole numbers of dt."""
    r = tau / dt_s
    return float(np.max(np.abs(r - np.rint(r)) / np.maximum(np.rint(r), 1)))
