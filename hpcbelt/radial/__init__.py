"""One-dimensional radial diffusion (Eq. 22-23 of Lejosne & Albert 2023).

solver  RadialDiffusion: conservative finite volumes in the measure L^-2 dL, theta-method in time
"""
