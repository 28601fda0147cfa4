"""Run a pitch-angle study: members spread over MPI ranks, one HDF5 file written in parallel.

Output layout (dataset names are a contract with the aggregation and job templates):

    /time_s                      (n_time,)            s, dimension scale
    /alpha_deg                   (n_alpha,)           deg, dimension scale
    /grid/cell_weight            (n_alpha,)           integral of T sin 2a over each control volume
    /grid/loss_rate_per_s        (n_alpha,)           1/tau_L averaged over each control volume
    /database/daa_mean           (n_alpha,)           <D(X_i, Y_i)> on the model grid
    /database/daa_of_mean_inputs (n_alpha,)           D(<X>, <Y>) on the model grid (if given)
    /<experiment>/member         (n_member,)          dimension scale
    /<experiment>/segment_start_s (n_segment,)        s, start of each profile segment
    /<experiment>/f              (member, time, alpha)  phase-space density, units of initial_f
    /<experiment>/daa_integral   (member, time, alpha)  running integral of D_aa dt (dimensionless)
    /<experiment>/profile_index  (member, segment)    database row used in each segment
    /<experiment>/member_done    (member,)            1 once the member is completely written
"""

from __future__ import annotations


import numpy as np

from .. import output
from ..errors import RunInterrupted
from ..parallel import Hub, Progress, StopRequests, my_items
from .solver import PropagatorBank, member_intervals, run_member
from .study import INDEX_MEAN_INPUTS, INDEX_MEAN_OF_PROFILES, Study

F_UNITS = "cm^-2 s^-1 sr^-1 keV^-1"
LAYOUT_VERSION = 1


def _layout(study: Study):
    grid = study.grid

    def make(h5):
        output.scale(h5, "time_s", study.out_t, "s", "output times since the start of the run")
        output.scale(h5, "alpha_deg", grid.alpha_deg, "deg", "equatorial pitch angle (grid nodes)")
        g = h5.create_group("grid")
        g.attrs["loss_cone_deg"] = grid.loss_cone_deg
        g.attrs["dalpha_deg"] = float(study.doc["grid"]["dalpha_deg"])
        output.units(g.create_dataset("cell_weight", data=grid.volume), "rad",
                     "integral of T(a) sin(2a) da over each control volume (conserved content "
                     "is sum(f * cell_weight) when loss is off)")
        output.units(g.create_dataset("loss_rate_per_s", data=grid.loss_rate_per_s), "1/s",
                     "loss rate 1/tau_L averaged over the part of each control volume in the loss cone")
        d = h5.create_group("database")
        db = study.database
        d.attrs["path"] = db.path
        d.attrs["sha256"] = db.sha256
        d.attrs["n_profiles"] = db.n_profiles
        n_db = db.n_profiles
        output.units(d.create_dataset("daa_mean", data=study.profiles[n_db]), "1/s",
                     "<D(X_i, Y_i)>: mean of all database profiles, on the model grid")
        if db.daa_of_mean_inputs is not None:
            output.units(d.create_dataset("daa_of_mean_inputs", data=study.profiles[n_db + 1]), "1/s",
                         "D(<X>, <Y>): profile from the mean inputs, on the model grid")
        for h5d in (h5["grid/cell_weight"], h5["grid/loss_rate_per_s"], d["daa_mean"]):
            h5d.dims[0].attach_scale(h5["alpha_deg"])
        shape3 = lambda ex: (ex.members, study.out_t.size, grid.n)  # noqa: E731
        for ex in study.experiments:
            e = h5.create_group(ex.name)
            e.attrs["mode"] = ex.mode
            e.attrs["members"] = ex.members
            e.attrs["switch_every_s"] = np.nan if ex.switch_every_s is None else ex.switch_every_s
            e.attrs["profile"] = -1 if ex.profile is None else ex.profile
            e.attrs["description"] = ex.description
            e.attrs["method"] = study.method
            member = output.scale(h5, f"{ex.name}/member", np.arange(ex.members), "1", "ensemble member")
            seg = output.scale(h5, f"{ex.name}/segment_start_s", ex.seg_t, "s",
                               "start time of each constant-D segment")
            f = output.preallocated(e, "f", shape3(ex), "f8", np.nan)
            output.units(f, F_UNITS, "phase-space density (flux units of the initial condition); "
                         "NaN until the member is written")
            di = output.preallocated(e, "daa_integral", shape3(ex), "f8", np.nan)
            output.units(di, "1", "running time integral of D_aa [1/s] over time [s]")
            pi = output.preallocated(e, "profile_index", (ex.members, ex.n_segments), "i4", -99)
            output.units(pi, "1", f"database row used in each segment; {INDEX_MEAN_OF_PROFILES} = mean "
                         f"of all profiles, {INDEX_MEAN_INPUTS} = daa_of_mean_inputs, -99 = not written")
            done = output.preallocated(e, "member_done", (ex.members,), "u1", 0)
            output.units(done, "1", "1 once the member's f, daa_integral and profile_index are written")
            for dset in (f, di):
                dset.dims[0].attach_scale(member)
                dset.dims[1].attach_scale(h5["time_s"])
                dset.dims[2].attach_scale(h5["alpha_deg"])
            pi.dims[0].attach_scale(member)
            pi.dims[1].attach_scale(seg)
            done.dims[0].attach_scale(member)

    return make


