"""Drift-diffusion solver for Eq. 28 of Lejosne & Albert (2023).

    dF/dt = -Omega(L) dF/dphi + L^3 d/dy (D_yy / L^3 dF/dy),   D_yy = K (x^2 + y^2)^3

Operator splitting, with the drift done by the method of characteristics: the characteristics
of the drift are rigid rotations of each L ring at Omega(L), so we keep F on a co-rotating
grid per ring (offset ``theta_i = Omega(L_i) t``).  The drift sub-step is then exact for any
time step: it only advances the offsets; there is no shift interpolation and no numerical
diffusion from the transport, and no spectral shift (so no Gibbs oscillations).
The y-diffusion sub-step is a conservative, positive graph-Laplacian discretisation
(:mod:`hpcbelt.drift.kernels`) frozen at the step's mid-time offsets, advanced either by
backward Euler (``implicit``, default, unconditionally stable and non-negative, solved by
preconditioned CG) or by the paper's explicit scheme (``explicit``: forward Euler with as many
sub-steps as the positivity limit needs).

Measured on the default grid (dL = 0.025, 288 MLT cells, L = 2-8, dt = 120 s, 24 h of the
paper's injection): implicit 35-45 s on one core (about 90 CG iterations per step), explicit
about as long (109 sub-steps per step since issue 17: the half-cell bonds to fixed edges are
the stiffest; 74 and 25 s before); the two agree at the paper's probe to 1.6e-3, and both
agreed with a run at half the cell sizes and half the step to 2.4e-3 (probe values up to
0.97; measured before issue 17).  Doubling the MLT cells alone changes the probe by 2.0e-3
(first 12 h, largest at 3 h).

Budget: ``number()`` is ``sum F L^-2 dL dphi``; every step records what leaves through the
inner and the outer edge, and the CG residual (the solve's departure from exact
conservation).  ``budget()`` returns them.

Accuracy in L (issue 17): a ``fixed`` edge holds its value on the edge itself, and each ring
pair's conductance is exact in the MLT average, so for an MLT-independent F the MLT average of
the operator is the radial solver's operator to round-off, and the MLT-averaged solution
converges at second order in dL (measured against a spectral solution of the 2-D equation:
``tests/drift/test_pde_order.py``, ``tools/bench_drift_order.py``; it was first order).

Bad arguments raise ValueError (the study layer has checked the keys they come from).
"""

import math

import numpy as np

from hpcbelt import constants as C
from hpcbelt import dipole
from hpcbelt.drift import kernels
from hpcbelt.lmlt import box_weights, check_boundary

METHODS = ("implicit", "explicit")


