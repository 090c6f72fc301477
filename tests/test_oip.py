"""The Open Inference Protocol codec (fairkg.api.oip), without HTTP: JSON and binary tensors in both directions, and
compatibility with what tritonclient itself writes and reads."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tritonclient.http import InferInput, InferRequestedOutput, InferResult
from tritonclient.http._utils import _get_inference_request

from fairkg.api.oip import (
    InferRequest,
    OipRequestError,
    decode_request,
    encode_response,
    numpy_dtype,
    oip_datatype,
    tensor_metadata,
)


def _binary_body(header: dict, *chunks: bytes) -> tuple[bytes, int]:
    head = json.dumps(header).encode()
    return b"".join([head, *chunks]), len(head)


def test_datatypes_map_both_ways() -> None:
    for name in ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"):
        assert numpy_dtype(oip_datatype(name)) == np.dtype(name)
    assert oip_datatype("float32") == "FP32"
    assert oip_datatype(np.dtype("int64")) == "INT64"


def test_metadata_writes_symbolic_dimensions_as_minus_one() -> None:
    assert tensor_metadata("tracks", "float32", ("batch", 30, 60)) == {
        "name": "tracks", "datatype": "FP32", "shape": [-1, 30, 60]}


def test_json_request_with_flat_or_nested_data() -> None:
    flat = decode_request(b'{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "INT64", "data": [1, 2, 3, 4]}]}')
    nested = decode_request(b'{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "INT64", '
                            b'"data": [[1, 2], [3, 4]]}], "id": "r1", "parameters": {"runtime": "torch"}}')
    np.testing.assert_array_equal(flat.inputs["x"], [[1, 2], [3, 4]])
    np.testing.assert_array_equal(nested.inputs["x"], flat.inputs["x"])
    assert flat.inputs["x"].dtype == np.int64
    assert nested.id == "r1" and nested.runtime == "torch" and nested.device is None


def test_binary_request_with_two_inputs_in_json_order() -> None:
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([True, False, True])
    body, length = _binary_body({"inputs": [
        {"name": "a", "shape": [2, 3], "datatype": "FP32", "parameters": {"binary_data_size": 24}},
        {"name": "b", "shape": [3], "datatype": "BOOL", "parameters": {"binary_data_size": 3}},
    ]}, a.tobytes(), b.astype(np.uint8).tobytes())
    request = decode_request(body, header_length=length)
    np.testing.assert_array_equal(request.inputs["a"], a)
    np.testing.assert_array_equal(request.inputs["b"], b)
    assert request.inputs["a"].flags.writeable  # a copy, not a read-only view of the body


def test_mixed_json_and_binary_inputs() -> None:
    half = np.array([1.5, -2.25], dtype=np.float16)
    body, length = _binary_body({"inputs": [
        {"name": "j", "shape": [1], "datatype": "INT32", "data": [7]},
        {"name": "h", "shape": [2], "datatype": "FP16", "parameters": {"binary_data_size": 4}},
    ]}, half.tobytes())
    request = decode_request(body, header_length=length)
    assert request.inputs["j"].tolist() == [7]
    np.testing.assert_array_equal(request.inputs["h"], half)


@pytest.mark.parametrize(("body", "length", "message"), [
    (b"not json", None, "not a JSON inference request"),
    (b'{"inputs": []}', None, "no 'inputs'"),
    (b'{"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "data": [1]}]}', None, "holds 2 elements"),
    (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "BYTES", "data": ["a"]}]}', None, "BYTES tensors are not"),
    (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP8", "data": [1]}]}', None, "unknown datatype"),
    (b'{"inputs": [{"name": "x", "shape": [-1], "datatype": "FP32", "data": [1]}]}', None, "non-negative"),
    (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": ["a"]}]}', None, "are not FP32"),
    (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32"}]}', None, "has no 'data'"),
    (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}, '
     b'{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]}', None, "given twice"),
    (b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}], "parameters": {"device": 3}}',
     None, "'device' must be a string"),
])
def test_bad_json_requests_say_what_is_wrong(body: bytes, length: int | None, message: str) -> None:
    with pytest.raises(OipRequestError, match=message):
        decode_request(body, header_length=length)


def test_bad_binary_requests_say_what_is_wrong() -> None:
    header = {"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "parameters": {"binary_data_size": 8}}]}
    body, length = _binary_body(header, b"\0" * 4)
    with pytest.raises(OipRequestError, match="only 4 bytes of binary data follow"):
        decode_request(body, header_length=length)
    header["inputs"][0]["parameters"]["binary_data_size"] = 4
    body, length = _binary_body(header, b"\0" * 4)
    with pytest.raises(OipRequestError, match="needs 8"):
        decode_request(body, header_length=length)
    header["inputs"][0]["parameters"]["binary_data_size"] = 8
    body, length = _binary_body(header, b"\0" * 12)
    with pytest.raises(OipRequestError, match="4 bytes of binary data .* no input"):
        decode_request(body, header_length=length)
    with pytest.raises(OipRequestError, match="Inference-Header-Content-Length is 999"):
        decode_request(body, header_length=999)


def _request(**extra: object) -> InferRequest:
    document = {"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [0]}], **extra}
    return decode_request(json.dumps(document).encode())


def test_response_is_json_unless_binary_is_asked_for() -> None:
    outputs = {"logits": np.array([[0.25, -1.5]], np.float32), "label": np.array([1], np.int64)}
    body, length = encode_response(outputs, model_name="m", model_version="1", request=_request(id="7"))
    assert length is None
    document = json.loads(body)
    assert document["model_name"] == "m" and document["model_version"] == "1" and document["id"] == "7"
    assert document["outputs"][0] == {"name": "logits", "datatype": "FP32", "shape": [1, 2], "data": [0.25, -1.5]}
    assert document["outputs"][1]["datatype"] == "INT64"


def test_binary_data_output_and_per_output_override() -> None:
    outputs = {"a": np.array([[1.0, 2.0]], np.float32), "b": np.array([3], np.int64)}
    request = _request(parameters={"binary_data_output": True},
                       outputs=[{"name": "a"}, {"name": "b", "parameters": {"binary_data": False}}])
    body, length = encode_response(outputs, model_name="m", request=request)
    assert length is not None
    document = json.loads(body[:length])
    assert document["outputs"][0]["parameters"] == {"binary_data_size": 8}
    assert document["outputs"][1]["data"] == [3]
    np.testing.assert_array_equal(np.frombuffer(body[length:], np.float32), [1.0, 2.0])


def test_only_requested_outputs_and_unknown_ones_refused() -> None:
    outputs = {"a": np.zeros(1, np.float32), "b": np.ones(1, np.float32)}
    body, _ = encode_response(outputs, model_name="m", request=_request(outputs=[{"name": "b"}]))
    assert [o["name"] for o in json.loads(body)["outputs"]] == ["b"]
    with pytest.raises(OipRequestError, match="no output c"):
        encode_response(outputs, model_name="m", request=_request(outputs=[{"name": "c"}]))


def test_nan_is_refused_in_json_and_carried_in_binary() -> None:
    outputs = {"a": np.array([np.nan], np.float32)}
    with pytest.raises(OipRequestError, match="NaN"):
        encode_response(outputs, model_name="m", request=_request())
    body, length = encode_response(outputs, model_name="m", request=_request(parameters={"binary_data_output": True}))
    assert np.isnan(np.frombuffer(body[length:], np.float32)).all()


@pytest.mark.parametrize("binary", [True, False])
def test_decodes_what_tritonclient_sends(binary: bool) -> None:
    image = np.random.default_rng(0).random((3, 1, 8, 8), dtype=np.float32)
    flags = np.array([[True], [False], [True]])
    inputs = [InferInput("image", list(image.shape), "FP32"), InferInput("flags", list(flags.shape), "BOOL")]
    inputs[0].set_data_from_numpy(image, binary_data=binary)
    inputs[1].set_data_from_numpy(flags, binary_data=binary)
    body, json_size = _get_inference_request(inputs, "", [InferRequestedOutput("logits", binary_data=binary)], 0,
                                             False, False, 0, None, {"runtime": "onnxruntime", "device": "cpu"})
    request = decode_request(body, header_length=json_size)
    np.testing.assert_array_equal(request.inputs["image"], image)
    np.testing.assert_array_equal(request.inputs["flags"], flags)
    assert (request.runtime, request.device) == ("onnxruntime", "cpu")
    assert request.outputs is not None and request.outputs[0].binary is binary


@pytest.mark.parametrize("binary", [True, False])
def test_tritonclient_reads_what_we_send(binary: bool) -> None:
    logits = np.random.default_rng(1).standard_normal((3, 10)).astype(np.float32)
    labels = np.array([1, 2, 3], np.int64)
    body, length = encode_response({"logits": logits, "labels": labels}, model_name="m",
                                   request=_request(parameters={"binary_data_output": binary}))
    result = InferResult.from_response_body(body, header_length=length)
    np.testing.assert_array_equal(result.as_numpy("logits"), logits)
    np.testing.assert_array_equal(result.as_numpy("labels"), labels)
