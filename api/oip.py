"""The Open Inference Protocol (KServe v2 / Triton REST), without HTTP: request bodies to numpy arrays and numpy
arrays to response bodies, including Triton's binary tensor data extension (what ``tritonclient`` sends by default).

Protocol text: https://github.com/kserve/open-inference-protocol (``$inference_request``, ``$inference_response``,
``$metadata_model_response``, tensor data types) and Triton's
https://docs.nvidia.com/deeplearning/triton-inference-server/user-guide/docs/protocol/extension_binary_data.html:

* "Tensor data represented as binary data is organized in little-endian byte order, row major, without stride or
  padding between elements." BOOL is one byte per element; BYTES (a 4-byte length before each element) is not
  supported here: fairkg's models take numeric tensors, and a BYTES input is answered with a clear 400.
* Request: the body is a JSON object of ``Inference-Header-Content-Length`` bytes, followed by the raw bytes of each
  input whose ``parameters.binary_data_size`` is set, in the order the inputs appear in the JSON.
* Response: an output is sent as binary when its ``$request_output`` has ``parameters.binary_data: true``, or, when it
  does not say, when the request's ``parameters.binary_data_output`` is true (tritonclient sets that when no outputs
  are named). Binary outputs carry ``parameters.binary_data_size`` and follow the JSON, whose length is sent in the
  ``Inference-Header-Content-Length`` response header.

fairkg's own request parameters (``parameters`` of ``$inference_request``): ``runtime`` (``onnxruntime``,
``torch``, ``tensorrt``) and ``device`` (``cpu``, ``cuda``, ``cuda:N``) choose where the model runs; without them the
fastest runtime and device available here are used. tritonclient passes them with ``infer(..., parameters={...})``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "BINARY_HEADER",
    "DATATYPES",
    "EXTENSIONS",
    "InferRequest",
    "OipRequestError",
    "RequestedOutput",
    "decode_request",
    "encode_response",
    "numpy_dtype",
    "oip_datatype",
    "oip_shape",
    "tensor_metadata",
]

#: the header naming the length of the JSON part of a body with binary tensors (request and response alike)
BINARY_HEADER = "Inference-Header-Content-Length"
#: the protocol extensions this server supports, for ``GET /v2``
EXTENSIONS = ("binary_tensor_data", "parameters")
#: numpy dtype name (as fkg:dtype records it) -> OIP datatype
DATATYPES: dict[str, str] = {
    "bool": "BOOL",
    "uint8": "UINT8",
    "uint16": "UINT16",
    "uint32": "UINT32",
    "uint64": "UINT64",
    "int8": "INT8",
    "int16": "INT16",
    "int32": "INT32",
    "int64": "INT64",
    "float16": "FP16",
    "float32": "FP32",
    "float64": "FP64",
    "bfloat16": "BF16",
}
_NUMPY_OF = {oip: name for name, oip in DATATYPES.items()}
#: the same, keyed by native numpy dtype: ``str(dtype)`` costs several microseconds per call in numpy 2
_DATATYPE_OF_DTYPE: dict[np.dtype[Any], str] = {np.dtype(n): oip for n, oip in DATATYPES.items() if n != "bfloat16"}
#: OIP datatype -> (its dtype on the wire, little-endian; the same in this machine's byte order), once looked up
_WIRE_DTYPES: dict[str, tuple[np.dtype[Any], np.dtype[Any]]] = {}
#: request parameters fairkg reads; the others (Triton's sequence_id, priority, timeout...) are accepted and ignored
RUN_PARAMETERS = ("runtime", "device")


class OipRequestError(ValueError):
    """A request body that does not follow the protocol (answered 400 with the message)."""


@dataclass(frozen=True)
class RequestedOutput:
    """One ``$request_output``: the output's name and whether it should come back as binary (None: not said)."""

    name: str
    binary: bool | None = None