class DriftDiffusionSolver:
    """Eq. 28 on an (L, MLT) :class:`~hpcbelt.lmlt.Grid`.

    Parameters
    ----------
    grid : Grid
    F0 : (n_L, n_mlt) array
        Initial cell averages (fixed MLT frame, t = 0).
    K_per_s : float or (n_L,) array
        ``W^2 T / (2 B_E^2 R_E^2)`` (see :mod:`hpcbelt.drift.coefficients`), or its value at each
        ring centre when it depends on L (``coefficients = "finite_update"``); then
        ``K_face_per_s`` gives it at the n_L + 1 faces (L_min, between the rings, L_max).
    omega_rad_per_s : (n_L,) array
        Unperturbed drift frequency at the ring centres.
    dt_s : float
        Step of the splitting [s].
    method : {"implicit", "explicit"}
    boundary : (str, str)
        ``"fixed"`` (F held at ``boundary_values`` on the edge itself, half a cell from the edge
        ring's centre; 0 makes the edge absorbing) or ``"zero_flux"``, at L_min and at L_max
        (:data:`hpcbelt.lmlt.BOUNDARY_KINDS`; the kernels module has the edge conductances).
    kmax : float
        Slope cap of the inter-ring stencil (MLT cells per ring); see the kernels module.
    cg_tol : float
        Relative residual tolerance of the implicit solve.
    """

    def __init__(self, grid, F0, K_per_s, omega_rad_per_s, dt_s, *, method="implicit",
                 boundary=("fixed", "fixed"), boundary_values=(0.0, 0.0), kmax=8.0, cg_tol=1e-11,
                 K_face_per_s=None):
        if method not in METHODS:
            raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
        boundary = check_boundary(boundary)
        F0 = np.asarray(F0, dtype=float)
        if F0.shape != (grid.n_L, grid.n_mlt):
            raise ValueError(f"initial F has shape {F0.shape}, expected {(grid.n_L, grid.n_mlt)}")
        if not dt_s > 0:
            raise ValueError(f"dt_s: expected a positive step, got {dt_s}")
        self.grid = grid
        self.F = F0.copy()                       # co-rotating representation; equal to F0 at t = 0
        if np.ndim(K_per_s) == 0:
            self.K = float(K_per_s)
            self.K_ring = np.full(grid.n_L, self.K)
            self.K_face = np.full(grid.n_L + 1, self.K)
        else:
            self.K = None                        # depends on L
            self.K_ring = np.ascontiguousarray(K_per_s, dtype=float)
            self.K_face = np.ascontiguousarray(K_face_per_s, dtype=float)
            if self.K_ring.shape != (grid.n_L,) or self.K_face.shape != (grid.n_L + 1,):
                raise ValueError(f"K_per_s: expected {grid.n_L} ring values and {grid.n_L + 1} face values, got "
                                 f"{self.K_ring.shape} and {self.K_face.shape}")
        self.omega = np.asarray(omega_rad_per_s, dtype=float)
        self.dt = float(dt_s)
        self.method = method
        self.boundary = tuple(boundary)
        self.F_lo, self.F_hi = (float(v) for v in boundary_values)
        self.kmax = float(kmax)
        self.cg_tol = float(cg_tol)
        self.t = 0.0
        self.m = grid.ring_measure              # cell measure of each ring
        nL, nphi = grid.n_L, grid.n_mlt
        self._up_k = np.zeros((nL - 1, nphi, 2), dtype=np.int64)
        self._up_c = np.zeros((nL - 1, nphi, 2))
        self._ring_c = np.zeros((nL, nphi))
        self._g_lo = np.zeros(nphi)
        self._g_hi = np.zeros(nphi)
        self._work = np.zeros((6, nL, nphi))
        self.number0 = self.number()
        self.lost_lo = 0.0
        self.lost_hi = 0.0
        self.residual_sum = 0.0
        self.clipped = 0.0
        self.iterations = 0
        self.substeps = 0

    @classmethod
    def from_physics(cls, grid, F0, *, W_mV_per_m, update_s, energy_keV, L_energy, dt_s,
                     corotation=True, R_E_m=C.EARTH_RADIUS_DRIFT_M, B_E_nT=C.EARTH_EQUATORIAL_FIELD_NT,
                     coefficients="paper", noise="piecewise_constant", correlation_s=None, **kw):
        """Build from the study's physics: Omega(L) at the M of (energy, L_energy), and K from
        (W, T) -- or, with ``coefficients = "finite_update"``, K_eff(Omega(L)) at every ring and
        face (:func:`hpcbelt.drift.coefficients.effective_K_per_s`; ``noise`` and
        ``correlation_s`` choose the spectrum of w)."""
        from hpcbelt.drift.coefficients import effective_K_per_s

        M = dipole.first_invariant_J_per_T(energy_keV, L_energy, B_E_nT)

        def omega(L):
            return dipole.drift_angular_frequency_rad_per_s(M, L, corotation=corotation, R_E_m=R_E_m,
                                                            B_E_nT=B_E_nT)

        def K(om):
            return effective_K_per_s(W_mV_per_m, om, coefficients=coefficients, noise=noise, update_s=update_s,
                                     correlation_s=correlation_s, R_E_m=R_E_m, B_E_nT=B_E_nT)

        om = omega(grid.L_centres)
        if coefficients == "paper":
            return cls(grid, F0, float(K(0.0)), om, dt_s, **kw)
        return cls(grid, F0, K(om), om, dt_s, K_face_per_s=K(omega(grid.L_edges)), **kw)

    # --- state --------------------------------------------------------------------------
    def theta(self, t):
        return self.omega * t

    def number(self):
        """``sum F dmu`` (identical in the co-rotating and fixed frames)."""
        return float(np.dot(self.m, self.F.sum(axis=1)))

    def fixed_frame(self):
        """F on the fixed MLT grid at the current time, (n_L, n_mlt)."""
        out = np.empty_like(self.F)
        kernels.to_fixed_frame(self.F, self.theta(self.t), self.grid.dphi, out)
        return out

    def budget(self):
        """Number of particles: initial, now, lost through each edge, CG residual, clipping."""
        return {
            "initial": self.number0,
            "current": self.number(),
            "lost_L_min": self.lost_lo,
            "lost_L_max": self.lost_hi,
            "solver_residual": self.residual_sum,
            "clipped_negative": self.clipped,
            "imbalance": self.number0 - self.number() - self.lost_lo - self.lost_hi,
        }

    def bonds(self, t):
        """The y-diffusion operator at time ``t`` (ring offsets ``Omega t``), as the bond arrays
        ``(up_k, up_c, ring_c, g_lo, g_hi)`` that :func:`hpcbelt.drift.kernels.apply_laplacian`
        and the step kernels take (zero-flux edges have zero edge conductances).  The arrays are
        the solver's own, overwritten by the next step or call."""
        self._bonds(t)
        return self._up_k, self._up_c, self._ring_c, self._g_lo, self._g_hi

    # --- stepping -----------------------------------------------------------------------
    def _bonds(self, t_mid):
        kernels.build_bonds(self.grid.L_centres, self.grid.dL, self.grid.dphi, self.theta(t_mid), self.K_ring,
                            self.K_face, self.kmax, self._up_k, self._up_c, self._ring_c, self._g_lo, self._g_hi)
        if self.boundary[0] == "zero_flux":
            self._g_lo[:] = 0.0
        if self.boundary[1] == "zero_flux":
            self._g_hi[:] = 0.0

    def step(self, dt):
        """Advance by ``dt``: exact drift (offsets) + y-diffusion frozen at the mid-step offsets."""
        self._bonds(self.t + 0.5 * dt)
        if self.method == "implicit":
            it, lo, hi, rsum = kernels.implicit_step(self.F, self.m, dt, self.F_lo, self.F_hi, self._up_k,
                                                     self._up_c, self._ring_c, self._g_lo, self._g_hi,
                                                     self.cg_tol, 2000, self._work)
            self.iterations += it
            self.residual_sum += rsum
            # CG iterates can undershoot zero by ~tol; clip and book it separately
            neg = self.F < 0.0
            if neg.any():
                self.clipped += float(np.dot(self.m, np.where(neg, -self.F, 0.0).sum(axis=1)))
                self.F[neg] = 0.0
        else:
            diag = np.empty_like(self.F)
            kernels.laplacian_diagonal(self._up_k, self._up_c, self._ring_c, self._g_lo, self._g_hi, diag)
            n_sub = max(1, int(math.ceil(dt * np.max(diag / self.m[:, None]) / 0.95)))
            lo, hi = kernels.explicit_steps(self.F, self.m, dt, n_sub, self.F_lo, self.F_hi, self._up_k,
                                            self._up_c, self._ring_c, self._g_lo, self._g_hi, self._work)
            self.substeps += n_sub
        self.lost_lo += lo
        self.lost_hi += hi
        self.t += dt

    def advance(self, duration_s):
        """Advance by ``duration_s`` in equal steps no longer than ``dt_s``."""
        n = max(1, int(math.ceil(duration_s / self.dt - 1e-9)))
        for _ in range(n):
            self.step(duration_s / n)

    def run(self, duration_s, output_every_s, probes=()):
        """Integrate and collect outputs.

        Returns
        -------
        dict
            ``time_s`` (n_out,), ``F`` (n_out, n_L, n_mlt) in the fixed MLT frame,
            ``probe_F`` (n_probe, n_out) measure-weighted box averages, ``budget``.
        """
        n_out = int(round(duration_s / output_every_s))
        if n_out < 1 or abs(n_out * output_every_s - duration_s) > 1e-6 * duration_s:
            raise ValueError(f"output_every_s: {output_every_s} s must divide the duration {duration_s} s")
        g = self.grid
        out = np.empty((n_out + 1, g.n_L, g.n_mlt))
        pw = [box_weights(g, *p) for p in probes]
        out[0] = self.fixed_frame()
        for k in range(n_out):
            self.advance(output_every_s)
            out[k + 1] = self.fixed_frame()
        probe_F = np.array([[np.sum(w * f) / np.sum(w) for f in out] for w in pw]).reshape(len(pw), n_out + 1)
        return {"time_s": output_every_s * np.arange(n_out + 1), "F": out, "probe_F": probe_F,
                "budget": self.budget()}
