"""Where results go: output paths checked before any work starts, and written so that a
failed, interrupted or concurrent run never leaves a half-written or foreign result.

- `check_folder`/`check_file` refuse, up front, an output that exists without `--force`, a
  symlink, a FIFO, socket or device (opening one can hang), and a file whose folder is missing.
- `staged_folder` gives a hidden folder to build into, deleted on any failure or signal;
  `publish_folder` moves it into place with one rename. Without `force` a folder that
  appeared meanwhile (another build) wins and this one is refused; with `force` the last
  build wins, the one before moved aside and deleted, never half-replaced.
- `write_file` writes next to the target and renames, so readers see the old file or the new.
- `environment_error` turns an OSError from the disk (full, read-only, no permission) into the
  one-line error users get, naming the path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

from .errors import Onnx2rsError

# OSErrors that say something about the machine or the user's paths, not about onnx2rs.
ENVIRONMENT_ERRNOS = frozenset({
    errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG, errno.ENOENT,
    errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG, errno.EMFILE, errno.ENFILE, errno.EIO, errno.ELOOP,
})


def environment_error(e: OSError, doing: str) -> Onnx2rsError:
    """The one-line error for an OSError met while `doing` (e.g. "writing the crate")."""
    where = f" {e.filename}" if e.filename else ""
    hint = {errno.ENOSPC: "free some space or write elsewhere", errno.EDQUOT: "free some space or write elsewhere",
            errno.EFBIG: "the file is larger than this process may write (ulimit -f)",
            errno.EROFS: "write to another folder", errno.EACCES: "write to a folder you own",
            errno.EPERM: "write to a folder you own"}.get(e.errno or 0)
    return Onnx2rsError(f"{doing}:{where}: {e.strerror or e}" + (f"; {hint}" if hint else ""))


def _kind(path: Path) -> str | None:
    """What is at `path` without following a symlink: None if nothing is."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return None
    except OSError as e:
        raise environment_error(e, "checking the output") from None
    for test, kind in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a folder"), (stat.S_ISREG, "a file"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device")):
        if test(mode):
            return kind
    return "a special file"


def _check_parent(path: Path, flag: str, missing_ok: bool) -> None:
    """`path`'s folder must exist (or, with `missing_ok`, its nearest existing ancestor, where
    the folders will be made) and be a writable folder."""
    parent = path.parent
    while missing_ok and _kind(parent) is None and parent != parent.parent:
        parent = parent.parent
    if _kind(parent) is None:
        raise Onnx2rsError(f"{flag} {path}: the folder {parent} does not exist; create it first")
    if not parent.is_dir():
        raise Onnx2rsError(f"{flag} {path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise Onnx2rsError(f"{flag} {path}: the folder {parent} is not writable; write elsewhere")


def check_folder(out: Path, force: bool, flag: str = "--out") -> None:
    """Refuse `out` as a folder to (re)write, before any work: see the module docstring. Its
    missing parent folders are made when the crate is written (`staged_folder`)."""
    kind = _kind(out)
    if kind == "a folder" and not force:
        raise Onnx2rsError(f"{out} already exists: pass --force to replace it")
    if kind not in (None, "a folder"):
        hint = {"a file": "remove it or choose another path",
                "a symbolic link": "give the folder it points to, or another path"}.get(kind, "choose another path")
        raise Onnx2rsError(f"{flag} {out}: it is {kind}, not a folder; {hint}")
    _check_parent(out, flag, missing_ok=True)


def check_file(out: Path, force: bool, flag: str) -> None:
    """Refuse `out` as a file to (re)write, before any work; its folder must exist."""
    kind = _kind(out)
    if kind == "a file" and not force:
        raise Onnx2rsError(f"{flag} {out}: it already exists; pass --force to replace it")
    if kind not in (None, "a file"):
        raise Onnx2rsError(f"{flag} {out}: it is {kind}, not a file; choose another path")
    _check_parent(out, flag, missing_ok=False)


def _sibling(out: Path, tag: str = "") -> Path:
    """A fresh hidden name beside `out`, nothing created yet. Naming it before the `try` that
    creates it means a signal can never land between the creation and the cleanup owning it,
    as it can with mkdtemp (the test that sends one as soon as the folder appears found that)."""
    return out.parent / f".{out.name}.{tag}{secrets.token_hex(8)}"


@contextlib.contextmanager
def staged_folder(out: Path, force: bool) -> Iterator[Path]:
    """A fresh hidden folder beside `out` to build into. A normal exit renames it onto `out`
    (`publish_folder`); an exception, Ctrl-C or SIGTERM deletes it. Missing parent folders
    of `out` are made first."""
    staging = _sibling(out)
    try:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            staging.mkdir()  # the umask applies, as for any folder the user makes
        except OSError as e:
            raise environment_error(e, "creating the output") from None
        yield staging
        publish_folder(staging, out, force)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def publish_folder(staging: Path, out: Path, force: bool) -> None:
    """Rename the complete `staging` onto `out` (see the module docstring). On an error the
    caller still owns `staging` and deletes it."""
    while True:
        try:
            staging.rename(out)  # atomic; fails if `out` is a non-empty folder
            return
        except OSError as e:
            if e.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                raise environment_error(e, "writing the output") from None
        if not force or _kind(out) != "a folder":
            raise Onnx2rsError(f"{out} appeared while this build ran (another build into the same folder?); "
                               "it was left as it is: pass --force to replace it")
        aside = _sibling(out, "old.")
        try:
            aside.mkdir(mode=0o700)
            out.rename(aside / "old")
        except FileNotFoundError:
            pass  # another build moved it first: try again
        finally:
            shutil.rmtree(aside, ignore_errors=True)


def write_file(out: Path, data: bytes | str, flag: str) -> None:
    """Write `data` to `out` through a temporary file in the same folder and one rename."""
    tmp = _sibling(out)
    try:
        # O_EXCL: never write through a file or link that someone else put there; the umask applies.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, out)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise environment_error(e, f"{flag} {out}") from None
        raise
