"""Named initial conditions for F on the (L, MLT) grid (cell averages in the measure L^-2 dL dphi).

* ``injection`` (Sec. 4.1 of Lejosne & Albert 2023): F = 1 over :data:`hpcbelt.lmlt.INJECTION_REGIONS`
  (3.8 <= L <= 7 at every MLT, plus 2.5 <= L < 3.8 between 22:15 and 01:45 MLT); 0 elsewhere.
  Cells cut by an edge get the exact measure-weighted fraction, so the represented number of
  particles is exact.
* ``gaussian_L``: MLT-independent ``exp(-(L - L0)^2 / (2 width^2))`` (width = standard deviation),
  sampled at the cell centres.
* ``file``: F from an HDF5 file, linearly interpolated onto the grid (see :func:`from_file`).

Problems raise ValueError; the study layer names the key.
"""

import numpy as np

from hpcbelt.lmlt import INJECTION_REGIONS, box_weights

KINDS = ("injection", "gaussian_L", "file")


def regions_F(grid, regions):
    """Cell averages of the indicator of a union of disjoint :class:`hpcbelt.lmlt.Box` regions."""
    num = np.zeros((grid.n_L, grid.n_mlt))
    for reg in regions:
        if reg.mlt_hi_h - reg.mlt_lo_h == 24.0:
            w = box_weights(grid, reg.L_lo, reg.L_hi, 0.0, 12.0) + box_weights(grid, reg.L_lo, reg.L_hi, 12.0, 24.0)
        else:
            w = box_weights(grid, reg.L_lo, reg.L_hi, reg.mlt_lo_h, reg.mlt_hi_h)
        num += w
    F = num / grid.cell_measure
    # cells wholly inside or outside get exactly 1 or 0 (not 1 +- round-off)
    F[np.abs(F - 1.0) < 1e-12] = 1.0
    F[F < 1e-12] = 0.0
    return F


def injection(grid):
    """The paper's initial condition (F = 1 where particles are, 0 elsewhere)."""
    return regions_F(grid, INJECTION_REGIONS)


def gaussian_L(grid, L0, width):
    """MLT-independent Gaussian in L of centre ``L0`` and standard deviation ``width``."""
    if not width > 0:
        raise ValueError(f"width: expected a positive width in L, got {width}")
    f = np.exp(-0.5 * ((grid.L_centres - L0) / width) ** 2)
    return np.repeat(f[:, None], grid.n_mlt, axis=1)


def from_file(grid, path, dataset="F", time_index=-1):
    """F from an HDF5 file.

    The file holds ``dataset`` of shape (L, mlt) or (time, L, mlt) (then ``time_index`` is
    taken, so a previous run's ``pde/F`` works), and 1-D ``L_grid`` and ``mlt_h`` (cell
    centres) either beside the dataset or at the file root.  Values are linearly interpolated
    in L and periodically in MLT; F is 0 outside the file's L range.
    """
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if dataset not in f:
                raise ValueError(f"{path} has no dataset {dataset!r}")
            d = f[dataset]
            # one time of a (time, L, mlt) history is read, not the whole history
            if d.ndim == 3 and not -d.shape[0] <= time_index < d.shape[0]:
                raise IndexError(f"{path}:{dataset} has {d.shape[0]} times, no time_index {time_index}")
            F = np.asarray(d[time_index] if d.ndim == 3 else d[...], dtype=float)
            parent = dataset.rsplit("/", 1)[0] if "/" in dataset else ""

            def coord(name):
                for key in ((parent + "/" + name) if parent else name, name):
                    if key in f:
                        return np.asarray(f[key][...], dtype=float)
                raise ValueError(f"{path} has no {name!r} next to {dataset!r}")

            Lg = coord("L_grid")
            mlt = coord("mlt_h")
    except OSError as exc:
        raise ValueError(f"cannot read HDF5 file {path}: {exc}") from None
    if F.shape != (Lg.size, mlt.size):
        raise ValueError(f"{path}:{dataset} has shape {F.shape}, expected "
                         f"(len(L_grid), len(mlt_h)) = ({Lg.size}, {mlt.size})")
    if not np.all(np.isfinite(F)) or F.min() < 0:
        raise ValueError(f"{path}:{dataset} must be finite and non-negative")
    # periodic interpolation in MLT, then linear in L
    order = np.argsort(mlt % 24.0)
    m = (mlt % 24.0)[order]
    Fm = F[:, order]
    m_ext = np.concatenate([m[-1:] - 24.0, m, m[:1] + 24.0])
    F_ext = np.concatenate([Fm[:, -1:], Fm, Fm[:, :1]], axis=1)
    tmp = np.array([np.interp(grid.mlt_h, m_ext, row) for row in F_ext])
    out = np.array([np.interp(grid.L_centres, Lg, col, left=0.0, right=0.0) for col in tmp.T]).T
    return out


def make_initial(grid, spec):
    """Dispatch on ``spec['kind']`` (one of :data:`KINDS`); ``spec`` holds that kind's parameters."""
    kind = spec.get("kind", "injection")
    if kind == "injection":
        return injection(grid)
    if kind == "gaussian_L":
        for key in ("L0", "width"):
            if spec.get(key) is None:
                raise ValueError(f"{key}: required for kind = 'gaussian_L'")
        return gaussian_L(grid, float(spec["L0"]), float(spec["width"]))
    if kind == "file":
        if spec.get("path") is None:
            raise ValueError("path: required for kind = 'file'")
        return from_file(grid, spec["path"], spec.get("dataset", "F"), int(spec.get("time_index", -1)))
    raise ValueError(f"kind: expected 'injection', 'gaussian_L' or 'file', got {kind!r}")
