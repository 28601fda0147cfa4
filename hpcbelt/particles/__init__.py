"""Equatorial test particles driven by piecewise-constant random potential fluctuations (Eq. 8).

::

    kernels    numba RK4 tracker in (X, Y) and the binning of positions in the measure L^-2 dL dphi
    sequences  the w sequence and its permutations, seeded from (study seed, permutation index)
    sampling   initial positions representing F = 1 (uniform in 1/L and phi)
    tracker    ParticleExperiment and the one-permutation runner (hpcbelt.drift.driver deals
               permutations to the ranks)

The (L, MLT) grid, the injection regions and the probe boxes come from hpcbelt.lmlt.
"""
