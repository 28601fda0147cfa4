"""Random inputs of the test-particle experiment, derived only from (study seed, permutation index).

Sec. 4.1 of Lejosne & Albert (2023): one Gaussian sequence of ``w`` values (mean 0, standard
deviation W, one value per update time T) is drawn once; every permutation is a random
reordering of its indices.  Every random stream here comes from ``numpy.random.SeedSequence``
with the study seed as entropy and a spawn key naming its purpose, so a permutation's
sequence and its particles' initial positions are the same whatever MPI rank computes it::

    spawn_key (0,)                 the base sequence of w
    spawn_key (1, perm_index)      the permutation of its indices
    spawn_key (2, perm_index)      the initial positions of that permutation's particles
    spawn_key (3, perm_index)      the drift phases of its ring particles (hpcbelt.particles.diffusion)

Ornstein-Uhlenbeck noise (issue 15): the base sequence holds the standard normal *innovations*
xi_k, and a permutation reorders them before the exact AR(1) update of w sampled every h::

    w_0 = W xi_0,   w_k = rho w_(k-1) + W sqrt(1 - rho^2) xi_k,   rho = exp(-h / tau_c),

so every permutation is a stationary OU path with variance W^2 and correlation ``exp(-|t| / tau_c)``
at the sample times (permuting the values of w itself would destroy the correlation; permuting
iid innovations keeps the paper's one-base-sequence construction).  Between samples w is held.
"""

import numpy as np


def _rng(seed, *key):
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=tuple(int(k) for k in key)))


def base_sequence(seed, n_updates, W_V_per_m):
    """The original sequence of ``w`` [V/m]: ``n_updates`` Gaussian values, mean 0, std W."""
    return W_V_per_m * _rng(seed, 0).standard_normal(n_updates)


def permutation_indices(seed, perm_index, n_updates):
    """Index order of permutation ``perm_index``: ``w_perm[k] = base[indices[k]]``."""
    return _rng(seed, 1, perm_index).permutation(n_updates)


def permuted_sequence(seed, perm_index, base):
    """``base`` reordered by the permutation of index ``perm_index``."""
    return base[permutation_indices(seed, perm_index, base.size)]


def position_rng(seed, perm_index):
    """Generator for the initial positions of permutation ``perm_index``'s particles."""
    return _rng(seed, 2, perm_index)


def ring_rng(seed, perm_index):
    """Generator for the drift phases of permutation ``perm_index``'s ring particles (D_LL measurement)."""
    return _rng(seed, 3, perm_index)


def ou_path(innovations, W_V_per_m, correlation_s, step_s):
    """The OU samples w_k [V/m] every ``step_s`` from standard normal ``innovations`` (module docstring)."""
    xi = np.asarray(innovations, dtype=float)
    rho = float(np.exp(-step_s / correlation_s))
    kick = W_V_per_m * np.sqrt(1.0 - rho * rho)
    w = np.empty_like(xi)
    prev = W_V_per_m * xi[0]
    w[0] = prev
    for k in range(1, xi.size):
        prev = rho * prev + kick * xi[k]
        w[k] = prev
    return w