def restart_state(study: Study, path) -> dict:
    """Check that ``path`` is an earlier run of this very study; return member_done per experiment.

    Refused (InputError) when the file is not a pitch-angle run, was written by another hpcbelt
    version or file layout, or by a study whose validated configuration differs in any key
    (the checks are shared with every study kind: :func:`hpcbelt.output.restart_file`).
    """
    from ..errors import InputError

    with output.restart_file(path, "pitch_angle", "pitch-angle", LAYOUT_VERSION, study.doc) as fh:
        done = {}
        for ex in study.experiments:
            try:
                done[ex.name] = np.asarray(fh[ex.name]["member_done"][()], bool)
            except KeyError:
                raise InputError(f"restart file {path}: experiment {ex.name!r} missing") from None
    return done


def run(study: Study, comm, out_path, quiet: bool = False, done: dict | None = None) -> None:
    """Integrate every unfinished member and write ``out_path`` (all ranks call this).

    ``done`` (from :func:`restart_state`) continues an earlier run in place: finished members
    are kept, the rest computed; the result is bitwise identical to an uninterrupted run.
    Raises RunInterrupted after leaving the file consistent if a stop signal arrives.
    """
    rank, size = comm.Get_rank(), comm.Get_size()
    mode = output.io_mode_announced(comm)
    items = study.work_items()
    if done is None:
        attrs = output.run_attrs(comm, mode, "pitch_angle", study, LAYOUT_VERSION,
                                 method=study.method,
                                 f_units=F_UNITS)
        rf = output.RunFile.create(out_path, comm, mode, _layout(study), attrs)
    else:
        items = [(e, m) for e, m in items if not done[study.experiments[e].name][m]]
        rf = output.RunFile.resume(out_path, comm, mode)
    progress = Progress(len(items), "members", enabled=(rank == 0 and not quiet))
    hub = Hub(comm, progress, on_write=rf.write)
    put = rf.write if mode in ("mpio", "serial") else hub.write

    mine = my_items(items, comm)
    bank, bank_for = None, None
    stopped = None
    with StopRequests() as stop:
        # rounds of one item per rank; between rounds all ranks agree whether to stop
        for r in range(-(-len(items) // size)):
            stopped = stop.agreed(comm)
            if stopped:
                break
            if r >= len(mine):
                continue
            e, m = mine[r]
            ex = study.experiments[e]
            if study.method == "exact" and bank_for != e:
                bank, bank_for = _propagators_for(study, e, mine), e
            rows, stored = study.segment_profiles(e, m)
            f, dint = run_member(study.grid, study.f0, study.profiles, rows, study.out_t, ex.seg_t,
                                 study.method, study.dt_s, bank)
            put(f"{ex.name}/f", (m, slice(None), slice(None)), f)
            put(f"{ex.name}/daa_integral", (m, slice(None), slice(None)), dint)
            put(f"{ex.name}/profile_index", (m, slice(None)), stored)
            put(f"{ex.name}/member_done", m, 1)
            rf.member_finished()
            hub.advance(1)
        hub.finish()
        if rf.writes_here and mode != "mpio":
            rf.member_finished()
    end = comm.bcast(output.now_iso() if rank == 0 else None, root=0)
    if stopped:
        rf.close({"end_time": end, "status": f"interrupted ({stopped})"})
        remaining = comm.allreduce(max(len(mine) - r, 0))
        raise RunInterrupted(f"stopped by {stopped} with {remaining} of {len(items)} members left; "
                             f"{out_path} is consistent: resume with 'hpcbelt run --restart'")
    rf.close({"end_time": end, "status": "complete"})


def _propagators_for(study: Study, e: int, mine) -> PropagatorBank:
    """Every propagator this rank's members of experiment ``e`` need, built in one allocation.

    One experiment at a time bounds memory by its own intervals (e.g. 2,377 x 91 x 91 x 8 B =
    157 MB per interval length on the 1 deg grid) however many experiments a study has; items
    come in experiment order, so each experiment's bank is built once per rank.
    """
    bank = PropagatorBank(study.grid, study.profiles)
    ex = study.experiments[e]
    plans = [member_intervals(study.segment_profiles(e, m)[0], study.out_t, ex.seg_t)
             for ee, m in mine if ee == e]
    bank.prepare([p[0] for p in plans], [p[1] for p in plans])
    return bank
