"""Run a decay study: members in rounds over the ranks, one run file."""

import time

import numpy as np

from hpcbelt import output, parallel

from . import runfile
from .study import integrate


def run(study, comm, out_path, quiet=False, done=None):
    todo = [m for m in range(study.members) if done is None or not done["members"][m]]
    queues = parallel.deal(todo, comm.Get_size())
    rf = output.RunFile.open_run(out_path, comm, resume=done is not None, kind=runfile.KIND, study=study,
                                 layout_version=runfile.LAYOUT_VERSION, layout=runfile.layout(study))
    d = study.doc["decay"]

    def work(m):
        k = study.rate(m)
        y = integrate(k, d["y0"], study.out_t, d["dt_s"])
        time.sleep(d["pause_s"])
        rf.put(runfile.Y, (m, slice(None)), y)
        rf.put(runfile.RATE, m, k)
        rf.put(runfile.CHECKSUM, (m, slice(None)), runfile.member_digest(y, k))
        rf.put(runfile.DONE, m, np.uint8(1))

    rounds = parallel.run_rounds(comm, queues, work, label="members", quiet=quiet, hub=rf.hub,
                                 after_item=rf.item_finished)
    rf.finish(rounds, "members")
