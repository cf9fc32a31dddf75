"""reference.compare, which `verify` reports: relative error over the reference's scale."""

from __future__ import annotations

import numpy as np

from onnx2rs.reference import compare


def test_zeros_in_the_reference_do_not_make_the_relative_error_infinite() -> None:
    reference = np.array([0.0, 2.0, -4.0, 0.0], np.float32)
    ours = reference + np.array([1e-7, 0.0, 4e-6, 0.0], np.float32)
    m = compare("y", ours, reference, atol=1e-4, rtol=1e-4)
    worst = float(np.max(np.abs(ours.astype(np.float64) - reference)))
    assert m.ok and m.max_abs == worst
    assert m.max_rel == worst / float(np.max(np.abs(reference)))


def test_an_all_zero_reference_and_mismatches() -> None:
    zeros = np.zeros(3, np.float32)
    assert compare("y", zeros, zeros).max_rel == 0.0
    off = compare("y", zeros + 1, zeros)
    assert not off.ok and off.max_abs == 1.0 and off.max_rel == float("inf")
    assert not compare("y", zeros, np.zeros(4, np.float32)).ok
    nan = np.array([np.nan, 1.0], np.float32)
    assert compare("y", nan, nan).ok
