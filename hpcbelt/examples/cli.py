"""``hpcbelt examples``: list the shipped examples, copy one into a directory.

    hpcbelt examples list
    hpcbelt examples copy NAME DIR [--overwrite]

``register(subparsers)`` adds the command to the top-level parser.  Serial: run it without
mpirun.  Bad input (unknown NAME, DIR unusable or already holding the files) raises
:class:`~hpcbelt.errors.InputError`: one line, exit code 2, nothing written.
"""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("examples", help="list the shipped example studies, copy one (with its "
                                               "database) into a directory",
                              description="The example studies shipped with hpcbelt (the files of the "
                                          "repository's inputs/), each with the files it reads.")
    sub = p.add_subparsers(dest="examples_command", required=True, metavar="{list,copy}")
    q = sub.add_parser("list", help="name, title and files of every example")
    q.set_defaults(func=cmd_list)
    q = sub.add_parser("copy", help="write a runnable copy of an example into DIR",
                       description="Write the study file of example NAME and every file it reads into "
                                   "DIR (created if missing), side by side, so that "
                                   "'hpcbelt run DIR/STUDY.toml' runs it as it is.")
    q.add_argument("name", metavar="NAME", help="example name (hpcbelt examples list)")
    q.add_argument("directory", metavar="DIR", help="directory to write the files into")
    q.add_argument("--overwrite", action="store_true", help="replace the example's files already in DIR")
    q.set_defaults(func=cmd_copy)


def _size(n: int | None) -> str:
    if n is None:
        return "missing"
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{max(1, round(n / 1024))} KiB"


def cmd_list(args) -> int:
    from . import file_size, list_examples

    examples = list_examples()
    width = max(len(e.name) for e in examples)
    for e in examples:
        files = ", ".join(f"{f} ({_size(file_size(f))})" for f in e.files)
        print(f"{e.name:<{width}}  {e.title}")
        print(f"{'':<{width}}  files: {files}")
    return 0


def cmd_copy(args) -> int:
    from . import copy_example, get_example

    written = copy_example(args.name, args.directory, overwrite=args.overwrite)
    print(f"hpcbelt: wrote {', '.join(str(p) for p in written)}", file=sys.stderr)
    print(f"hpcbelt: run it with: {get_example(args.name).command(args.directory)}", file=sys.stderr)
    return 0
