"""Tools built on the compiler: `verify` (our outputs against ONNX Runtime's), `bench`
(latency and memory beside ONNX Runtime and tract), `analyze` and its HTML report,
`conformance` (the ONNX backend suite) and `opsdoc` (docs/ops.md). They import the driver
(`build`) and the stages; no stage imports them.
"""
