"""dlib's face descriptor network, read from dlib's own weight file and run by onnxruntime.

Why not dlib's ``compute_face_descriptor``: it keeps the GIL for its whole run (measured: a
Python thread beside it makes no progress) and dlib-bin is built without BLAS, so one
150x150 chip costs ~85 ms of one core and stalls every other thread of the process. The
identity scan embeds in a worker thread beside detection, so that stall serialised the scan.
The same network run by onnxruntime gives the same descriptors (within 1e-6 on real faces,
tests/models/face/test_dlib_descriptor.py), in ~5 ms, with the GIL released.

The network is the one of dlib's ``dnn_face_recognition_ex.cpp`` (ResNet-29, 150x150 RGB ->
128-D): a 7x7/2 convolution, a 3x3/2 max pool, residual blocks of 32, 64, 128, 256 and 256
filters (each block two 3x3 convolutions with a per-channel affine, the first of a level
with stride 2 and an average-pooled shortcut), a global average pool and a 128x256 matrix.
Two dlib conventions matter for the numbers: a stride-2 layer has no padding, and a
residual sum of unequal tensors is taken at the larger size with the smaller zero-padded
(so the shortcut needs no projection and the last level is 2x2, not 1x1).

The file is dlib's serialisation (``dlib/serialize.h``): integers as a length byte (its high
bit the sign) and little-endian bytes, floats as an integer mantissa and exponent, tensors
as four dimensions and raw float32 data. Layers appear from the input outwards, each
followed by its wrapper's state (three flag characters and three empty tensors); the reader
checks every field it skips, so another network or a truncated file is refused, never run.

The graph is built once (with the ``onnx`` package, ~0.8 s to import) and kept next to the
studio's models as a derived file whose SHA-256 is pinned here like a weight's, so a
later process loads it in ~0.1 s, and a changed file is rebuilt rather than run.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from likeness.errors import BadInput

CHIP_SIZE_PX = 150
DESCRIPTOR_DIM = 128
GRAPH_VERSION = 1  # bump when the graph built from the same weights changes
# The graph built from dlib_face_recognition_resnet_model_v1.dat (its SHA-256 pinned in
# dlib_engine) by this module, serialised by onnx 1.23: tests rebuild it and compare.
DERIVED_NAME = f"dlib_face_recognition_resnet_model_v1.graph{GRAPH_VERSION}.onnx"
DERIVED_SHA256 = "d01b63ac3d25969e6363b91d9fad36db7b58cc299b2f711486cfb3935155ac77"

_INPUT_LAYER = "input_rgb_image_sized"
_DETAIL_NAMES = ("con_4", "affine_", "relu_", "max_pool_2", "avg_pool_2", "add_prev_", "fc_2")


class _Reader:
    """dlib's serialisation, one field at a time (see the module docstring)."""

    def __init__(self, data: bytes, *, what: str) -> None:
        self.data, self.at, self.what = data, 0, what

    def fail(self, message: str) -> BadInput:
        return BadInput(f"{self.what} is not dlib's face descriptor network: {message} "
                        f"(at byte {self.at})")

    def integer(self) -> int:
        if self.at >= len(self.data):
            raise self.fail("the file ends early")
        head = self.data[self.at]
        size = head & 0x0F
        if size > 8 or self.at + 1 + size > len(self.data):
            raise self.fail("a malformed integer")
        value = int.from_bytes(self.data[self.at + 1:self.at + 1 + size], "little")
        self.at += 1 + size
        return -value if head & 0x80 else value

    def number(self) -> float:
        mantissa, exponent = self.integer(), self.integer()
        return float(mantissa) * 2.0 ** exponent

    def text(self) -> str:
        size = self.integer()
        raw = self.data[self.at:self.at + size]
        if size < 0 or len(raw) != size:
            raise self.fail("a malformed name")
        self.at += size
        return raw.decode("ascii", errors="replace")

    def expect(self, *names: str) -> str:
        name = self.text()
        if name not in names:
            raise self.fail(f"found {name!r} where {' or '.join(names)} belongs")
        return name

    def peek_text(self, name: str) -> bool:
        encoded = name.encode("ascii")
        return self.data[self.at:self.at + 2 + len(encoded)] == bytes((1, len(encoded))) + encoded

    def tensor(self) -> np.ndarray:
        if self.integer() != 2:
            raise self.fail("a tensor of an unknown version")
        dims = [self.integer() for _ in range(4)]
        count = int(np.prod(dims))
        end = self.at + 4 * count
        if min(dims) < 0 or end > len(self.data):
            raise self.fail("a tensor larger than the file")
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.at)
        self.at = end
        return values.astype(np.float32).reshape(dims)

    def alias(self) -> tuple[int, int, int, int]:
        if self.integer() != 1:
            raise self.fail("a tensor view of an unknown version")
        n, k, rows, cols = (self.integer() for _ in range(4))
        return n, k, rows, cols

    def wrapper_state(self, *, first: bool) -> None:
        """A layer wrapper's state: three flag characters, three tensors left empty in a
        trained network (and, around the layer on the input, its sample expansion 1)."""
        flags = self.data[self.at:self.at + 3]
        if len(flags) != 3 or any(ch not in b"01" for ch in flags):
            raise self.fail("a layer without its wrapper's flags")
        self.at += 3
        for _ in range(3):
            if self.tensor().size:
                raise self.fail("a layer holding training state")
        if first and self.integer() != 1:
            raise self.fail("an input layer expanding samples")


