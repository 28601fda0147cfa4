"""Hiss pitch-angle diffusion coefficients and the databases the pitch-angle study draws from.

Layers, one module each::

  geometry       the bounce average along a dipole field line: local pitch angle, quadrature
                 (the field line itself, B(lat)/B_eq and the mirror latitude: hpcbelt.dipole)
  plasma         cold-plasma constants (m_e/m_p, e/m_e) and X = omega_pe/Omega_e <-> density
  spectrum       Gaussian hiss spectrum; intensity at the reference frequency -> total power
  field_aligned  Summers (2005) local D_aa (quartic resonance roots) and its bounce average
  oblique        Glauert & Horne (2005) resonance sum over n = -N..N and wave-normal angles
  calculator     one observation (X, Y, B_eq) -> bounce-averaged profile <D_aa>(a0)
  config         the typed schema of every setting (TOML, the one source of defaults), DxxConfig
  synthetic      seedable generator of (B_eq, n_e, S(252 Hz)) observations
  table          tabulate D for unit intensity, interpolate it; (X, Y) pairs from CSV
  driver         the MPI split of the work (hpcbelt.parallel.deal_and_gather on a communicator)
  importer       user profiles (CSV, NPZ, HDF5) -> database format
  plot           the Fig 1-like figure of a database (Watt et al. 2021)
  cli            ``hpcbelt dxx build | import | plot | keys``

The database file (format, checks, reader, writer) is hpcbelt.daa_database.
"""
