"""Drift-diffusion in (L, MLT) for equatorial electrons (Lejosne & Albert 2023).

coefficients  transport and diffusion coefficients (their Eq. 9, 11, 12, 21, 27)
initial       named initial conditions (injection, gaussian_L, file)
kernels       numba kernels: bond conductances of the y-diffusion, implicit/explicit steps
solver        DriftDiffusionSolver: exact drift by per-ring phase offsets + y-diffusion
study         the study file: schema, loader (the one place that names study keys in errors)
runfile       the run-file layout: dataset names, writer, restart check, reader
driver        the run: the PDE and the particle permutations as work items over the ranks

The (L, MLT) grid, its measure L^-2 dL dphi, the probe boxes and the injection regions live in
:mod:`hpcbelt.lmlt`, shared with :mod:`hpcbelt.radial` and :mod:`hpcbelt.particles`.
"""
