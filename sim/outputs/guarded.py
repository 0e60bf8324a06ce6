"""The guarded writer: every folder and file migsim writes its results to goes through here.

The rules, whatever the command (run, validate, compare, plot, analyze, sweep, calibrate):

1. **Only migsim's own results are replaced.** A results folder is replaced when it is
   absent, empty, or holds only what migsim wrote there: each folder migsim writes lists
   its files with their sizes and SHA-256 in ``migsim-files.json``. A file someone added
   to it, or changed since, makes the next write refuse before any work starts, naming
   the file (``FileExistsError``). Folders written by earlier versions (no list) are
   recognised by their manifest and the names migsim gives its files (``LEGACY_NAMES``).
   A single file (``claim_file``) is replaced only when the caller's test says migsim
   wrote it (for example a calibrated scenario whose checksum line still matches).
2. **Staging in a place of migsim's own.** New results are written into a folder created
   fresh beside the target, ``.NAME.migsim-staging-XXXXXXXX`` (a name no one picks, made
   by ``mkdtemp`` so it never existed before, marked with a ``MIGSIM_STAGING`` file), then
   swapped with the target in one atomic exchange (``renameat2(RENAME_EXCHANGE)``; two
   renames where the file system lacks it, with the old folder put back on failure). No
   folder that migsim did not create is ever deleted; staging left by a killed writer is
   recognised by its marker and removed by the next writer of the same target.
3. **One writer per target.** A lock (``flock``) on ``.NAME.migsim-lock`` beside the target
   is taken before the work starts and held until the results are in place; a second
   writer fails at once (``Busy``, naming the first one's process id) instead of both
   writing and one of them reporting results that are not the ones that stand. The lock
   file is removed on release (a writer that finds it removed under it takes a new one).
4. **Symbolic links are written through.** A target that is a link (to another disk, say)
   is resolved: the folder it points to is replaced and the link stays.
"""
from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .files import atomic_write_bytes
from .ownership import FILES, check_replaceable, note, read_json, write_file_list

STAGING_MARK = "MIGSIM_STAGING"              # inside a staging folder: which target it is for
LOCK_SUFFIX = ".migsim-lock"
STAGING_INFIX = ".migsim-staging-"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


class Busy(OSError):
    """Another process is writing the same results (it holds the target's lock)."""


def resolve_target(path: str | Path) -> Path:
    """The path writes really go to: absolute, with symbolic links (the last one included) followed."""
    return Path(os.path.realpath(Path(path)))


# ---------------------------------------------------------------- the lock of one target

class TargetLock:
    """An exclusive, non-blocking ``flock`` on ``.NAME.migsim-lock`` beside ``target``."""

    def __init__(self, target: Path, shown: str):
        self.path = target.parent / f".{target.name}{LOCK_SUFFIX}"
        self.shown = shown
        self.fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise ``Busy`` naming the holder; retried when the holder removed the file meanwhile."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
                os.close(fd)
                who = f" (process {holder})" if holder.isdigit() else ""
                raise Busy(errno.EBUSY, f"{self.shown} is being written by another migsim command{who}; nothing "
                           "was run: wait until it has finished, or choose another --out") from None
            except BaseException:
                os.close(fd)
                raise
            try:
                here = os.stat(self.path)
            except FileNotFoundError:
                here = None
            mine = os.fstat(fd)
            if here is None or (here.st_dev, here.st_ino) != (mine.st_dev, mine.st_ino):
                os.close(fd)                       # the previous holder removed it as we opened it: again
                continue
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            self.fd = fd
            return

    def release(self) -> None:
        """Remove the lock file (still holding the lock, so no one else owns it) and release the lock."""
        if self.fd is None:
            return
        try:
            os.unlink(self.path)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None

    def __del__(self):                             # a claim dropped without release: the fd must not leak
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass


# ---------------------------------------------------------------- staging folders of migsim's own

_MKDTEMP_NAME = re.compile(r"[a-z0-9_]{8}")           # the random part of a name tempfile.mkdtemp makes


