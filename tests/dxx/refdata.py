"""Reference inputs shared by the diffusion-coefficient tests."""

import math

from hpcbelt.dxx.plasma import X_from_density
from hpcbelt.dxx.config import DxxConfig, load

# dxx.md "Tier 1 values": L = 3, 0.5 MeV, B_eq = 1100 nT, n = 1e9 m^-3, B_w = 30 pT.
REF_B_EQ_NT = 1100.0
REF_BW2_NT2 = 0.030 ** 2


def ref_X(n_m3=1e9):
    return X_from_density(n_m3, REF_B_EQ_NT)


def y_for_power(cfg, bw2_nT2=REF_BW2_NT2):
    return bw2_nT2 / cfg.spectrum.bandwidth_factor_Hz()


def deg(a):
    return math.radians(a)
