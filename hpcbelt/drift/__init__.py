"""Drift-diffusion in (L, MLT) for equatorial electrons (Lejosne & Albert 2023).

coefficients  transport and diffusion coefficients (their Eq. 9, 11, 12, 21, 27)
grid          the (L, MLT) grid and the measure L^-2 dL dphi that F is a density of
initial       named initial conditions (injection, gaussian_L, file)
kernels       numba kernels: bond conductances of the y-diffusion, implicit/explicit steps
solver        DriftDiffusionSolver: exact drift by per-ring phase offsets + y-diffusion
"""
