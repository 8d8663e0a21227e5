"""The data between a graded kernel and the judge: the inputs sent in, what came out sent back.

``nst grade``'s judge never runs a submission's code and never believes its kernel: the kernel
answers in JSON, and every answer is read back here strictly (``returned``, ``array``): known kinds
only, a dtype from a short list, a shape whose size matches the numbers sent, at most
``MAX_ELEMENTS`` of them. Anything else is a ``WireError``, which scores 0.

Going in (``pack`` in the judge, ``unpack`` in the kernel): NumPy arrays and tensors become
``{"tensor": {dtype, shape, data}}`` and the kernel makes tensors of them again; tuples, lists and
dicts keep their form (``{"tuple": [...]}``, ``{"dict": [[key, value], ...]}``); numbers, strings
and None stay as they are.

Coming back (``describe`` in the kernel, ``returned`` in the judge): what a function returned, as

- ``{"kind": "none"}``
- ``{"kind": "tensor", "dtype", "shape", "data"}``  (data: the values as float64 bytes, base64; none
  for strings or complex numbers)
- ``{"kind": "numpy", "type", "dtype", "shape"}``   (a NumPy array or NumPy number)
- ``{"kind": "python", "type": "float" | "int" | "bool", "value": its repr}``
- ``{"kind": "other", "type": its class name}``
"""

import base64
import math
import re
from dataclasses import dataclass

import numpy as np

MAX_ELEMENTS = 1 << 22  # 4 Mi numbers in one array: a 1024x1024 image four times over
DTYPES = {  # what a tensor's or an array's dtype may be called in an answer
    *("float16", "bfloat16", "float32", "float64", "half", "double", "complex64", "complex128"),
    *("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool", "string", "object"),
}
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,79}$")  # a class name as a message may show it


class WireError(ValueError):
    """An answer that is not what the protocol allows."""


# --- arrays -------------------------------------------------------------------------------


def encode(values, dtype=None):
    """A NumPy array (or anything np.asarray takes) as {"dtype", "shape", "data"}: float64 bytes, base64."""
    values = np.asarray(values)
    data = np.ascontiguousarray(values, dtype="<f8").tobytes()
    return {"dtype": dtype or str(values.dtype), "shape": list(values.shape), "data": base64.b64encode(data).decode()}


def shape_of(shape):
    """A shape from an answer as a tuple of ints (None: unknown rank); WireError if it is not one."""
    if shape is None:
        return None
    if not isinstance(shape, list) or len(shape) > 8 or not all(type(n) is int and 0 <= n for n in shape):
        raise WireError(f"not a shape: {str(shape)[:60]}")
    if math.prod(shape) > MAX_ELEMENTS:
        raise WireError(f"shape {tuple(shape)} holds more than {MAX_ELEMENTS} numbers")
    return tuple(shape)


def dtype_of(dtype):
    if dtype not in DTYPES:
        raise WireError(f"not a dtype: {str(dtype)[:40]}")
    return dtype


def array(encoded):
    """An array sent as ``encode`` makes it, read strictly: float64 of its shape; WireError otherwise."""
    if not isinstance(encoded, dict) or not isinstance(encoded.get("data"), str):
        raise WireError("an array without its numbers")
    dtype_of(encoded.get("dtype"))
    shape = shape_of(encoded.get("shape"))
    if shape is None:
        raise WireError("an array of unknown shape")
    if len(encoded["data"]) > 12 * MAX_ELEMENTS:  # base64 of 8 bytes a number, with room to spare
        raise WireError("too many numbers")
    try:
        raw = base64.b64decode(encoded["data"], validate=True)
    except ValueError:
        raise WireError("numbers that are not base64") from None
    if len(raw) != 8 * math.prod(shape):
        raise WireError(f"{len(raw) // 8} numbers for shape {shape}")
    return np.frombuffer(raw, dtype="<f8").reshape(shape)


# --- inputs: the judge packs, the kernel unpacks --------------------------------------------


def pack(value):
    """A (nested) argument as JSON-safe data: arrays and tensors as tensors, containers kept."""
    if isinstance(value, tuple):
        return {"tuple": [pack(v) for v in value]}
    if isinstance(value, list):
        return [pack(v) for v in value]
    if isinstance(value, dict):
        return {"dict": [[key, pack(v)] for key, v in value.items()]}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.ndarray | np.generic):
        return {"tensor": encode(value, "float32")}  # a case's arrays reach the function as float32 tensors
    if hasattr(value, "numpy") and hasattr(value, "dtype"):  # a tensor the judge made: keep its dtype
        return {"tensor": encode(value.numpy(), value.dtype.name)}
    raise TypeError(f"cannot send a {type(value).__name__} to a kernel")