@dataclass(frozen=True)
class Conv:
    weights: np.ndarray  # (filters, channels, rows, cols)
    bias: np.ndarray
    stride: int
    padding: int


@dataclass(frozen=True)
class Affine:
    gamma: np.ndarray
    beta: np.ndarray


@dataclass(frozen=True)
class Pool:
    kind: str  # "max" | "avg"
    size: int  # 0: the whole plane
    stride: int
    padding: int


@dataclass(frozen=True)
class Layer:
    """One layer in the file's order: a kind and, for those with any, its parameters."""

    kind: str  # "conv" | "affine" | "relu" | "pool" | "add" | "fc"
    conv: Conv | None = None
    affine: Affine | None = None
    pool: Pool | None = None
    matrix: np.ndarray | None = None  # fc: (inputs, outputs)


@dataclass(frozen=True)
class DlibNet:
    mean_rgb: tuple[float, float, float]
    layers: tuple[Layer, ...]


def read_net(data: bytes, *, what: str = "the descriptor weights") -> DlibNet:
    """Parse dlib's serialised ``anet_type`` (see the module docstring)."""
    reader = _Reader(data, what=what)
    if reader.integer() != 1:
        raise reader.fail("an unknown network version")
    reader.expect("loss_metric_2")
    reader.number(), reader.number()  # the loss's margin and distance threshold
    wrappers = 0
    while not reader.peek_text(_INPUT_LAYER):
        if reader.integer() not in (1, 2, 3) or wrappers > 1000:
            raise reader.fail("no input layer after the layer wrappers")
        wrappers += 1
    reader.expect(_INPUT_LAYER)
    mean = (reader.number(), reader.number(), reader.number())
    if (reader.integer(), reader.integer()) != (CHIP_SIZE_PX, CHIP_SIZE_PX):
        raise reader.fail(f"an input that is not {CHIP_SIZE_PX}x{CHIP_SIZE_PX}")
    layers: list[Layer] = []
    while reader.at < len(data):
        layers.append(_read_layer(reader, reader.expect(*_DETAIL_NAMES)))
        reader.wrapper_state(first=len(layers) == 1)
    if not layers or layers[-1].kind != "fc":
        raise reader.fail("no 128-D output layer at the end")
    return DlibNet(mean_rgb=mean, layers=tuple(layers))


def _read_layer(reader: _Reader, name: str) -> Layer:
    if name == "con_4":
        params = reader.tensor().reshape(-1)
        filters, rows, cols, stride_y, stride_x, pad_y, pad_x = (reader.integer()
                                                                 for _ in range(7))
        shape = reader.alias()
        reader.alias()  # the biases' view: the params after the weights
        for _ in range(4):  # learning-rate and weight-decay multipliers
            reader.number()
        count = int(np.prod(shape))
        if (shape[0], shape[2], shape[3]) != (filters, rows, cols) or \
                params.size != count + filters or stride_x != stride_y or pad_x != pad_y:
            raise reader.fail("a convolution whose shape does not add up")
        return Layer("conv", conv=Conv(params[:count].reshape(shape), params[count:],
                                       stride=stride_y, padding=pad_y))
    if name == "affine_":
        params = reader.tensor().reshape(-1)
        reader.alias(), reader.alias()
        if reader.integer() != 0 or params.size % 2:
            raise reader.fail("an affine layer that is not per channel")
        half = params.size // 2
        return Layer("affine", affine=Affine(params[:half], params[half:]))
    if name in ("max_pool_2", "avg_pool_2"):
        rows, cols, stride_y, stride_x, pad_y, pad_x = (reader.integer() for _ in range(6))
        if rows != cols or stride_x != stride_y or pad_x != pad_y:
            raise reader.fail("a pooling window that is not square")
        return Layer("pool", pool=Pool("max" if name.startswith("max") else "avg",
                                       size=rows, stride=stride_y, padding=pad_y))
    if name == "fc_2":
        outputs, inputs = reader.integer(), reader.integer()
        params = reader.tensor()
        reader.alias()
        if reader.alias() != (0, 0, 0, 0) or reader.integer() != 1:  # 1: FC_NO_BIAS
            raise reader.fail("an output layer with a bias")
        for _ in range(4):
            reader.number()
        if outputs != DESCRIPTOR_DIM or params.size != inputs * outputs:
            raise reader.fail(f"an output layer that is not {DESCRIPTOR_DIM}-D")
        return Layer("fc", matrix=params.reshape(inputs, outputs))
    return Layer("relu" if name == "relu_" else "add")