@dataclass(frozen=True)
class InferRequest:
    """A decoded ``$inference_request``."""

    inputs: dict[str, np.ndarray]
    id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    outputs: tuple[RequestedOutput, ...] | None = None

    @property
    def binary_output(self) -> bool:
        """The request-level ``binary_data_output`` parameter."""
        return self.parameters.get("binary_data_output") is True

    @property
    def runtime(self) -> str | None:
        return _text_parameter(self.parameters, "runtime")

    @property
    def device(self) -> str | None:
        return _text_parameter(self.parameters, "device")


def _text_parameter(parameters: Mapping[str, Any], name: str) -> str | None:
    value = parameters.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise OipRequestError(f"the request parameter {name!r} must be a string, got {json.dumps(value)}")
    return value


def oip_datatype(dtype: str | np.dtype[Any]) -> str:
    """The OIP datatype of a numpy dtype (or of a ``fkg:dtype`` name).

    >>> oip_datatype("float32"), oip_datatype(np.dtype("int64")), oip_datatype("bool")
    ('FP32', 'INT64', 'BOOL')
    """
    if not isinstance(dtype, str):
        found = _DATATYPE_OF_DTYPE.get(dtype) if isinstance(dtype, np.dtype) else None
        if found is not None:
            return found
    name = str(np.dtype(dtype)) if not isinstance(dtype, str) else dtype
    try:
        return DATATYPES[name]
    except KeyError:
        raise OipRequestError(f"dtype {name} has no Open Inference Protocol datatype") from None


def numpy_dtype(datatype: str) -> np.dtype[Any]:
    """The numpy dtype of an OIP datatype (little-endian, as the binary extension sends it).

    Raises:
        OipRequestError: BYTES, or a datatype the protocol does not define.

    >>> numpy_dtype("FP32") == np.float32, numpy_dtype("BOOL") == np.bool_
    (True, True)
    """
    return _wire_dtypes(datatype)[0]


def _wire_dtypes(datatype: str) -> tuple[np.dtype[Any], np.dtype[Any]]:
    """(dtype on the wire, the same in native byte order) of an OIP datatype; see :func:`numpy_dtype`."""
    found = _WIRE_DTYPES.get(datatype)
    if found is None:
        wire = _lookup_dtype(datatype)
        found = _WIRE_DTYPES[datatype] = (wire, wire.newbyteorder("="))
    return found


def _lookup_dtype(datatype: str) -> np.dtype[Any]:
    if datatype == "BYTES":
        raise OipRequestError("BYTES tensors are not supported: fairkg's models take numeric tensors (BOOL, UINT8..64, "
                              "INT8..64, FP16, FP32, FP64, BF16)")
    name = _NUMPY_OF.get(datatype)
    if name is None:
        raise OipRequestError(f"unknown datatype {datatype!r}: expected one of {', '.join(_NUMPY_OF)}")
    if name == "bfloat16":
        try:
            import ml_dtypes
        except ImportError:
            raise OipRequestError("BF16 tensors need the ml_dtypes package on the server") from None
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name).newbyteorder("<")


def oip_shape(shape: Sequence[int | str]) -> list[int]:
    """A ``fkg:shape`` as OIP writes it: named (symbolic) dimensions become -1.

    >>> oip_shape(("batch", 1, 8, 8))
    [-1, 1, 8, 8]
    """
    return [d if isinstance(d, int) else -1 for d in shape]


def tensor_metadata(name: str, dtype: str, shape: Sequence[int | str]) -> dict[str, Any]:
    """One ``$metadata_tensor``: ``{"name", "datatype", "shape"}``.

    >>> tensor_metadata("image", "float32", ("batch", 1, 8, 8))
    {'name': 'image', 'datatype': 'FP32', 'shape': [-1, 1, 8, 8]}
    """
    return {"name": name, "datatype": oip_datatype(dtype), "shape": oip_shape(shape)}


