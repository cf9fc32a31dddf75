"""`python -m onnx2rs`."""

from .cli import main

main()
