"""Child processes live no longer than the command that started them.

- Sweep workers (``bind_to(pid)`` in the process pool's initializer) watch the sweep's
  process through a pidfd (Linux 5.3+; polling where there is none) and end themselves
  the moment it ends, however it ends (SIGKILL included). They also ask the kernel for
  SIGKILL when their own parent (the pool's fork server) dies. Once the workers are
  gone, the fork server and the resource tracker see their pipes close and exit too.
- The web server of ``migsim app`` is started with ``die_with_parent`` (the kernel sends
  it SIGTERM when ``migsim app`` dies) and stopped explicitly when ``migsim app`` is
  asked to stop.
- ``terminate_as_interrupt`` turns SIGTERM (and SIGHUP) into an exception in the main
  thread, so that a stopped command cleans up as after Ctrl-C: staging folders removed,
  locks released, worker pools shut down.
"""
from __future__ import annotations

import ctypes
import os
import select
import signal
import threading
import time

PR_SET_PDEATHSIG = 1
POLL_SECONDS = 0.5           # where there is no pidfd: how often a worker checks that the sweep still runs


class Terminated(BaseException):
    """The command was asked to stop (SIGTERM or SIGHUP); handled like Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def terminate_as_interrupt() -> None:
    """Raise ``Terminated`` in the main thread on SIGTERM and SIGHUP (the default kills without cleaning up)."""
    def handler(signum, _frame):
        raise Terminated(signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, handler)


def parent_death_signal(signum: int = signal.SIGKILL) -> bool:
    """Ask the kernel to send ``signum`` to this process when its parent dies (Linux); False elsewhere."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0
    except (OSError, AttributeError):        # pragma: no cover - not Linux
        return False


def die_with_parent() -> None:
    """``preexec_fn`` of a child process: SIGTERM to it when the process that started it dies."""
    parent = os.getppid()
    parent_death_signal(signal.SIGTERM)
    if os.getppid() != parent:                # the parent died before the request was made
        os.kill(os.getpid(), signal.SIGTERM)


def bind_to(pid: int) -> None:
    """End this process (SIGKILL to itself) as soon as process ``pid`` has ended."""
    parent = os.getppid()
    parent_death_signal(signal.SIGKILL)
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        os.kill(os.getpid(), signal.SIGKILL)
        return
    except (OSError, AttributeError):
        handle = None
    threading.Thread(target=_watch, args=(pid, handle), name="migsim-lifeline", daemon=True).start()


def _watch(pid: int, handle: int | None) -> None:
    if handle is not None:
        poller = select.poll()
        poller.register(handle, select.POLLIN)
        while not poller.poll():              # readable once the process has ended
            pass
    else:                                     # pragma: no cover - kernels without pidfd
        while _alive(pid):
            time.sleep(POLL_SECONDS)
    os.kill(os.getpid(), signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:                   # pragma: no cover
        return True
    return True