def _header(body: bytes, header_length: int | None) -> tuple[dict[str, Any], bytes]:
    if header_length is None:
        json_part, rest = body, b""
    else:
        if header_length < 0 or header_length > len(body):
            raise OipRequestError(f"{BINARY_HEADER} is {header_length}, but the body has {len(body)} bytes")
        json_part, rest = body[:header_length], body[header_length:]
    try:
        document = json.loads(json_part)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        hint = "" if header_length is not None else (
            f" (a body with binary tensors needs the {BINARY_HEADER} header giving the JSON part's length)")
        raise OipRequestError(f"the request body is not a JSON inference request: {exc}{hint}") from exc
    if not isinstance(document, dict):
        raise OipRequestError("the inference request must be a JSON object with an 'inputs' array")
    return document, rest


def _shape(value: object, name: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                              for d in value):
        raise OipRequestError(f"input {name}: 'shape' must be a list of non-negative integers, got {json.dumps(value)}")
    return tuple(value)


def _parameters(value: object, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise OipRequestError(f"{where}: 'parameters' must be a JSON object")
    return value


def _input_array(tensor: object, index: int, binary: bytes, offset: int) -> tuple[str, np.ndarray, int]:
    if not isinstance(tensor, dict):
        raise OipRequestError(f"inputs[{index}] must be a JSON object with name, shape, datatype and data")
    name = tensor.get("name")
    if not isinstance(name, str) or not name:
        raise OipRequestError(f"inputs[{index}] has no 'name'")
    datatype = tensor.get("datatype")
    if not isinstance(datatype, str):
        raise OipRequestError(f"input {name}: 'datatype' is missing (e.g. \"FP32\")")
    shape = _shape(tensor.get("shape"), name)
    dtype, native = _wire_dtypes(datatype)
    count = math.prod(shape)
    size = _parameters(tensor.get("parameters"), f"input {name}").get("binary_data_size")
    if size is not None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise OipRequestError(f"input {name}: binary_data_size must be a non-negative integer")
        if "data" in tensor:
            raise OipRequestError(f"input {name} has both 'data' and binary_data_size: send one of them")
        if offset + size > len(binary):
            raise OipRequestError(f"input {name}: binary_data_size is {size} bytes, but only {len(binary) - offset} "
                                  "bytes of binary data follow the JSON header")
        if size != count * dtype.itemsize:
            raise OipRequestError(f"input {name}: binary_data_size is {size} bytes, but shape {list(shape)} of "
                                  f"{datatype} needs {count * dtype.itemsize} ({count} x {dtype.itemsize})")
        # a copy: frombuffer's view of the body is read-only, which runtimes (torch.from_numpy) warn about
        array = np.frombuffer(binary, dtype=dtype, count=count, offset=offset).reshape(shape)
        return name, array.astype(native, copy=True), offset + size
    if "data" not in tensor:
        raise OipRequestError(f"input {name} has no 'data' (and no binary_data_size parameter)")
    try:
        flat = np.asarray(tensor["data"], dtype=dtype).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise OipRequestError(f"input {name}: its data are not {datatype} values: {exc}") from exc
    if flat.size != count:
        raise OipRequestError(f"input {name}: shape {list(shape)} holds {count} elements, but 'data' has {flat.size}")
    return name, flat.reshape(shape).astype(native, copy=False), offset


def decode_request(body: bytes, *, header_length: int | None = None) -> InferRequest:
    """Decode an ``$inference_request``: JSON, or JSON followed by binary tensors (``header_length`` is the value of
    the ``Inference-Header-Content-Length`` header).

    Raises:
        OipRequestError: the body does not follow the protocol; the message says what is wrong.

    >>> request = decode_request(b'{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]}')
    >>> request.inputs["x"]
    array([[1., 2.]], dtype=float32)
    """
    document, binary = _header(body, header_length)
    inputs = document.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise OipRequestError("the inference request has no 'inputs' array")
    arrays: dict[str, np.ndarray] = {}
    offset = 0
    for index, tensor in enumerate(inputs):
        name, array, offset = _input_array(tensor, index, binary, offset)
        if name in arrays:
            raise OipRequestError(f"input {name} is given twice")
        arrays[name] = array
    if offset != len(binary):
        raise OipRequestError(f"{len(binary) - offset} bytes of binary data follow the JSON header that no input's "
                              "binary_data_size accounts for")
    outputs = None
    if "outputs" in document:
        requested = document["outputs"]
        if not isinstance(requested, list):
            raise OipRequestError("'outputs' must be an array of {\"name\": ...} objects")
        outputs = tuple(_requested_output(item, i) for i, item in enumerate(requested))
    request_id = document.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise OipRequestError("'id' must be a string")
    parameters = _parameters(document.get("parameters"), "the request")
    for name in RUN_PARAMETERS:  # checked now, before any model is loaded
        _text_parameter(parameters, name)
    return InferRequest(arrays, request_id, parameters, outputs)


def _requested_output(item: object, index: int) -> RequestedOutput:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise OipRequestError(f"outputs[{index}] must be an object with a 'name'")
    binary = _parameters(item.get("parameters"), f"output {item['name']}").get("binary_data")
    if binary is not None and not isinstance(binary, bool):
        raise OipRequestError(f"output {item['name']}: binary_data must be true or false")
    if "classification" in _parameters(item.get("parameters"), "output"):
        raise OipRequestError("the classification extension is not supported: request the raw output")
    return RequestedOutput(item["name"], binary)


def _json_data(array: np.ndarray) -> list[Any]:
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        # JSON has no NaN or infinity; Python's json would write invalid JSON, so refuse and point to binary
        raise OipRequestError("an output holds NaN or infinity, which JSON cannot carry: request it as binary data "
                              "(parameters.binary_data: true)")
    return array.reshape(-1).tolist()


def encode_response(outputs: Mapping[str, np.ndarray], *, model_name: str, model_version: str | None = None,
                    request: InferRequest, parameters: Mapping[str, Any] | None = None) -> tuple[bytes, int | None]:
    """The ``$inference_response`` body for ``outputs`` (in the model's output order), and the length of its JSON
    part when binary tensors follow it (the ``Inference-Header-Content-Length`` to send), else None.

    Only the outputs the request names are returned (all of them when it names none).

    Raises:
        OipRequestError: the request names an output the model does not have.

    >>> req = decode_request(b'{"inputs": [{"name": "x", "shape": [1], "datatype": "INT64", "data": [3]}]}')
    >>> encode_response({"y": np.array([[0.5]], np.float32)}, model_name="m", request=req)[0]
    b'{"model_name":"m","outputs":[{"name":"y","datatype":"FP32","shape":[1,1],"data":[0.5]}]}'
    """
    if request.outputs is None:
        wanted = [RequestedOutput(name) for name in outputs]
    else:
        unknown = [o.name for o in request.outputs if o.name not in outputs]
        if unknown:
            raise OipRequestError(f"the model has no output {', '.join(unknown)} (its outputs: {', '.join(outputs)})")
        wanted = list(request.outputs)
    tensors: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for item in wanted:
        array = np.asarray(outputs[item.name])
        tensor: dict[str, Any] = {"name": item.name, "datatype": oip_datatype(array.dtype), "shape": list(array.shape)}
        if item.binary if item.binary is not None else request.binary_output:
            raw = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
            tensor["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            tensor["data"] = _json_data(array)
        tensors.append(tensor)
    document: dict[str, Any] = {"model_name": model_name}
    if model_version is not None:
        document["model_version"] = model_version
    if request.id is not None:
        document["id"] = request.id
    if parameters:
        document["parameters"] = dict(parameters)
    document["outputs"] = tensors
    head = json.dumps(document, separators=(",", ":")).encode()
    if not chunks:
        return head, None
    return b"".join([head, *chunks]), len(head)
