"""hpcbelt: MPI-parallel radiation-belt diffusion studies.

Subpackages, one per equation:
  pitch_angle  bounce-averaged pitch-angle diffusion with a loss cone (Watt et al. 2021)
  dxx          hiss diffusion-coefficient calculator and databases
  drift        drift-diffusion in (L, MLT) (Lejosne & Albert 2023)
  radial       1-D radial diffusion
  particles    equatorial test-particle tracker
Shared layers: config (study files), parallel (MPI decomposition), output (HDF5), cli.
"""

__version__ = "0.1.0"