class _Graph:
    """The ONNX nodes of a `DlibNet`, with every tensor's static shape (batch first)."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []  # onnx NodeProto / TensorProto (imported lazily)
        self.initializers: list[Any] = []
        self.shapes: dict[str, tuple[int, ...]] = {}

    def constant(self, name: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], name: str, shape: tuple[int, ...],
             **attributes: object) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attributes))
        self.shapes[name] = shape
        return name

    def conv(self, x: str, conv: Conv, affine: Affine, name: str) -> str:
        """A convolution with the following affine folded into its weights and bias."""
        weights = conv.weights * affine.gamma[:, None, None, None]
        bias = conv.bias * affine.gamma + affine.beta
        n, _, rows, cols = self.shapes[x]
        size = conv.weights.shape[2]
        out = (n, weights.shape[0], _out(rows, size, conv.stride, conv.padding),
               _out(cols, size, conv.stride, conv.padding))
        return self.node("Conv", [x, self.constant(f"{name}.w", weights.astype(np.float32)),
                                  self.constant(f"{name}.b", bias.astype(np.float32))],
                         name, out, kernel_shape=[size, size], strides=[conv.stride] * 2,
                         pads=[conv.padding] * 4)

    def relu(self, x: str, name: str) -> str:
        return self.node("Relu", [x], name, self.shapes[x])

    def pool(self, x: str, pool: Pool, name: str) -> str:
        n, k, rows, cols = self.shapes[x]
        out = (n, k, _out(rows, pool.size, pool.stride, pool.padding),
               _out(cols, pool.size, pool.stride, pool.padding))
        return self.node("MaxPool" if pool.kind == "max" else "AveragePool", [x], name, out,
                         kernel_shape=[pool.size] * 2, strides=[pool.stride] * 2,
                         pads=[pool.padding] * 4)

    def add(self, a: str, b: str, name: str) -> str:
        """dlib's sum: at the larger size of each dimension, the smaller zero-padded."""
        size = tuple(max(p, q) for p, q in zip(self.shapes[a], self.shapes[b], strict=True))
        padded = []
        for which, x in (("a", a), ("b", b)):
            grow = [big - have for big, have in zip(size, self.shapes[x], strict=True)]
            if any(grow):
                pads = self.constant(f"{name}.pad{which}", np.array([0] * 4 + grow, np.int64))
                x = self.node("Pad", [x, pads], f"{name}.{which}", size)
            padded.append(x)
        return self.node("Add", padded, name, size)


def _out(length: int, window: int, stride: int, padding: int) -> int:
    """A convolution's or pool's output length, as dlib and ONNX both count it."""
    return (length + 2 * padding - window) // stride + 1


