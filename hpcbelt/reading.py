"""Run and summary files as ``xarray.DataTree`` objects: lazy, labelled, masked.

``open_run(path)`` and ``open_summary(path)`` read any hpcbelt run file (pitch_angle,
drift_diffusion) or summary (``kind = "aggregate_summary"``) into one tree: one node per HDF5
group, one variable per dataset.  Nothing but the dimension scales and the done flags is read
when the file opens: every other variable is a lazily indexed view of its dataset (xarray reads
only the slab that is selected, when it is needed), or a dask array with ``chunks=``.  The file
stays open until ``tree.close()`` (or the end of a ``with`` block).

The tree is built from h5py, driven by what the file itself says, not by lists of datasets:

dimensions   an axis attached to an HDF5 dimension scale is named after the scale (``time_s``,
             ``alpha_deg``, ``member``, ``L_grid``, ``mlt_h``, ``perm`` ...) and the scale is
             its (indexed) coordinate, inherited by the groups below the scale's group.  A scale
             attached from outside the node's ancestors (``radial/F`` uses ``pde/L_grid``) is
             copied into the node as its coordinate.  An axis with an HDF5 dimension label is
             named by the label (axes of one group sharing a label share the dimension).  Any
             other axis is ``<dataset>_dim_<i>`` (``member_checksum_dim_1``, ``probe_F_dim_0``).
names        a dataset keeps its name, unless that name is already taken in its node by
             another object -- a dimension or indexed coordinate inherited from above
             (``particles/time_s`` under the root's ``time_s``), or a child group: then the
             variable (and the dimension of a scale) is named by its whole path with ``/`` as
             ``_`` (``particles_time_s``, ``database_file_alpha_deg``) and carries the attribute
             ``hdf5_path``.
attributes   every attribute of the file, groups and datasets (``units``, ``description`` ...),
             bytes decoded to str; JSON text (``study_config_json`` ...) is left as text.  The
             dimension-scale bookkeeping (CLASS, NAME, REFERENCE_LIST, DIMENSION_LIST) is not
             copied.  Text datasets (probe names, ``pde/budget_json``) are read as str arrays.
finished     a done flag is an integer dataset whose name ends in ``done``: ``<exp>/member_done``
             and ``particles/perm_done`` (one value per member along a scale), ``pde/done`` (one
             value for its group; in a drift_diffusion run it covers ``radial/`` too).  In the
             group of a per-member flag, a dataset whose first axis has no scale but the
             members' length, preallocated with a fill value other than 0 (NaN, -1), is taken to
             be along the members there (drift runs' particles/positions, number_in_grid and
             permutation carry no scale on that axis).  Every
             node with a variable along a flagged dimension gets the boolean coordinate
             ``finished`` along it (``<dim>_finished`` if two flags meet in one node); a group
             flag becomes a scalar coordinate ``finished``.  With ``mask_unfinished`` (the
             default) the float datasets the run preallocates with a NaN fill value (the data
             written later: f, daa_integral, F, probe_F ...) read as NaN for the unfinished
             members -- lazily, as they are read.  Integer datasets keep their own fill values
             (``profile_index = -99``, ``permutation = -1``); the done flags are unchanged.

xarray (>= 2025.1) is an optional extra: ``pip install hpcbelt[xarray]``.  Without it the two
functions raise ImportError saying so; nothing else in hpcbelt needs it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np

from .errors import InputError

# This module imports no other hpcbelt layer but errors: the root package re-exports it, and the
# shared modules below hpcbelt.output import the root package (.importlinter, layers contract).

SUMMARY_KIND = "aggregate_summary"          # hpcbelt.aggregate.files.SUMMARY_KIND (not imported: layers)
INSTALL_HINT = "pip install hpcbelt[xarray]"

# HDF5 dimension-scale bookkeeping: the tree says the same with dimensions and coordinates
_SKIP_ATTRS = frozenset({"CLASS", "NAME", "REFERENCE_LIST", "DIMENSION_LIST", "DIMENSION_LABELS",
                         "_Netcdf4Dimid", "_Netcdf4Coordinates", "_nc3_strict"})

# group done flags that also cover other groups (the run file's layout docstring says so)
_FLAG_ALSO_COVERS = {"drift_diffusion": {"/pde/done": ("/radial",)}}


# ------------------------------------------------------------------------------------------
# Public API
# ------------------------------------------------------------------------------------------

def open_run(path, *, mask_unfinished: bool = True, chunks=None):
    """An hpcbelt run file as a lazily loaded ``xarray.DataTree``.

    ``path``: a pitch_angle or drift_diffusion run file (any file with a root ``kind`` that is
    not a summary).  ``mask_unfinished``: unfinished members (``member_done = 0``,
    ``perm_done = 0``, ``pde/done = 0``) read as NaN in the NaN-filled float datasets; the
    ``finished`` coordinates are there either way.  ``chunks``: None (default) for lazily
    indexed numpy-backed variables, or dask arrays (needs dask) chunked as ``DataTree.chunk``
    does: a dict of dimension -> chunk size ({"member": 1}), or one value ("auto", an int)
    for every dimension.  InputError for a missing or unreadable file, a summary or a file
    without ``kind``; ImportError without xarray (or, with ``chunks``, without dask).
    """
    xr = _xarray("open_run")
    return _open(xr, path, want="run", mask_unfinished=mask_unfinished, chunks=chunks)


def open_summary(path, *, chunks=None):
    """An hpcbelt summary file (``hpcbelt aggregate``) as a lazily loaded ``xarray.DataTree``.

    Same structure rules as :func:`open_run` (a summary has no done flags: its statistics are
    over the finished members already).  InputError unless the root ``kind`` is
    ``aggregate_summary``; ImportError without xarray.
    """
    xr = _xarray("open_summary")
    return _open(xr, path, want="summary", mask_unfinished=False, chunks=chunks)


# ------------------------------------------------------------------------------------------
# Implementation
# ------------------------------------------------------------------------------------------

def _xarray(what: str):
    try:
        import xarray as xr
    except ImportError as exc:
        raise ImportError(f"hpcbelt.{what} needs xarray (>= 2025.1): {INSTALL_HINT}") from exc
    if not hasattr(xr, "DataTree"):
        raise ImportError(f"hpcbelt.{what} needs xarray >= 2025.1 (xarray.DataTree); this is xarray "
                          f"{xr.__version__}: {INSTALL_HINT}")
    return xr


def _open(xr, path, want: str, mask_unfinished: bool, chunks):
    if chunks is not None:
        try:
            import dask.array  # noqa: F401
        except ImportError as exc:
            raise ImportError("chunks= needs dask: pip install dask (or leave chunks=None for lazy "
                              "numpy-backed variables)") from exc
    from .output import open_h5

    h5 = open_h5(path, chunk_cache_bytes=4 << 20)
    try:
        kind = _text(h5.attrs.get("kind"))
        if want == "run" and (kind is None or kind == SUMMARY_KIND):
            raise InputError(f"{path}: not an hpcbelt run file (kind = {kind!r})"
                             + ("; open it with hpcbelt.open_summary" if kind == SUMMARY_KIND else ""))
        if want == "summary" and kind != SUMMARY_KIND:
            raise InputError(f"{path}: not an hpcbelt summary file (kind = {kind!r}, expected "
                             f"{SUMMARY_KIND!r})" + ("; open it with hpcbelt.open_run" if kind else ""))
        try:
            tree = _Builder(xr, h5, kind, mask_unfinished).tree()
        except (OSError, RuntimeError, KeyError) as exc:
            raise InputError(f"{path}: cannot read the file's structure (truncated or corrupted?): "
                             f"{exc}") from None
    except BaseException:
        h5.close()
        raise
    tree.set_close(h5.close)
    if chunks is not None:
        if not isinstance(chunks, Mapping):          # "auto", an int: the same for every dimension
            chunks = {dim: chunks for node in tree.subtree for dim in node.dataset.dims}
        tree = tree.chunk(chunks)
        tree.set_close(h5.close)
    return tree


def _text(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray) and v.dtype.kind in "SO":
        return np.array([_text(x) for x in v.ravel()], dtype=str).reshape(v.shape)
    return v


def _qualified(path: str) -> str:
    return path.strip("/").replace("/", "_")


def _is_scale(dset) -> bool:
    return dset.ndim == 1 and _text(dset.attrs.get("CLASS")) == "DIMENSION_SCALE"


def _is_string(dset) -> bool:
    import h5py

    return h5py.check_string_dtype(dset.dtype) is not None


def _group_of(obj_path: str) -> str:
    parent = obj_path.rsplit("/", 1)[0]
    return parent or "/"


def _is_ancestor_or_self(group: str, node: str) -> bool:
    return group == "/" or node == group or node.startswith(group + "/")


@functools.lru_cache(maxsize=None)
def _array_class():
    """:class:`_H5Array` as an ``xarray.backends.BackendArray`` (made on first use: xarray is optional)."""
    from xarray.backends import BackendArray

    return type("H5Array", (_H5Array, BackendArray), {"__slots__": ()})


class _H5Array:
    """A dataset behind xarray's lazy indexing; optionally NaN where members are unfinished.

    ``mask`` is a list of (axis, finished bool array) and/or (None, finished bool) entries.
    """

    __slots__ = ("dset", "shape", "dtype", "mask")

    def __init__(self, dset, mask):
        self.dset = dset
        self.shape = dset.shape
        self.dtype = dset.dtype
        self.mask = mask

    def __getitem__(self, key):
        from xarray.core import indexing

        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._read)

    def _read(self, key: tuple):
        arr = np.asarray(self.dset[key] if key else self.dset[()])     # h5py serialises HDF5 calls
        for axis, finished in self.mask:
            if axis is None:
                if not finished:
                    arr = np.full_like(arr, np.nan)
                continue
            sel = np.arange(self.shape[axis])[key[axis]] if key else np.arange(self.shape[axis])
            keep = finished[sel]
            if np.ndim(keep) == 0:
                if not keep:
                    arr = np.full_like(arr, np.nan)
                continue
            pos = axis - sum(isinstance(k, (int, np.integer)) for k in key[:axis])
            index = [slice(None)] * arr.ndim                              # arr is h5py's own copy
            index[pos] = ~keep
            arr[tuple(index)] = np.nan
        return arr


class _Node:
    """The names in use in one node (one HDF5 group): name -> identity, identity -> name."""

    def __init__(self, path: str, inherited: dict, children: set):
        self.path = path
        self.inherited = inherited          # name -> identity: dimensions of the ancestors
        self.children = children
        self.local: dict = {}               # name -> identity
        self.dims: dict = {}                # identity -> name, dimensions of this node
        self.coords: dict = {}              # name -> xarray Variable
        self.data: dict = {}
        self.attrs: dict = {}

    def inherited_name(self, identity):
        for name, ident in self.inherited.items():
            if ident == identity:
                return name
        return None

    def claim(self, identity, proposals) -> str:
        for name in (n for n in self.local if self.local[n] == identity):
            return name
        candidates = list(proposals) + [f"{proposals[-1]}_{k}" for k in range(2, 100)]
        for name in candidates:
            other = self.local.get(name, self.inherited.get(name))
            if name not in self.children and (other is None or other == identity):
                self.local[name] = identity
                return name
        raise RuntimeError(f"no free name for {identity} in {self.path}")   # pragma: no cover

    def exported(self) -> dict:
        """The names the children see: ours (dimensions and indexed coordinates) over the inherited."""
        out = dict(self.inherited)
        out.update({name: ident for ident, name in self.dims.items()})
        return out


class _Builder:
    def __init__(self, xr, h5, kind, mask_unfinished: bool):
        self.xr = xr
        self.h5 = h5
        self.kind = kind
        self.mask_unfinished = mask_unfinished
        self.groups: dict = {}              # group path -> [datasets]
        self.children: dict = {}            # group path -> set of child group names
        self.h5.visititems(self._collect)
        self.groups.setdefault("/", [])
        self.flags_member: dict = {}        # scale path -> (flag path, finished bool array)
        self.flags_group: dict = {}         # group path -> (flag path, finished bool)
        self.member_axis: dict = {}         # group path -> (scale path, length) of its per-member flag
        self._find_flags()

    def _collect(self, name, obj):
        import h5py

        path = "/" + name
        if isinstance(obj, h5py.Group):
            self.groups.setdefault(path, [])
            self.children.setdefault(_group_of(path), set()).add(name.rsplit("/", 1)[-1])
        elif isinstance(obj, h5py.Dataset):
            self.groups.setdefault(_group_of(path), []).append(obj)

    def _find_flags(self):
        for gpath, dsets in self.groups.items():
            for d in dsets:
                base = d.name.rsplit("/", 1)[-1]
                if not base.endswith("done") or d.dtype.kind not in "iub" or _is_scale(d):
                    continue
                if d.ndim == 0:
                    value = bool(d[()])
                    for g in (gpath, *_FLAG_ALSO_COVERS.get(self.kind, {}).get(d.name, ())):
                        self.flags_group[g] = (d.name, value)
                elif d.ndim == 1 and len(d.dims[0]):
                    scale = d.dims[0][0].name
                    self.flags_member[scale] = (d.name, np.asarray(d[()]).astype(bool))
                    self.member_axis[gpath] = (scale, d.shape[0])

    # -- identities of the axes of a dataset -------------------------------------------------
    def _axis_identity(self, d, i):
        dim = d.dims[i]
        if len(dim):
            return ("scale", dim[0].name)
        label = dim.label
        if label:
            return ("label", _group_of(d.name), label)
        if i == 0 and self._per_member(d):
            return ("scale", self.member_axis[_group_of(d.name)][0])
        return ("anon", d.name, i)

    def _per_member(self, d) -> bool:
        """A dataset of a group with a per-member done flag whose first axis has no scale but the
        members' length, preallocated with a fill value other than 0 (NaN, -1: what the run
        writes member by member): its first axis is the members' (particles/positions,
        number_in_grid, permutation of drift runs, whose writer attaches no scale there)."""
        axis = self.member_axis.get(_group_of(d.name))
        if axis is None or d.dtype.kind not in "iuf" or d.shape[0] != axis[1]:
            return False
        fill = d.fillvalue
        return fill is not None and (np.isnan(fill) if d.dtype.kind == "f" else fill != 0)

    def tree(self):
        xr = self.xr
        nodes: dict = {}
        for gpath in sorted(self.groups, key=lambda p: (p.count("/") if p != "/" else 0, p)):
            parent = nodes.get(_group_of(gpath)) if gpath != "/" else None
            inherited = parent.exported() if parent is not None else {}
            node = _Node(gpath, inherited, self.children.get(gpath, set()))
            nodes[gpath] = node
            self._fill(node)
        datasets = {p: xr.Dataset(data_vars=n.data, coords=n.coords, attrs=n.attrs) for p, n in nodes.items()}
        return xr.DataTree.from_dict(datasets)

    def _dim_name(self, node: _Node, identity) -> str:
        if identity in node.dims:
            return node.dims[identity]
        name = node.inherited_name(identity)
        if name is not None:
            return name
        kind = identity[0]
        if kind == "scale":
            path = identity[1]
            base = path.rsplit("/", 1)[-1]
            name = node.claim(identity, [base, _qualified(path)])
            node.dims[identity] = name
            # a scale of this group, or one from outside the ancestors: its values are our coordinate
            scale = self.h5[path]
            attrs = self._attrs(scale)
            if name != base or _group_of(path) != node.path:
                attrs["hdf5_path"] = path
            node.coords[name] = self.xr.Variable((name,), np.asarray(scale[()]), attrs)
            return name
        if kind == "label":
            name = node.claim(identity, [identity[2], f"{_qualified(identity[1])}_{identity[2]}"])
        else:
            base = identity[1].rsplit("/", 1)[-1]
            name = node.claim(identity, [f"{base}_dim_{identity[2]}", f"{_qualified(identity[1])}_dim_{identity[2]}"])
        node.dims[identity] = name
        return name

    def _fill(self, node: _Node):
        xr = self.xr
        group = self.h5[node.path]
        node.attrs = self._attrs(group)
        dsets = sorted(self.groups[node.path], key=lambda d: (not _is_scale(d), d.name))
        for d in dsets:                                   # this group's scales first: they name dimensions
            if _is_scale(d):
                self._dim_name(node, ("scale", d.name))
        flagged_dims: dict = {}                           # scale path -> dimension name, in this node
        for d in dsets:
            if _is_scale(d):
                continue
            identities = [self._axis_identity(d, i) for i in range(d.ndim)]
            dims = tuple(self._dim_name(node, ident) for ident in identities)
            base = d.name.rsplit("/", 1)[-1]
            name = node.claim(("var", d.name), [base, _qualified(d.name)])
            attrs = self._attrs(d)
            if name != base:
                attrs["hdf5_path"] = d.name
            mask = []
            for i, ident in enumerate(identities):
                if ident[0] == "scale" and ident[1] in self.flags_member:
                    flagged_dims[ident[1]] = dims[i]
                    if self._maskable(d):
                        mask.append((i, self.flags_member[ident[1]][1]))
            if node.path in self.flags_group and self._maskable(d):
                mask.append((None, self.flags_group[node.path][1]))
            node.data[name] = xr.Variable(dims, self._lazy(d, mask), attrs)
        for scale_path, dim in sorted(flagged_dims.items()):
            flag, finished = self.flags_member[scale_path]
            cname = node.claim(("finished", scale_path), ["finished", f"{dim}_finished"])
            node.coords[cname] = xr.Variable((dim,), finished.copy(), {
                "description": f"True for the members whose {flag.lstrip('/')} is 1 (completely written)"})
        if node.path in self.flags_group:
            flag, value = self.flags_group[node.path]
            cname = node.claim(("finished", flag), ["finished", f"{_qualified(flag)}_finished"])
            node.coords[cname] = xr.Variable((), bool(value), {"description": f"True when {flag} is 1 "
                                                                             "(completely written)"})

    def _maskable(self, d) -> bool:
        """Float data the run writes later: preallocated with NaN (and masking is on)."""
        if not self.mask_unfinished or d.dtype.kind != "f":
            return False
        fill = d.fillvalue
        return fill is not None and np.isnan(fill)

    def _lazy(self, d, mask):
        from xarray.core import indexing

        if _is_string(d):                                 # small text: read now, as str
            return np.asarray(_text(np.asarray(d[()], dtype=object) if d.ndim else d[()]), dtype=str)
        if d.dtype.kind not in "biufc":                   # compound, references ...: read now
            return np.asarray(d[()])
        return indexing.LazilyIndexedArray(_array_class()(d, mask))

    @staticmethod
    def _attrs(obj) -> dict:
        out = {}
        for k in obj.attrs:
            if k in _SKIP_ATTRS:
                continue
            try:
                out[k] = _text(obj.attrs[k])
            except (OSError, TypeError, ValueError):     # an attribute h5py cannot read (e.g. a reference)
                continue
        return out
