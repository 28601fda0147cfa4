"""Numba kernels of the drift-diffusion solver (Eq. 28 of Lejosne & Albert 2023).

Representation
--------------
``F[i, k]`` is the cell average on ring ``i`` (L cell centre ``L_i``) at co-rotating index ``k``:
the cell whose centre sits at MLT angle ``phi = (k + 1/2) dphi + theta_i(t)`` with
``theta_i = Omega(L_i) t``.  The azimuthal drift of Eq. 28 is a rigid rotation of each ring, so
in this representation it is exact and needs no interpolation at all: only the ring offsets
``theta_i`` move.  The y-diffusion couples neighbouring rings whose MLT grids are offset by
``theta_{i+1} - theta_i``; the offsets enter only through the stencil geometry below.

The y-diffusion as a graph Laplacian
------------------------------------
In (L, phi) the diffusion part of Eq. 28 is ``(1/rho) d_a (rho D^ab d_b F)`` with
``rho = L^-2`` (the measure F is a density of) and the rank-one tensor of Eq. 12,
``D = K L^4 a a^T``, ``a = (L sin phi, cos phi)``.  In grid-index units (L / dL, phi / dphi)
its direction has slope ``r = dL cot(phi) / (L dphi)`` (index cells of MLT per ring).

We write the operator as a sum of two-point fluxes between nodes ("bonds"), each bond
``p - q`` with one conductance ``c_pq >= 0`` used from both ends:

    m_p dF_p/dt = sum_q c_pq (F_q - F_p)          (m_p = cell measure)

so that the scheme conserves ``sum m F`` exactly and its matrices are M-matrices
(non-negative solutions; backward Euler unconditionally stable).  From node ``(i, k)``
two bonds go to ring ``i + 1``, to the two cells whose index offsets ``n + s`` and
``n + 1 + s`` (``s`` = ring offset in cells) bracket the slope ``r``, with linear (hat)
weights: the weights reproduce the ``LL`` and the ``L phi`` components of the tensor exactly
and over-supply ``phi phi`` by ``a_L^2 beta (1 - beta)`` (beta the fractional position,
at most 1/4 of a cell squared): a small extra azimuthal diffusion, the price of positivity
(no linear positive scheme reproduces a degenerate tensor exactly on a fixed stencil).
That extra diffusion is purely azimuthal: it does nothing to an MLT-independent F and reaches
the MLT-averaged solution only through its MLT-dependent part ("Resolution in MLT" below).
Where the direction is almost azimuthal (``|r| > kmax``, near noon and midnight) the slope
is clipped at ``kmax`` and the remaining ``phi phi`` part goes on bonds inside the ring;
there the ``L phi`` term is under-represented.  ``LL`` is exact everywhere.

Each ring pair's conductance is exact in the MLT average (issue 17)
--------------------------------------------------------------------
For F independent of MLT on every ring (``F[i, k] = f_i``) the bonds inside a ring carry
nothing, and the sum of the node equations over ring ``i`` (measure ``2 pi m_i`` with
``m_i = 1/L_lo - 1/L_hi``) is

    2 pi m_i df_i/dt = T_{i+1/2} (f_{i+1} - f_i) - T_{i-1/2} (f_i - f_{i-1}),

``T_{i+1/2} = sum_k sum_b c`` the total conductance between rings ``i`` and ``i + 1``.  The MLT
average of ``D_LL = K L^6 sin^2 phi`` is ``K L^6 / 2`` (Eq. 21), and the radial solver's face
conductance (:mod:`hpcbelt.radial.solver`) is ``D_LL(L_f) / (L_f^2 dL)``; the MLT average of
this operator is the 1-D operator exactly iff

    T_{i+1/2} = 2 pi K L_f^4 / (2 dL) = pi K L_f^4 / dL.

The hat bonds give ``T = K L_f^4 (dphi / dL) sum_k sum_b w sin^2(phi_m)``, with the bond
midpoints ``phi_m = phi_k + (n + s) dphi / 2``.  Those are not evenly spread over MLT: their
weighted mean sits ``r dphi / 2 = dL cot(phi_k) / (2 L_f)`` east of ``phi_k``, so
``sin^2(phi_m) ~ sin^2(phi_k) + (dL / L_f) cos^2(phi_k)`` and the sum over a ring is
``(n_mlt / 2) (1 + dL / L_f)``: every ring pair conducts ``dL / L`` too much, a first-order
error of every MLT-averaged solution, with zero-flux edges as with fixed ones.  (Seen as a
quadrature of the face flux, the midpoints crowd towards noon and midnight, with the density
``1 + (dL / 2 L_f) / sin^2 phi`` per cell instead of 1: weighted by ``sin^2 phi``, a uniform
excess of ``dL / (2 L_f)``.)  :func:`build_bonds` therefore
rescales the bonds of each ring pair by ``(pi K L_f^4 / dL) / T``, computed from the bonds
themselves (a factor ``1 - dL / L_f + O(dL^2)``), so it holds exactly, to round-off, for any
relative rotation ``s`` of the two rings and any clipping.  Every conductance stays >= 0 and
each bond is still used from both ends, so the Laplacian stays symmetric positive
semi-definite (CG applies) and, with the mass, an M-matrix (non-negative solutions), and the
scheme still conserves exactly.  Left over locally: an ``O(dL / L) cos 2 phi`` error in how the
pair's conductance is spread over MLT, which reaches the MLT average only through the small
MLT-dependent part of F (weighting each node by the local midpoint spacing instead changed
nothing measurable); the MLT-averaged solution converges at second order in L
(``tests/drift/test_pde_order.py``, ``tools/bench_drift_order.py``).

Fixed edges hold the value on the edge (issue 17)
-------------------------------------------------
A ``fixed`` edge holds ``F = F_b`` on ``L_min`` (``L_max``) itself: ring 0 (nL - 1) has one radial
bond per cell to a node on the edge, half a cell from the ring centre, of conductance
``2 K L_edge^4 sin^2(phi_k) dphi / dL``.  Over the ring (``sum_k sin^2 = n_mlt / 2`` exactly for
``n_mlt >= 3``) that is ``2 pi D_LL(L_edge) / (L_edge^2 dL / 2)``, the radial solver's edge face, so
the MLT-average identity above holds at the edges too.  The edge losses booked by
:func:`implicit_step` and :func:`explicit_steps` use the same conductances, so the budget stays
exact.  (Until issue 17 the value sat at a ghost-ring centre one cell from the edge ring's
centre, i.e. half a cell outside the edge, with half this conductance: first order in dL.)

Resolution in MLT (measured, not fixed here)
--------------------------------------------
The MLT average also carries an error of the MLT resolution that does not vanish as dL -> 0
at a fixed n_mlt: the hat weights' extra azimuthal diffusion ``D_LL beta (1 - beta) (dphi / dL)^2``
grows as the rings get finer, and it damps the small MLT-dependent part of F, which feeds
back into the MLT average.  On the issue's Gaussian problem with the paper's 200 keV electrons
that floor is 0.6-1.5e-3 of the peak at 16-32 MLT cells for dL <= 0.06, and it shrinks as the
MLT cells are refined (fixed edges, dL = 0.0625: 9.6e-4, 6.0e-4, 5.2e-4, 5.1e-4 at 16, 32, 64,
128 cells, against the L error of 5.0e-4; at dL = 0.03, 128 cells still leave 2.1e-4 against
1.3e-4, and 5.9e-4 with zero-flux edges).  With the faster drift of 1 MeV electrons (a ten
times smaller MLT-dependent part) it is far below the L error already at 16 cells
(``tools/bench_drift_order.py``).  On the study's default grid, doubling the MLT cells changes
the paper's probe by 2e-3 (``hpcbelt.drift.solver``).
"""

