"""Classifying a failed step from its output (spec §7.3).

Each engine remembers the last line of stdout or stderr that looks like an error; when the step fails,
that line is appended to the error text and decides whether the failure is fatal (never retry) or
temporary (redeliver the job).
"""

from __future__ import annotations

import errno
import signal

from libs.graph.model import Engine, StepError

# OS errors that are worth a retry of the whole job (spec §7.3, rule 1).
TEMPORARY_ERRNOS = frozenset(
    {errno.EIO, errno.EBUSY, errno.ECANCELED, errno.ECONNABORTED, errno.ECONNRESET, errno.ENOMEM, errno.EPIPE}
)


def _remembers(engine: Engine, line: str) -> bool:
    match engine:
        case Engine.PYTHON:
            return "FATAL ERROR:" in line or line.strip().startswith("ERROR:")
        case Engine.CMD:
            return "ERROR:" in line
        case Engine.SNAP:
            return line.strip().startswith("Error:")
        case Engine.DOCKER:
            return "ERROR" in line
    return False


def exit_text(returncode: int) -> str:
    """What the reference (Go's os/exec) prints for a failed process: `exit status 1`, `signal: killed`."""
    if returncode < 0:
        try:
            name = signal.strsignal(-returncode) or f"signal {-returncode}"
        except ValueError:
            name = f"signal {-returncode}"
        return f"signal: {name.lower()}"
    return f"exit status {returncode}"


class LogFilter:
    """Fed with every output line of one step; builds the step's error if it fails."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.last_error_line: str | None = None

    def feed(self, line: str) -> None:
        if _remembers(self.engine, line):
            self.last_error_line = line.rstrip("\r\n")

    def error(self, argv: list[str], exec_error: str) -> StepError:
        """The step error for a process that failed with `exec_error` (e.g. `exit status 1`)."""
        line = self.last_error_line
        fatal = temporary = False
        if line is None:
            detail = exec_error
        elif self.engine is Engine.PYTHON:
            detail = f"{exec_error}\n {line}"
            fatal = "FATAL ERROR:" in line
            temporary = not fatal and ("temporary failure" in line.lower() or "timed out" in line.lower())
        elif self.engine is Engine.SNAP:
            detail = f"{exec_error} ({line})"
            temporary = "Try again" in line or "Temporary failure" in line
        else:
            detail = f"{exec_error} ({line})"
            fatal = "FATAL ERROR:" in line
            temporary = "TEMPORARY ERROR:" in line
        # Rule 5 of §7.3 ("timeout" anywhere) is applied to the process output only, not to the
        # command line, so that an argument such as --timeout=60 does not make every failure transient.
        temporary = temporary or "timeout" in detail.lower()
        return StepError(
            f"process[{''.join(' ' + token for token in argv)}]: {detail}", fatal=fatal, temporary=temporary
        )
