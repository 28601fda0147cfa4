"""Hiss pitch-angle diffusion coefficients and the databases the pitch-angle study draws from.

Layers, one module each:

  geometry       dipole field line: B(lat), mirror latitude, local pitch angle, bounce quadrature
  spectrum       Gaussian hiss spectrum; intensity at the reference frequency -> total power
  field_aligned  Summers (2005) local D_aa (quartic resonance roots) and its bounce average
  oblique        Glauert & Horne (2005) resonance sum over n = -N..N and wave-normal angles
  calculator     one observation (X, Y, B_eq) -> bounce-averaged profile <D_aa>(a0)
  config         the typed schema of every setting (TOML), DxxConfig
  synthetic      seedable generator of (B_eq, n_e, S(252 Hz)) observations
  database       tabulate D for unit intensity, interpolate, write/read the HDF5 database
  driver         the MPI split of the work (takes a communicator; the only mpi4py user)
  importer       user profiles (CSV, NPZ, HDF5) -> database format
  plot           Fig 1-like summary of a database (Watt et al. 2021)
  cli            ``hpcbelt dxx build | import | plot``
"""
