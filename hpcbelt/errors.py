"""Error types shared by every hpcbelt command.

``InputError`` is the one exception that means "the user gave us something we cannot use":
a study key, a file, a value.  The command-line layer turns it into a single line on stderr
and exit code 2, identically on every MPI rank.  Anything else is a bug and aborts the job.
"""


class InputError(Exception):
    """Bad user input: the message names the key or file and says what was expected."""

    exit_code = 2


class RunInterrupted(Exception):
    """The run was asked to stop (SIGTERM, SIGUSR1, SIGINT) and left its output consistent.

    Exit code 75 (EX_TEMPFAIL, "try again"): resume with ``hpcbelt run --restart``.
    """

    exit_code = 75
