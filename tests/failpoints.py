"""Run `mlcost` with a failure injected at a publish step: `python -m tests.failpoints MODE AT TRACE -- ARGS`.

Every step that changes published state calls `pipelines.storage.lake.publish_step(label)` (a rename into place, a
checksum record, `_delivery.json`, a generation's links, the catalog switch, the warehouse switch). This installs
`lake.publish_hook` and runs `mlcost ARGS` in this process (`mlcost run` executes its three Dagster runs
in-process, so every step of the three runs passes through the hook):

- `trace`: append each step's label to the file TRACE (AT is ignored): the list of kill points;
- `kill`: SIGKILL this process at the AT-th step (1-based), as `kill -9` would at that instant: no `finally`,
  no clean-up;
- `kill-at`: SIGKILL this process at the first step whose label starts with AT;
- `enospc`: raise OSError(ENOSPC) at the first step whose label starts with AT, as a full disk would at that
  write.
"""

from __future__ import annotations

import errno
import os
import signal
import sys

from pipelines.storage import lake


def main(argv: list[str]) -> int:
    mode, at, trace, *rest = argv
    if rest and rest[0] == "--":
        rest = rest[1:]
    count = 0

    def hook(what: str) -> None:
        nonlocal count
        count += 1
        if mode == "trace":
            with open(trace, "a") as fh:
                fh.write(what + "\n")
        elif (mode == "kill" and count == int(at)) or (mode == "kill-at" and what.startswith(at)):
            os.kill(os.getpid(), signal.SIGKILL)
        elif mode == "enospc" and what.startswith(at):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), what)

    lake.publish_hook = hook
    from pipelines.cli import main as mlcost

    return mlcost(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