def unpack(data, make_tensor):
    """The argument ``pack`` sent; ``make_tensor(array, dtype)`` makes each tensor of it."""
    if isinstance(data, list):
        return [unpack(v, make_tensor) for v in data]
    if isinstance(data, dict):
        if "tuple" in data:
            return tuple(unpack(v, make_tensor) for v in data["tuple"])
        if "dict" in data:
            return {key: unpack(v, make_tensor) for key, v in data["dict"]}
        return make_tensor(array(data["tensor"]), data["tensor"]["dtype"])
    return data


def at(args, path):
    """The element of a nested argument a path of indices and keys leads to: at((a, {"x": b}), [1, "x"]) is b."""
    for step in path:
        args = args[step]
    return args


# --- what came back: the kernel describes, the judge reads ---------------------------------


def describe(value):
    """What a graded function returned, as data (in the kernel: ``value`` may be anything at all)."""
    import tensorflow as tf

    if value is None:
        return {"kind": "none"}
    if isinstance(value, np.ndarray | np.generic):
        shape = list(np.shape(value))
        return {"kind": "numpy", "type": type(value).__name__, "dtype": str(value.dtype), "shape": shape}
    if isinstance(value, bool | int | float):
        return {"kind": "python", "type": type(value).__name__, "value": repr(value)}
    if tf.is_tensor(value):
        tensor = tf.convert_to_tensor(value)
        answer = {"kind": "tensor", "dtype": tensor.dtype.name}
        answer["shape"] = None if tensor.shape.rank is None else [int(n) for n in tensor.shape]
        if tensor.dtype.is_floating or tensor.dtype.is_integer or tensor.dtype.is_bool:
            answer["data"] = encode(tensor.numpy())["data"]
        return answer
    return {"kind": "other", "type": type(value).__name__}


@dataclass(frozen=True)
class Returned:
    """What a graded function returned, as the judge read it from its kernel's answer.

    ``kind`` is "none", "tensor", "numpy", "python" or "other"; ``values`` a tensor's numbers
    (float64, of its shape) when they were sent; ``value`` a Python number.
    """

    kind: str
    type: str = ""
    dtype: str = ""
    shape: tuple | None = None
    values: np.ndarray | None = None
    value: float | int | bool | None = None

    @property
    def rank(self):
        return None if self.shape is None else len(self.shape)

    @property
    def floating(self):
        return self.dtype in ("float16", "bfloat16", "float32", "float64", "half", "double")


def type_name(name):
    if not isinstance(name, str) or not NAME.match(name):
        raise WireError("a class name that is not one")
    return name


def returned(answer):
    """The Returned an answer describes; WireError for anything ``describe`` would not have sent."""
    if not isinstance(answer, dict):
        raise WireError("an answer that is not an object")
    kind = answer.get("kind")
    if kind == "none":
        return Returned("none")
    if kind == "other":
        return Returned("other", type=type_name(answer.get("type")))
    if kind == "python":
        kinds = {"bool": lambda text: {"True": True, "False": False}[text], "int": int, "float": float}
        name, text = answer.get("type"), answer.get("value")
        if name not in kinds or not isinstance(text, str) or len(text) > 400:
            raise WireError("a Python number that is not one")
        try:
            return Returned("python", type=name, value=kinds[name](text))
        except (KeyError, ValueError):
            raise WireError("a Python number that is not one") from None
    if kind == "numpy":
        return Returned(
            "numpy", type_name(answer.get("type")), dtype_of(answer.get("dtype")), shape_of(answer.get("shape"))
        )
    if kind == "tensor":
        dtype, shape = dtype_of(answer.get("dtype")), shape_of(answer.get("shape"))
        values = None
        if "data" not in answer and dtype not in ("string", "complex64", "complex128", "object"):
            raise WireError(f"a {dtype} tensor without its numbers")
        if "data" in answer:
            if shape is None:
                raise WireError("numbers of a tensor of unknown shape")
            values = array({"dtype": dtype, "shape": list(shape), "data": answer["data"]})
        return Returned("tensor", "Tensor", dtype, shape, values)
    raise WireError(f"an answer of unknown kind {str(kind)[:40]!r}")


def text(value, limit=300):
    """Text from a kernel (an error's message) as one printable line of at most ``limit`` characters."""
    value = " ".join(str(value).split())
    value = "".join(c if c.isprintable() else "?" for c in value)
    return value if len(value) <= limit else value[: limit - 3] + "..."
