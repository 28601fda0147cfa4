"""What a run will need in memory, checked before anything big is allocated.

A study loader computes the sizes of the arrays a run is going to hold (from the study's keys
alone, before building them) and asks :func:`memory_problem` whether they fit; the answer is a
sentence with the numbers (MiB needed and available) or None.  The disk side (the run file's
preallocated layout against the free space of the output directory) is checked when the file
is created (:meth:`hpcbelt.output.RunFile.create`).

The memory limit is what the node has available now (``MemAvailable`` of /proc/meminfo, else
the physical memory): the ranks of a node share it, so a run refused here would surely fail,
while one accepted may still need fewer ranks per node.  Nothing here imports MPI or HDF5.
"""

from __future__ import annotations

import os

MIB = 1 << 20
F8 = 8                   # bytes of a float64


def available_memory() -> int:
    """Bytes of memory available on this node now."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):       # pragma: no cover - not Linux
        return 1 << 62


def mib(n: float) -> str:
    return f"{n / MIB:,.1f} MiB"


def memory_problem(needed: float, what: str, available: int | None = None) -> str | None:
    """None when ``needed`` bytes fit in memory, else '<what> needs X MiB, Y MiB available'."""
    have = available_memory() if available is None else int(available)
    if needed > have:
        return f"{what} needs {mib(needed)} of memory per rank, {mib(have)} available on this node"
    return None


def count_of_times(duration_s: float, every_s: float) -> int:
    """How many times ``0, every, 2 every, ...`` up to ``duration`` there are (without building them)."""
    return int(duration_s // every_s) + 2


def pitch_angle_member_bytes(n_alpha: int, n_time: int, n_segments: int) -> int:
    """One member's arrays while it runs: f and the D_aa integral (time x angle), its intervals."""
    return 2 * n_time * n_alpha * F8 + 4 * (n_time + n_segments) * F8


def pitch_angle_file_bytes(n_alpha: int, n_time: int, experiments) -> int:
    """The per-member datasets of a pitch-angle run file; ``experiments`` is (members, segments) pairs:
    f and the D_aa integral (float64), the profile index (int32 per segment), the sha256 checksum
    (32 bytes) and the done flag."""
    return sum(m * (2 * n_time * n_alpha * F8 + 4 * s + 32 + 1) for m, s in experiments)


def propagator_bank_bytes(n_alpha: int, n_profiles: int, n_lengths: int) -> int:
    """The exact method's propagators of one experiment: an n x n matrix per (profile, interval length)."""
    return n_profiles * n_lengths * n_alpha * n_alpha * F8


def grid_bytes(n_alpha: int) -> int:
    """The exact method's eigen-decomposition of one n x n operator (a few n x n work arrays)."""
    return 4 * n_alpha * n_alpha * F8


# --- the drift-diffusion study (hpcbelt/drift) --------------------------------------------

def drift_pde_bytes(n_L: float, n_mlt: float, n_probes: int) -> float:
    """Rank 0's PDE on an n_L x n_mlt grid: the initial F, the solver's state (F, its bonds:
    two int64 and two float64 per cell upward, one along the ring), six CG work vectors, the
    fixed-frame copy written at every output and its temporaries, and one weight array per probe."""
    return (20 + n_probes) * n_L * n_mlt * F8


def drift_series_bytes(n_time: float, n_probes: int) -> float:
    """The per-output series every solver keeps in memory: times, number and edge losses of
    the PDE and the radial solver, and each probe's series."""
    return (8 + n_probes) * n_time * F8


def drift_permutation_bytes(n_particles: float, n_rec: float, n_bin_cells: float, n_probes: int,
                            n_updates: float, keep_positions: bool) -> float:
    """One permutation of the test-particle experiment while it runs: the positions (float64,
    and their float32 copy when kept), the sampled starts, the binned F (float64, float32 and a
    temporary), the probe series, the sequence of w with its permutation, and the integration
    schedule (one interval per update of w or recording, a dozen arrays of them)."""
    positions = n_particles * n_rec * 2 * (F8 + (4 if keep_positions else 0))
    starts = 6 * n_particles * F8
    binned = 3 * n_rec * n_bin_cells * F8 + 2 * n_probes * n_rec * F8
    sequence = 5 * n_updates * F8
    schedule = 12 * (n_rec + n_updates) * F8
    return positions + starts + binned + sequence + schedule


def work_list_bytes(n_items: float) -> float:
    """A work queue of ``n_items`` entries (a small tuple and its bookkeeping each)."""
    return 200.0 * n_items
