"""Run-file layout of the decay study: writer, names, restart check and reader in one module."""

import sys
from dataclasses import dataclass

import numpy as np

from hpcbelt import integrity, output
from hpcbelt.errors import InputError

KIND = "decay"
LAYOUT_VERSION = 2          # 2: member_checksum
TIME = "time_s"
MEMBER = "member"
Y = "y"
RATE = "rate_per_s"
DONE = "member_done"
CHECKSUM = "member_checksum"


def layout(study):
    def make(h5):
        output.scale(h5, TIME, study.out_t, "s", "output times")
        member = output.scale(h5, MEMBER, np.arange(study.members), "1", "ensemble member")
        y = output.preallocated(h5, Y, (study.members, study.out_t.size), "f8", np.nan)
        output.units(y, "1", "y(t) of each member; NaN until written")
        y.dims[0].attach_scale(member)
        y.dims[1].attach_scale(h5[TIME])
        output.units(output.preallocated(h5, RATE, (study.members,), "f8", np.nan), "1/s", "decay rate")
        output.units(output.preallocated(h5, CHECKSUM, (study.members, integrity.CHECKSUM_SIZE),
                                          integrity.CHECKSUM_DTYPE, integrity.UNSET), "1",
                     "sha256 of y and rate as written")
        output.units(output.preallocated(h5, DONE, (study.members,), "u1", 0), "1", "1 once written")
    return make


def member_digest(y, rate):
    return integrity.digest(((y, "f8"), (rate, "f8")))


def member_problem(h5, m: int):
    """What is wrong with finished member m (checksum, y finite and >= 0), or None."""
    y, rate = h5[Y][m], h5[RATE][m]
    found = []
    if not integrity.matches(h5[CHECKSUM][m], member_digest(y, rate)):
        found.append("data does not match its checksum")
    found += [p for p in (integrity.value_problem(y, Y, True),) if p]
    return "; ".join(found) or None


def restart_state(study, path) -> dict:
    """Finished members; one whose data no longer matches its checksum is computed again."""
    with output.restart_file(path, KIND, "decay", LAYOUT_VERSION, study.doc,
                             inputs=study.input_files()) as fh:
        done = np.asarray(fh[DONE][()], bool)
        for m in np.flatnonzero(done):
            why = member_problem(fh, int(m))
            if why:
                done[m] = False
                print(f"hpcbelt: warning: {path}: member {int(m)}: {why}; computing it again", file=sys.stderr)
        return {"members": done}


def verify(path) -> integrity.Report:
    run = inspect(path)
    rep = integrity.Report(str(path), KIND, int(run.root.get("layout_version", -1)))
    with output.open_h5(path) as h5:
        for m in run.done:
            rep.checked += 1
            why = member_problem(h5, int(m))
            if why:
                rep.problems.append(f"{path}: member {int(m)}: {why}")
    return rep


@dataclass
class DecayRun:
    path: str
    root: dict
    time_s: np.ndarray
    members: int
    done: np.ndarray           # indices of finished members


def inspect(path) -> DecayRun:
    def read(h5, where):
        if output.attr_str(h5, "kind", None) != KIND:
            raise InputError(f"{where}: not a decay run file")
        for name in (TIME, Y, DONE):
            if name not in h5:
                raise InputError(f"{where}: dataset '{name}' missing")
        root = output.read_root_attrs(h5, ("kind", "title", "status", "hpcbelt_version", "seed",
                                           "study_config_json", "layout_version"), where)
        done = np.flatnonzero(h5[DONE][()] == 1).astype(np.int64)
        return DecayRun(str(path), root, h5[TIME][()].astype(float), int(h5[DONE].shape[0]), done)
    return output.read_metadata(path, read)


def read_members(h5, run: DecayRun, t0: int, t1: int) -> np.ndarray:
    """y[finished members, t0:t1]."""
    out = np.empty((run.done.size, t1 - t0))
    row = 0
    for m0, m1 in output.read_runs(run.done):
        h5[Y].read_direct(out, source_sel=np.s_[m0:m1, t0:t1], dest_sel=np.s_[row:row + m1 - m0])
        row += m1 - m0
    return out