import math

import numba
import numpy as np


@numba.njit(cache=True)
def _slope(L, phi, dL, dphi, kmax):
    """Clipped slope ``dL cot(phi) / (L dphi)`` of the y direction in index units."""
    s = math.sin(phi)
    c = math.cos(phi)
    num = dL * c
    den = L * dphi * s
    if abs(num) >= kmax * abs(den):
        return kmax if num * den >= 0.0 else -kmax
    return num / den


@numba.njit(cache=True)
def build_bonds(L_centres, dL, dphi, theta, K_ring, K_face, kmax, up_k, up_c, ring_c, g_lo, g_hi):
    """Bond conductances of the y-diffusion for ring offsets ``theta`` (see module docstring).

    Parameters
    ----------
    L_centres : (nL,) float array
        Ring centres.
    dL, dphi : float
        Cell sizes in L and in MLT angle [rad].
    theta : (nL,) float array
        Ring offsets ``Omega_i t`` [rad] at which the operator is evaluated.
    K_ring : (nL,) float array
        Diffusion constant ``K`` [1/s] at the ring centres (bonds inside a ring).  The paper's
        ``W^2 T / (2 B_E^2 R_E^2)`` is the same everywhere; beyond T << drift period it depends on
        the drift frequency, hence on L (:func:`hpcbelt.drift.coefficients.effective_K_per_s`).
    K_face : (nL + 1,) float array
        ``K`` at the faces: L_min, the nL - 1 faces between rings, L_max.
    kmax : float
        Largest slope (in MLT cells per ring) represented by inter-ring bonds.
    up_k : (nL - 1, nphi, 2) int64 array, out
        Co-rotating index on ring ``i + 1`` of the two bonds leaving ``(i, k)`` upward.
    up_c : (nL - 1, nphi, 2) float array, out
        Their conductances [1/s]; each ring pair's sum is ``pi K L_f^4 / dL``.
    ring_c : (nL, nphi) float array, out
        Conductance of the bond between ``(i, k)`` and ``(i, k + 1)`` [1/s].
    g_lo, g_hi : (nphi,) float arrays, out
        Conductances of ring 0 and ring nL-1 to nodes on the edges L_min and L_max, half a
        cell away [1/s] (the solver zeroes them for zero-flux edges).
    """
    nL = L_centres.shape[0]
    nphi = ring_c.shape[1]
    ratio = dphi / dL
    for i in range(nL - 1):
        Lf = 0.5 * (L_centres[i] + L_centres[i + 1])          # face between the rings
        Lf4 = Lf * Lf * Lf * Lf
        K = K_face[i + 1]
        s_cells = (theta[i + 1] - theta[i]) / dphi
        s_cells -= nphi * math.floor(s_cells / nphi)
        for k in range(nphi):
            phi_k = (k + 0.5) * dphi + theta[i]
            r0 = _slope(Lf, phi_k, dL, dphi, kmax)
            r = _slope(Lf, phi_k + 0.5 * r0 * dphi, dL, dphi, kmax)   # slope at the stencil centre
            n_lo = math.floor(r - s_cells)
            beta = r - (n_lo + s_cells)
            for b in range(2):
                n = n_lo + b
                w = 1.0 - beta if b == 0 else beta
                phi_m = phi_k + 0.5 * (n + s_cells) * dphi           # bond midpoint angle
                sn = math.sin(phi_m)
                up_k[i, k, b] = (k + n) % nphi
                up_c[i, k, b] = w * K * Lf4 * sn * sn * ratio
        # the pair's total conductance exact in the MLT average: pi K Lf^4 / dL (module docstring)
        total = 0.0
        for k in range(nphi):
            total += up_c[i, k, 0] + up_c[i, k, 1]
        if total > 0.0:
            fac = 0.5 * nphi * K * Lf4 * ratio / total
            for k in range(nphi):
                up_c[i, k, 0] *= fac
                up_c[i, k, 1] *= fac
    for i in range(nL):
        L = L_centres[i]
        K = K_ring[i]
        for k in range(nphi):
            phi_m = (k + 1.0) * dphi + theta[i]
            sn = math.sin(phi_m)
            cs = math.cos(phi_m)
            rem = cs * cs / ratio - kmax * kmax * L * L * sn * sn * ratio
            ring_c[i, k] = K * L * L * rem if rem > 0.0 else 0.0
    # fixed values sit on the edges, half a cell from the edge rings' centres: twice the
    # conductance of a full cell (module docstring)
    L_lo = L_centres[0] - 0.5 * dL
    L_hi = L_centres[nL - 1] + 0.5 * dL
    for k in range(nphi):
        s0 = math.sin((k + 0.5) * dphi + theta[0])
        s1 = math.sin((k + 0.5) * dphi + theta[nL - 1])
        g_lo[k] = 2.0 * K_face[0] * L_lo ** 4 * s0 * s0 * ratio
        g_hi[k] = 2.0 * K_face[nL] * L_hi ** 4 * s1 * s1 * ratio


