"""What the command line shows, and how: results on stdout; errors, warnings and progress on
stderr. No text is ever read as rich markup: model names, paths and messages are printed as
they are (`[red]x[/red].onnx` stays that), and styles are applied to our own words only.

- `error` prints the one `error: ...` line every failure gets.
- `Progress` shows the steps of `progress.py`: a spinner with the step and its elapsed time on
  a terminal, and one plain line per finished step in a pipe (`[1.2 s] writing the crate`).
- `configure` applies `-q`/`-v`: quiet hides progress and notes; verbose shows our info lines
  and the frameworks' own logs (TensorFlow, oneDNN, absl), which are silenced otherwise.
"""

from __future__ import annotations

import logging
import os
import time
import warnings

from rich.console import Console
from rich.status import Status
from rich.text import Text

from . import progress

out = Console(markup=False, highlight=False, emoji=False)
err = Console(stderr=True, markup=False, highlight=False, emoji=False)
_quiet = False


def error(message: str) -> None:
    """Print `message` as the one `error:` line of a failure."""
    err.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)


def say(message: str | Text) -> None:
    """Print a result line on stdout, never wrapped mid-sentence (a pipe is 80 columns)."""
    out.print(message, soft_wrap=True)


def note(message: str) -> None:
    """Print a remark on stderr, unless `-q`."""
    if not _quiet:
        err.print(message, soft_wrap=True, style="dim")


def configure(quiet: bool, verbose: bool) -> None:
    """Apply -q/-v: the log level, the frameworks' logs, and whether progress is shown."""
    global _quiet
    _quiet = quiet
    level = logging.ERROR if quiet else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(format="%(levelname)s: %(message)s", force=True)
    logging.getLogger().setLevel(level)
    # Read by TensorFlow (and its oneDNN notice) when it is first imported; a value the user
    # set stands.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if verbose else "3")
    if not verbose:
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"(tensorflow|keras|torch|tf2onnx|onnxscript)")
        for name in ("tensorflow", "tf2onnx", "absl", "h5py", "torch", "onnxscript"):
            logging.getLogger(name).setLevel(logging.ERROR)
    progress.set_listener(None if quiet else Progress())


class Progress:
    """Shows progress.Events on stderr: see the module docstring."""

    # In a pipe, a count inside a long step is printed at most this often (seconds).
    QUIET_PERIOD = 10.0

    def __init__(self) -> None:
        self.live = err.is_terminal
        self.status: Status | None = None
        self.last_line = time.monotonic()

    def __call__(self, event: progress.Event) -> None:
        if event.depth > 0 and event.done is None:
            return  # a step inside another is shown as part of it
        if event.done is not None:
            count = f"{event.label}: {event.done}/{event.total}" if event.total else f"{event.label}: {event.done}"
            if self.status is not None:
                self.status.update(Text(count))
            elif not self.live and time.monotonic() - self.last_line > self.QUIET_PERIOD:
                err.print(count, soft_wrap=True)
                self.last_line = time.monotonic()
            return
        if event.elapsed is None:
            self.last_line = time.monotonic()
            if self.live:
                self.status = err.status(Text(event.label), spinner="dots")
                self.status.start()
            return
        if self.status is not None:
            self.status.stop()
            self.status = None
        if not event.failed:
            err.print(Text.assemble((f"[{event.elapsed:.1f} s]", "dim"), " ", event.label), soft_wrap=True)