def build_graph(net: DlibNet) -> bytes:
    """The serialised ONNX model of ``net``: input ``chips`` (N, 3, 150, 150), the pixels
    already centred and scaled as dlib does; output ``descriptors`` (N, 128)."""
    import onnx
    from onnx import TensorProto, helper

    graph = _Graph()
    graph.shapes["chips"] = (1, 3, CHIP_SIZE_PX, CHIP_SIZE_PX)
    layers = list(net.layers)
    kinds = "".join({"conv": "c", "affine": "a", "relu": "r", "pool": "p", "add": "+",
                     "fc": "f"}[layer.kind] for layer in layers)
    if not kinds.startswith("carp") or not kinds.endswith("pf"):
        raise BadInput("the descriptor weights do not start with conv, affine, relu, pool "
                       "and end with a global pool and the output matrix")
    x = graph.relu(graph.conv("chips", _conv(layers[0]), _affine(layers[1]), "stem"), "stem.r")
    x = graph.pool(x, _pool(layers[3]), "stem.p")
    at, block = 4, 0
    while kinds.startswith("carca", at):  # a residual block
        name = f"block{block}"
        y = graph.relu(graph.conv(x, _conv(layers[at]), _affine(layers[at + 1]), f"{name}.1"),
                       f"{name}.1r")
        y = graph.conv(y, _conv(layers[at + 3]), _affine(layers[at + 4]), f"{name}.2")
        if kinds.startswith("p+r", at + 5):  # down: the shortcut is average-pooled
            shortcut, at = graph.pool(x, _pool(layers[at + 5]), f"{name}.s"), at + 8
        elif kinds.startswith("+r", at + 5):
            shortcut, at = x, at + 7
        else:
            raise BadInput(f"the descriptor weights hold an unknown block at layer {at}")
        x = graph.relu(graph.add(y, shortcut, f"{name}.sum"), f"{name}.r")
        block += 1
    last = _pool(layers[at])
    if at != len(layers) - 2 or last.size != 0 or block == 0:
        raise BadInput("the descriptor weights do not end with a global pool after the blocks")
    n, k, _, _ = graph.shapes[x]
    x = graph.node("GlobalAveragePool", [x], "pool", (n, k, 1, 1))
    x = graph.node("Flatten", [x], "flat", (n, k, 1, 1))
    matrix = layers[-1].matrix
    assert matrix is not None
    if matrix.shape[0] != k:
        raise BadInput(f"the descriptor's output matrix takes {matrix.shape[0]} inputs, "
                       f"the blocks give {k}")
    graph.node("MatMul", [x, graph.constant("project", matrix.astype(np.float32))],
               "descriptors", (n, DESCRIPTOR_DIM, 1, 1))
    model = helper.make_model(
        helper.make_graph(
            graph.nodes, "dlib_face_recognition_resnet_model_v1",
            [helper.make_tensor_value_info("chips", TensorProto.FLOAT,
                                           ["n", 3, CHIP_SIZE_PX, CHIP_SIZE_PX])],
            [helper.make_tensor_value_info("descriptors", TensorProto.FLOAT,
                                           ["n", DESCRIPTOR_DIM])],
            graph.initializers),
        opset_imports=[helper.make_opsetid("", 17)], producer_name="likeness")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _conv(layer: Layer) -> Conv:
    assert layer.conv is not None
    return layer.conv


def _affine(layer: Layer) -> Affine:
    assert layer.affine is not None
    return layer.affine


def _pool(layer: Layer) -> Pool:
    assert layer.pool is not None
    return layer.pool


class DescriptorNet:
    """The descriptor network in an onnxruntime session. `describe` may be called from
    several threads at once (onnxruntime's sessions allow it); each call runs on its
    caller's thread alone (one intra-op thread), so two threads use two cores."""

    def __init__(self, model: bytes, *, mean_rgb: tuple[float, float, float]) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(model, options,
                                                     providers=["CPUExecutionProvider"])
        self._mean = np.asarray(mean_rgb, dtype=np.float32)

    def describe(self, chips: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """(N, 128) float32 descriptors of N aligned 150x150 RGB uint8 chips."""
        batch = np.asarray(chips)
        if batch.ndim == 3:
            batch = batch[None]
        if batch.shape[1:] != (CHIP_SIZE_PX, CHIP_SIZE_PX, 3) or batch.dtype != np.uint8:
            raise BadInput(f"face chips are {CHIP_SIZE_PX}x{CHIP_SIZE_PX} RGB uint8, "
                           f"got {batch.dtype} {batch.shape}")
        scaled = (batch.astype(np.float32) - self._mean) / np.float32(256.0)  # dlib's input
        planes = np.ascontiguousarray(scaled.transpose(0, 3, 1, 2))
        (out,) = self._session.run(["descriptors"], {"chips": planes})
        return np.asarray(out, dtype=np.float32)


_LOCK = threading.Lock()


def load_descriptor(weights: Path, *, derived_dir: Path | None) -> DescriptorNet:
    """The network of ``weights`` (already verified by the caller), from the pinned derived
    graph in ``derived_dir`` when it is there and intact, else built (and kept there when
    the folder can be written)."""
    data = weights.read_bytes()
    net = read_net(data, what=str(weights))
    kept = derived_dir / DERIVED_NAME if derived_dir is not None else None
    with _LOCK:
        model = _read_pinned(kept) if kept is not None else None
        if model is None:
            model = build_graph(net)
            if kept is not None and _sha256(model) == DERIVED_SHA256:
                _keep(kept, model)
    return DescriptorNet(model, mean_rgb=net.mean_rgb)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_pinned(path: Path) -> bytes | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data if _sha256(data) == DERIVED_SHA256 else None


def _keep(path: Path, model: bytes) -> None:
    """Write the derived graph atomically; a folder that cannot be written costs only the
    next process the rebuild. Temp files a killed process left are removed first (a
    process writing beside this one only loses its own keep)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(f".{path.name}.*"):
            stale.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(model)
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
    except OSError:
        return