@numba.njit(cache=True)
def apply_laplacian(x, up_k, up_c, ring_c, g_lo, g_hi, y):
    """``y = C x``: the (positive semi-definite) graph Laplacian with the edge bonds to zero.

    ``(C x)_p = sum_q c_pq (x_p - x_q) + c_edge x_p`` (``c_edge``: ``g_lo`` on ring 0, ``g_hi`` on
    ring nL-1; the edge values enter the right-hand sides of the steps).
    """
    nL, nphi = x.shape
    for i in range(nL):
        for k in range(nphi):
            y[i, k] = 0.0
    for i in range(nL):
        for k in range(nphi):
            kp = k + 1 if k + 1 < nphi else 0
            d = ring_c[i, k] * (x[i, k] - x[i, kp])
            y[i, k] += d
            y[i, kp] -= d
    for i in range(nL - 1):
        for k in range(nphi):
            for b in range(2):
                k2 = up_k[i, k, b]
                d = up_c[i, k, b] * (x[i, k] - x[i + 1, k2])
                y[i, k] += d
                y[i + 1, k2] -= d
    for k in range(nphi):
        y[0, k] += g_lo[k] * x[0, k]
        y[nL - 1, k] += g_hi[k] * x[nL - 1, k]


@numba.njit(cache=True)
def laplacian_diagonal(up_k, up_c, ring_c, g_lo, g_hi, diag):
    """Diagonal of the graph Laplacian: the sum of the conductances of each node."""
    nL, nphi = diag.shape
    for i in range(nL):
        for k in range(nphi):
            diag[i, k] = 0.0
    for i in range(nL):
        for k in range(nphi):
            kp = k + 1 if k + 1 < nphi else 0
            diag[i, k] += ring_c[i, k]
            diag[i, kp] += ring_c[i, k]
    for i in range(nL - 1):
        for k in range(nphi):
            for b in range(2):
                diag[i, k] += up_c[i, k, b]
                diag[i + 1, up_k[i, k, b]] += up_c[i, k, b]
    for k in range(nphi):
        diag[0, k] += g_lo[k]
        diag[nL - 1, k] += g_hi[k]


