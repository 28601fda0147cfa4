"""Exact-in-time spectral reference for ``dF/dt = L^2 d/dL (D_LL / L^2 dF/dL)`` on ``[L_a, L_b]``.

Not a test module: tests/radial/test_radial_order.py, test_spacepy_radial.py and
``tools/bench_radial_order.py`` import it.

Method: Chebyshev collocation in L on ``N + 1`` Gauss-Lobatto points; the boundary rows are
replaced by the homogeneous boundary conditions (``F = 0`` or ``D_LL dF/dL = 0``) and the
boundary values eliminated, which leaves a matrix ``A`` on the ``N - 1`` interior points.  Its
eigenvectors are the discrete eigenfunctions of the Sturm-Liouville problem
``-(p F')' = lambda w F`` (``p = D_LL / L^2``, ``w = L^-2``), so
``F(t) = V exp(Lambda t) V^-1 F_0`` exactly in time.  With smooth data the collocation error
falls geometrically with N: on the issue-17 problem (D_LL = 3e-5 L^6 /day, L = 2-8, Gaussian
at 5 of width 0.5, 24 h) N = 48, 64, 96, 128 agree with N = 200 to 5e-9, 4e-12, 2e-12, 3e-12
of the peak (zero flux: 2e-11), and V is well conditioned (cond < 10).

Cell averages are taken in the solver's measure ``L^-2 dL`` (8-point Gauss-Legendre in every
cell of the Chebyshev interpolant: exact to round-off for cells of width <= 0.2).
"""

import numpy as np
from numpy.polynomial import chebyshev as C


def _cheb(N):
    """Chebyshev-Gauss-Lobatto points x_j = cos(pi j / N) and the differentiation matrix."""
    x = np.cos(np.pi * np.arange(N + 1) / N)
    c = np.ones(N + 1)
    c[0] = c[-1] = 2.0
    c *= (-1.0) ** np.arange(N + 1)
    X = x[:, None] - x[None, :]
    Dm = np.outer(c, 1.0 / c) / (X + np.eye(N + 1))
    Dm -= np.diag(Dm.sum(axis=1))
    return x, Dm


class SpectralReference:
    """Chebyshev eigen-solution of the radial equation (see the module docstring).

    Parameters
    ----------
    L_a, L_b : float
        Domain edges.
    D_LL : callable
        ``D_LL(L)`` in the time unit of ``t`` (the tests use 1/s).
    boundary : (str, str)
        ``"fixed"`` (value 0) or ``"zero_flux"`` at each edge.
    N : int
        Polynomial degree.
    """

    def __init__(self, L_a, L_b, D_LL, boundary=("fixed", "fixed"), N=96):
        x, Dx = _cheb(N)
        half = 0.5 * (L_b - L_a)
        L = L_a + half * (1.0 - x)          # L[0] = L_a, L[N] = L_b (x decreasing)
        D1 = -Dx / half
        p = D_LL(L) / L ** 2
        # operator rows: L^2 (p F')' = L^2 (D1 @ (p * (D1 @ F)))
        op = (L ** 2)[:, None] * (D1 @ (p[:, None] * D1))
        ends = (0, N)
        inner = np.arange(1, N)
        # boundary rows: B F = 0 with B_j = e_j (fixed) or the derivative row (zero flux)
        B = np.zeros((2, N + 1))
        for r, (j, kind) in enumerate(zip(ends, boundary)):
            if kind == "fixed":
                B[r, j] = 1.0
            elif kind == "zero_flux":
                B[r] = D1[j]
            else:
                raise ValueError(kind)
        # boundary values as a linear map of the interior values: F_ends = E @ F_inner
        E = -np.linalg.solve(B[:, ends], B[:, inner])
        A = op[np.ix_(inner, inner)] + op[:, ends][inner] @ E
        lam, V = np.linalg.eig(A)
        # the Sturm-Liouville spectrum is real and <= 0: collocation keeps it so up to round-off
        if np.max(np.abs(lam.imag)) > 1e-8 * np.max(np.abs(lam.real)):
            raise RuntimeError("complex spectrum: refine N")
        self.lam, self.V = lam.real, V.real
        self.Vinv = np.linalg.inv(self.V)
        self.L, self.E, self.inner, self.N = L, E, inner, N
        self.L_a, self.L_b = L_a, L_b

    def nodal(self, F0, t):
        """Values at the collocation points at time t from the function ``F0(L)``."""
        a = self.Vinv @ F0(self.L[self.inner])
        Fi = self.V @ (np.exp(self.lam * t) * a)
        F = np.empty(self.N + 1)
        F[self.inner] = Fi
        F[[0, self.N]] = self.E @ Fi
        return F

    def values(self, F0, t, L):
        """Values at the points ``L`` (array) at time t."""
        F = self.nodal(F0, t)
        x = 1.0 - 2.0 * (self.L - self.L_a) / (self.L_b - self.L_a)
        coef = C.chebfit(x, F, self.N)
        return C.chebval(1.0 - 2.0 * (np.asarray(L, dtype=float) - self.L_a) / (self.L_b - self.L_a), coef)

    def cell_averages(self, F0, t, edges):
        """Averages in the measure ``L^-2 dL`` over the cells ``[edges[i], edges[i+1]]`` at t."""
        F = self.nodal(F0, t)
        x = 1.0 - 2.0 * (self.L - self.L_a) / (self.L_b - self.L_a)
        coef = C.chebfit(x, F, self.N)
        return cell_average(lambda L: C.chebval(1.0 - 2.0 * (L - self.L_a) / (self.L_b - self.L_a), coef),
                            np.asarray(edges, dtype=float))


def cell_average(f, edges, order=8):
    """Average of ``f(L)`` in the measure ``L^-2 dL`` over each cell (Gauss-Legendre per cell)."""
    g, w = np.polynomial.legendre.leggauss(order)
    lo, hi = edges[:-1, None], edges[1:, None]
    L = 0.5 * (lo + hi) + 0.5 * (hi - lo) * g[None, :]
    wt = 0.5 * (hi - lo) * w[None, :] / L ** 2
    return np.sum(wt * f(L), axis=1) / np.sum(wt, axis=1)


# The issue-17 test problem (shared by the order tests, the SpacePy comparison and
# tools/bench_radial_order.py): D_LL = 3e-5 L^6 /day on L = 2-8, a Gaussian at L = 5 of width 0.5.
DAY = 86400.0
L_A, L_B = 2.0, 8.0


def D_issue(L):
    return 3e-5 * np.asarray(L, dtype=float) ** 6 / DAY


def gaussian(L):
    return np.exp(-(L - 5.0) ** 2 / (2 * 0.5 ** 2))