def _staging_folders(target: Path) -> Iterator[Path]:
    """Staging folders left for ``target``: marked as migsim's and naming this target, or made by ``mkdtemp`` under
    its name and holding nothing yet but the marker being written (a writer stopped right after creating it)."""
    prefix = f".{target.name}{STAGING_INFIX}"
    try:
        candidates = list(target.parent.glob(f"{glob_escape(prefix)}*"))
    except OSError:
        return
    for folder in candidates:
        if not folder.is_dir() or folder.is_symlink():
            continue
        mark = read_json(folder / STAGING_MARK)
        if isinstance(mark, dict):
            if mark.get("target") == str(target):
                yield folder
        elif _MKDTEMP_NAME.fullmatch(folder.name[len(prefix):]) and all(
                entry.name.startswith(f".{STAGING_MARK}.") and entry.name.endswith(".tmp") and entry.is_file()
                for entry in folder.iterdir()):
            yield folder


def glob_escape(text: str) -> str:
    """``text`` with glob wildcards escaped."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def _recover(target: Path, shown: str) -> None:
    """Clean up after a writer of ``target`` that was killed (the caller holds the target's lock).

    Staging folders hold only what migsim wrote. One with an ``old`` folder inside was
    killed between the two renames of the fallback swap: the earlier results are put back.
    """
    for folder in _staging_folders(target):
        old = folder / "old"
        if old.is_dir() and not os.path.lexists(target):
            os.rename(old, target)
            note(f"put the earlier results back into {shown} (a writer was stopped while replacing them)")
        shutil.rmtree(folder, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths atomically (Linux ``renameat2``); False where the system cannot."""
    libc = _libc()
    function = getattr(libc, "renameat2", None) if libc is not None else None
    if function is None:
        return False
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if function(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


_LIBC: list = []


def _libc():
    if not _LIBC:
        try:
            _LIBC.append(ctypes.CDLL(None, use_errno=True))
        except OSError:           # pragma: no cover - no C library to call
            _LIBC.append(None)
    return _LIBC[0]


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------- claims

class Claim:
    """The right to write one target: its lock, held from before the work until the results are in place."""

    def __init__(self, path: str | Path, kind: str):
        self.shown = str(path)
        self.target = resolve_target(path)
        self.kind = kind
        self.lock = TargetLock(self.target, self.shown)
        self.created: list[Path] = []        # parent folders made for the lock, removed again if nothing came

    def open(self, check: Callable[[], None] | None) -> None:
        """Make the target's parent folders, take the lock, clean up after killed writers, run ``check``."""
        try:
            for _attempt in range(10):           # another writer may make or remove the same parents meanwhile
                self._make_parents()
                try:
                    self.lock.acquire()
                    break
                except FileNotFoundError:
                    continue
            else:
                self.lock.acquire()
        except Busy:
            self._remove_created()
            raise
        except OSError as exc:
            self._remove_created()
            raise _cannot_write(exc, self.shown, existed=os.path.lexists(self.target)) from exc
        try:
            _recover(self.target, self.shown)
            if check is not None:
                check()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self.lock.release()
        self._remove_created()

    def _make_parents(self) -> None:
        missing, parent = [], self.target.parent
        while not parent.exists():
            missing.append(parent)
            parent = parent.parent
        for folder in reversed(missing):
            try:
                folder.mkdir()
            except FileExistsError:              # made by another writer just now: not ours to remove
                continue
            self.created.append(folder)

    def _remove_created(self) -> None:
        for folder in reversed(self.created):          # innermost first, and only while empty
            try:
                folder.rmdir()
            except OSError:
                break
        self.created = []

    @contextmanager
    def staged(self, start_from_existing: bool = False) -> Iterator[Path]:
        """A new folder to write the results into; swapped into place when the block ends without error.

        ``start_from_existing``: the new folder starts as a copy of the current one (hard
        links where possible: every write migsim makes replaces a file, never edits it).
        """
        target, shown = self.target, self.shown
        existed = os.path.lexists(target)
        container = None
        try:
            container = Path(tempfile.mkdtemp(prefix=f".{target.name}{STAGING_INFIX}", dir=target.parent))
            mark = {"target": str(target), "pid": os.getpid()}
            atomic_write_bytes(container / STAGING_MARK, json.dumps(mark).encode())
            staging = container / "new"
            if start_from_existing and existed:
                shutil.copytree(target, staging, copy_function=_link_or_copy, symlinks=True,
                                ignore=shutil.ignore_patterns(FILES))
            else:
                staging.mkdir()
            yield staging
            write_file_list(staging, self.kind)
            _fsync_folder(staging)
            with signals_deferred():                         # Ctrl-C or SIGTERM now would act after the swap
                if os.path.lexists(target):
                    check_replaceable(target, self.kind, shown)  # again: something may have been added meanwhile
                    if not _exchange(staging, target):
                        old = container / "old"
                        os.rename(target, old)
                        try:
                            os.rename(staging, target)
                        except BaseException:
                            os.rename(old, target)              # put the earlier results back
                            raise
                else:
                    os.rename(staging, target)
                WRITTEN.append(shown)
                _fsync_folder(target.parent)
                shutil.rmtree(container, ignore_errors=True)  # the earlier results (all migsim's) and the marker
                container = None
        except FileExistsError:
            raise
        except OSError as exc:
            raise _cannot_write(exc, shown, existed) from exc
        finally:
            if container is not None:
                shutil.rmtree(container, ignore_errors=True)


WRITTEN: list[str] = []
"""Results folders put in place by this process (shown as given): what an interrupted command did finish."""


@contextmanager
def signals_deferred():
    """Hold SIGINT, SIGTERM and SIGHUP back while the block runs (in the main thread), then act on them.

    Python turns these signals into exceptions between any two steps; a swap of folders
    cut in half by one could lose the earlier results. Their handlers are replaced for the
    duration by one that notes the signal; the first noted is handed to its own handler after.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    kept = {}
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        kept[signum] = signal.signal(signum, lambda number, _frame: caught.append(number))
    try:
        yield
    finally:
        for signum, handler in kept.items():
            signal.signal(signum, handler)
        if caught:
            handler = kept[caught[0]]
            if callable(handler):
                handler(caught[0], None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(caught[0])


def _link_or_copy(source, destination) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def _cannot_write(exc: OSError, shown: str, existed: bool) -> OSError:
    kept = "the earlier results there are unchanged" if existed else "nothing was written"
    where = f": {exc.filename}" if exc.filename else ""
    return OSError(exc.errno, f"cannot write the results into {shown} ({exc.strerror or exc}{where}); {kept}")


_HELD: dict[Path, Claim] = {}


@contextmanager
def claim_folder(path: str | Path, kind: str = "run") -> Iterator[Claim]:
    """Hold the lock of a results folder and check that new results of ``kind`` may replace it.

    Take it before the work (simulating) starts, so that a folder that cannot be written
    or is being written by someone else is refused at once. Nested claims of the same
    target in one process share the first.
    """
    target = resolve_target(path)
    if target in _HELD:
        yield _HELD[target]
        return
    claim = Claim(path, kind)
    claim.open(lambda: check_replaceable(claim.target, kind, claim.shown))
    _HELD[target] = claim
    try:
        yield claim
    finally:
        del _HELD[target]
        claim.close()


@contextmanager
def staged_folder(out_dir: str | Path, kind: str = "run", start_from_existing: bool = False) -> Iterator[Path]:
    """Write a results folder all or nothing: yields a new folder, put in place of ``out_dir`` at the end.

    An interrupted or failed write (full disk, read-only folder) leaves the earlier results
    untouched and raises ``OSError`` saying so; a folder holding anything migsim did not
    write is never replaced (``FileExistsError``); a second writer of the same folder is
    refused (``Busy``).
    """
    with claim_folder(out_dir, kind) as claim, claim.staged(start_from_existing) as staging:
        yield staging


@contextmanager
def claim_file(path: str | Path, written_by_migsim: Callable[[Path], bool], what: str,
               inputs: list[Path] = ()) -> Iterator[Path]:
    """Hold the lock of an output file; yields the path to write (links followed).

    Refuses (``FileExistsError``) a path that is one of ``inputs`` (the files the output
    is made from), a folder, or an existing file that ``written_by_migsim`` does not accept.
    """
    target = resolve_target(path)
    if target in _HELD:
        yield target
        return
    claim = Claim(path, what)

    def check() -> None:
        resolved_inputs = {resolve_target(p) for p in inputs}
        if target in resolved_inputs:
            raise FileExistsError(errno.EEXIST, f"{path} is one of the files it is made from (the input, a file it "
                                  "extends, or the observed data): choose another --out")
        if target.is_dir():
            raise FileExistsError(errno.EEXIST, f"{path} is a folder: --out names the file to write")
        if os.path.lexists(target) and not written_by_migsim(target):
            raise FileExistsError(errno.EEXIST, f"{path} exists and is not a {what} written by migsim (or was "
                                  "edited since): nothing was replaced; choose another --out, or remove it first")

    claim.open(check)
    _HELD[target] = claim
    try:
        yield target
    finally:
        del _HELD[target]
        claim.close()