@numba.njit(cache=True)
def implicit_step(F, m, dt, F_lo, F_hi, up_k, up_c, ring_c, g_lo, g_hi, tol, max_iter, work):
    """Backward-Euler step ``(M + dt C) F_new = M F + dt (edge sources)`` by Jacobi-preconditioned CG.

    The matrix is symmetric positive definite and an M-matrix: its exact solution is
    non-negative for non-negative data.  CG stops when the residual 2-norm is below
    ``tol`` times that of the right-hand side; F is overwritten with the solution.

    Parameters
    ----------
    F : (nL, nphi) float array
        In: cell averages at the start of the step.  Out: at the end.
    m : (nL,) float array
        Cell measure of each ring (the same for every MLT cell of the ring).
    dt : float
        Step [s].
    F_lo, F_hi : float
        Values held on the inner and outer edges (ignored where the edge
        conductances are zero, i.e. zero-flux edges).
    up_k, up_c, ring_c, g_lo, g_hi :
        Bonds from :func:`build_bonds`.
    tol : float
        Relative residual tolerance.
    max_iter : int
        Iteration cap.
    work : (6, nL, nphi) float array
        Scratch space.

    Returns
    -------
    (int, float, float, float)
        Iterations used, number lost through the inner and the outer edge during the step
        (``dt sum c_edge (F_new - F_edge)``), and the final sum of the residual (the amount
        by which the solve misses exact conservation).
    """
    nL, nphi = F.shape
    b = work[0]
    x = work[1]
    r = work[2]
    z = work[3]
    p = work[4]
    q = work[5]
    diag = np.empty((nL, nphi))
    laplacian_diagonal(up_k, up_c, ring_c, g_lo, g_hi, diag)
    bnorm = 0.0
    for i in range(nL):
        for k in range(nphi):
            b[i, k] = m[i] * F[i, k]
            diag[i, k] = m[i] + dt * diag[i, k]
            x[i, k] = F[i, k]
    for k in range(nphi):
        b[0, k] += dt * g_lo[k] * F_lo
        b[nL - 1, k] += dt * g_hi[k] * F_hi
    for i in range(nL):
        for k in range(nphi):
            bnorm += b[i, k] * b[i, k]
    bnorm = math.sqrt(bnorm)
    apply_laplacian(x, up_k, up_c, ring_c, g_lo, g_hi, q)
    rz = 0.0
    rnorm = 0.0
    for i in range(nL):
        for k in range(nphi):
            r[i, k] = b[i, k] - (m[i] * x[i, k] + dt * q[i, k])
            z[i, k] = r[i, k] / diag[i, k]
            p[i, k] = z[i, k]
            rz += r[i, k] * z[i, k]
            rnorm += r[i, k] * r[i, k]
    it = 0
    while math.sqrt(rnorm) > tol * bnorm and it < max_iter:
        apply_laplacian(p, up_k, up_c, ring_c, g_lo, g_hi, q)
        pq = 0.0
        for i in range(nL):
            for k in range(nphi):
                q[i, k] = m[i] * p[i, k] + dt * q[i, k]
                pq += p[i, k] * q[i, k]
        alpha = rz / pq
        rz_new = 0.0
        rnorm = 0.0
        for i in range(nL):
            for k in range(nphi):
                x[i, k] += alpha * p[i, k]
                r[i, k] -= alpha * q[i, k]
                z[i, k] = r[i, k] / diag[i, k]
                rz_new += r[i, k] * z[i, k]
                rnorm += r[i, k] * r[i, k]
        beta = rz_new / rz
        rz = rz_new
        for i in range(nL):
            for k in range(nphi):
                p[i, k] = z[i, k] + beta * p[i, k]
        it += 1
    lost_lo = 0.0
    lost_hi = 0.0
    rsum = 0.0
    for k in range(nphi):
        lost_lo += dt * g_lo[k] * (x[0, k] - F_lo)
        lost_hi += dt * g_hi[k] * (x[nL - 1, k] - F_hi)
    for i in range(nL):
        for k in range(nphi):
            rsum += r[i, k]
            F[i, k] = x[i, k]
    return it, lost_lo, lost_hi, rsum


