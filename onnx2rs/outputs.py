"""Where results go: output paths checked before any work starts, and written so that a
failed, interrupted or concurrent run never leaves a half-written or foreign result.

- `check_folder`/`check_file` refuse, up front, an output that exists without `--force`, a
  symlink, a FIFO, socket or device (opening one can hang), and a file whose folder is missing.
- `publish_folder` moves a finished staging folder into place with one rename. Without
  `force` a folder that appeared meanwhile (another build) wins and this one is refused; with
  `force` the last build wins, the one before moved aside and deleted, never half-replaced.
- `write_file` writes next to the target and renames, so readers see the old file or the new.
- `environment_error` turns an OSError from the disk (full, read-only, no permission) into the
  one-line error users get, naming the path.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
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
    missing parent folders are made when the crate is written (`staging_folder`)."""
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


def _default_mode(base: int) -> int:
    """`base` (0o777 for folders, 0o666 for files) under the process's umask, as `open` gives;
    mkdtemp and mkstemp give 0o700 and 0o600."""
    umask = os.umask(0)
    os.umask(umask)
    return base & ~umask


def staging_folder(out: Path) -> Path:
    """A fresh hidden folder beside `out` to build into, renamed onto `out` when complete."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        staging.chmod(_default_mode(0o777))
        return staging
    except OSError as e:
        raise environment_error(e, "creating the output") from None


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
        aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
        try:
            out.rename(aside / "old")
        except FileNotFoundError:
            pass  # another build moved it first: try again
        finally:
            shutil.rmtree(aside, ignore_errors=True)


def write_file(out: Path, data: bytes | str, flag: str) -> None:
    """Write `data` to `out` through a temporary file in the same folder and one rename."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    except OSError as e:
        raise environment_error(e, f"{flag} {out}") from None
    try:
        os.fchmod(fd, _default_mode(0o666))
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, out)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise environment_error(e, f"{flag} {out}") from None
        raise
