"""Numba kernels of the pitch-angle solver: pure functions of arrays, no I/O, no MPI.

A member's history is a sequence of *intervals*: spans of time over which one diffusion
profile is active and no output is due.  Interval j uses profile ``kidx[j]`` for ``tau[j]``
seconds; ``out_flag[j]`` says whether an output time falls at its end.  Both integrators walk
the same sequence, so the time-integrated D and the output rows are built identically.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, fastmath=True)
def stencil_steps(p, q, lo, ce, up, nsteps):
    """Apply ``nsteps`` explicit steps f_i <- lo_i f_{i-1} + ce_i f_i + up_i f_{i+1}.

    Parameters
    ----------
    p, q : float64 arrays (n + 2,)
        Ping-pong buffers with a zero ghost value at each end; the state is ``p[1:n+1]`` on
        entry and is left in ``p`` on exit (``q`` is scratch).
    lo, ce, up : float64 arrays (n,)
        Stencil weights with the implicit loss factor 1 / (1 + lambda_i dt) folded in;
        ``lo[0] = up[n-1] = 0`` so the ghosts never contribute (zero-flux ends).
    nsteps : int
        Number of forward-Euler steps.
    """
    n = lo.size
    for _ in range(nsteps // 2):
        for i in range(n):
            q[i + 1] = lo[i] * p[i] + ce[i] * p[i + 1] + up[i] * p[i + 2]
        for i in range(n):
            p[i + 1] = lo[i] * q[i] + ce[i] * q[i + 1] + up[i] * q[i + 2]
    if nsteps % 2:
        for i in range(n):
            q[i + 1] = lo[i] * p[i] + ce[i] * p[i + 1] + up[i] * p[i + 2]
        for i in range(n):
            p[i + 1] = q[i + 1]


@numba.njit(cache=True)
def march_explicit(f0, coef, kidx, nsteps, daa, tau, out_flag, out_f, out_dint):
    """Walk a member's intervals with the explicit stencil.

    Parameters
    ----------
    f0 : (n,) initial state.
    coef : (K, 3, n) stencil weights (lo, ce, up) for each of the K profiles in use.
    kidx : (J,) int, profile of each interval (row of ``coef`` and ``daa``).
    nsteps : (J,) int, explicit steps in each interval.
    daa : (K, n) D at the nodes [1/s], for the running time integral.
    tau : (J,) interval lengths [s].
    out_flag : (J,) bool, an output time falls at the end of the interval.
    out_f, out_dint : (n_out, n) outputs; row 0 receives the initial state and zero.
    """
    n = f0.size
    p = np.zeros(n + 2)
    q = np.zeros(n + 2)
    p[1:n + 1] = f0
    dint = np.zeros(n)
    out_f[0, :] = f0
    out_dint[0, :] = 0.0
    row = 1
    for j in range(kidx.size):
        k = kidx[j]
        stencil_steps(p, q, coef[k, 0], coef[k, 1], coef[k, 2], nsteps[j])
        for i in range(n):
            dint[i] += daa[k, i] * tau[j]
        if out_flag[j]:
            out_f[row, :] = p[1:n + 1]
            out_dint[row, :] = dint
            row += 1
    return row


@numba.njit(cache=True, fastmath=True)
def _matvec(P, x, y):
    n = x.size
    for i in range(n):
        s = 0.0
        for m in range(n):
            s += P[i, m] * x[m]
        y[i] = s


@numba.njit(cache=True)
def march_exact(f0, props, pidx, kidx, daa, tau, out_flag, out_f, out_dint):
    """Walk a member's intervals applying precomputed propagators exp(A_k tau_j).

    Parameters
    ----------
    props : (Q, n, n) propagator matrices; interval j applies ``props[pidx[j]]``.
    kidx, daa, tau, out_flag, out_f, out_dint : as in :func:`march_explicit`.
    """
    n = f0.size
    x = f0.copy()
    y = np.empty(n)
    dint = np.zeros(n)
    out_f[0, :] = f0
    out_dint[0, :] = 0.0
    row = 1
    for j in range(pidx.size):
        _matvec(props[pidx[j]], x, y)
        x, y = y, x
        k = kidx[j]
        for i in range(n):
            dint[i] += daa[k, i] * tau[j]
        if out_flag[j]:
            out_f[row, :] = x
            out_dint[row, :] = dint
            row += 1
    return row