@numba.njit(cache=True)
def explicit_steps(F, m, dt, n_sub, F_lo, F_hi, up_k, up_c, ring_c, g_lo, g_hi, work):
    """``n_sub`` forward-Euler sub-steps of ``dt / n_sub`` with frozen bonds (the paper's explicit option).

    Non-negative and conservative when ``(dt / n_sub) * sum_q c_pq <= m_p`` for every node;
    the caller chooses ``n_sub`` from :func:`laplacian_diagonal` to satisfy it.

    Returns
    -------
    (float, float)
        Number lost through the inner and the outer edge.
    """
    nL, nphi = F.shape
    h = dt / n_sub
    y = work[0]
    lost_lo = 0.0
    lost_hi = 0.0
    for _ in range(n_sub):
        apply_laplacian(F, up_k, up_c, ring_c, g_lo, g_hi, y)
        for k in range(nphi):
            y[0, k] -= g_lo[k] * F_lo
            y[nL - 1, k] -= g_hi[k] * F_hi
            lost_lo += h * g_lo[k] * (F[0, k] - F_lo)
            lost_hi += h * g_hi[k] * (F[nL - 1, k] - F_hi)
        for i in range(nL):
            for k in range(nphi):
                F[i, k] -= h * y[i, k] / m[i]
    return lost_lo, lost_hi


@numba.njit(cache=True)
def to_fixed_frame(F, theta, dphi, out):
    """Cell averages on the fixed MLT grid from the co-rotating representation.

    Ring ``i`` is shifted by ``theta_i`` with linear interpolation between the two overlapping
    co-rotating cells (weights are the overlap fractions, so each ring's number is preserved
    exactly).  This is the only interpolation in the solver and it is applied to outputs only,
    never fed back into the evolution.
    """
    nL, nphi = F.shape
    for i in range(nL):
        sh = theta[i] / dphi
        sh -= nphi * math.floor(sh / nphi)
        k0 = int(math.floor(sh))
        w = sh - k0
        for j in range(nphi):
            a = (j - k0) % nphi           # co-rotating cell whose centre is w cells west of j
            bb = (j - k0 - 1) % nphi
            out[i, j] = (1.0 - w) * F[i, a] + w * F[i, bb]
