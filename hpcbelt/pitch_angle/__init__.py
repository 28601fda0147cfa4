"""Bounce-averaged pitch-angle diffusion with a loss cone (Watt et al. 2021).

physics   T(a), loss cone and bounce period in a dipole
operator  conservative finite-volume grid, loss rates, stability limit
kernels   numba time-stepping kernels (explicit stencil, propagator march)
solver    interval timelines, explicit and exact integrators for one member
study     the study-file schema and derived run plan
runfile   the run-file layout: names, writer, restart check and reader
driver    MPI run over members writing one HDF5 file

The diffusion-coefficient database format is :mod:`hpcbelt.daa_database`.
"""
