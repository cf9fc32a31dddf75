"""The front end: a model file (ONNX, Keras/TensorFlow or PyTorch) becomes the IR.

`load.load` reads and checks the model (`frameworks/` converts Keras and PyTorch files to
ONNX first), fixes input shapes, simplifies it with onnx-simplifier, rewrites run-time
control flow (`branches` for If, `unroll` and `loops` for Loop and Scan) and lifts the
result into an `ir.Graph`. Nothing here imports the passes, the plan or code generation.
"""
