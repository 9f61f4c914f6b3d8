"""Safetensors interoperability helper for safetensors.test.ts.

The `safetensors` Python package is not installed here, so this script writes and reads the format by
hand with json and struct, taking tensor bytes from PyTorch. Values are printed as JSON with exact bit
patterns: floats as their unsigned integer bits, integers as decimal strings.

Usage:
  safetensors_interop.py write PATH   write a file with one tensor per dtype, print the expected values
  safetensors_interop.py read PATH    parse a file, print its values, metadata and alignment
  safetensors_interop.py convert      read float32 bit patterns (JSON list) from stdin, print the
                                      float16 and bfloat16 bits that torch rounds them to
"""

import json
import math
import struct
import sys

import torch

DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}

# Signed integer dtype of the same width, used to read float bit patterns.
BIT_VIEWS = {torch.float64: torch.int64, torch.float32: torch.int32, torch.float16: torch.int16, torch.bfloat16: torch.int16}


def encode(tensor):
    flat = tensor.reshape(-1)
    if tensor.dtype in BIT_VIEWS:
        view = BIT_VIEWS[tensor.dtype]
        mask = (1 << (torch.finfo(tensor.dtype).bits)) - 1
        return [str(int(v) & mask) for v in flat.view(view).tolist()]
    return [str(int(v)) for v in flat.tolist()]


def tensor_bytes(tensor):
    if tensor.dtype == torch.bfloat16:
        return tensor.contiguous().view(torch.int16).numpy().tobytes()
    return tensor.contiguous().numpy().tobytes()


def describe(name, tensor):
    result = {"shape": list(tensor.shape), "bits": encode(tensor)}
    if tensor.is_floating_point():
        result["float32_bits"] = encode(tensor.float())
    return name, result


def write(path):
    torch.manual_seed(0)
    special16 = [math.inf, -math.inf, 6e-08, 65504.0, -0.0, 1.0 / 3.0]
    tensors = {
        # Insertion order puts U8 and I8 first, so the wider tensors after them are not aligned.
        "bytes": torch.tensor([0, 255, 7], dtype=torch.uint8),
        "int8": torch.tensor([-128, 127, 0], dtype=torch.int8),
        "f64": torch.tensor([math.pi, -1e300, 5e-324], dtype=torch.float64),
        "f32": torch.randn(3, 4),
        "f16": torch.cat([torch.randn(5), torch.tensor(special16)]).half(),
        "bf16": torch.cat([torch.randn(2, 3).reshape(-1), torch.tensor([math.inf, -0.0, 1e-40])]).bfloat16(),
        "i64": torch.tensor([-(2**62), 2**62 + 1, -1, 0, 123], dtype=torch.int64),
        "i32": torch.arange(-3, 3, dtype=torch.int32).reshape(2, 3),
        "i16": torch.tensor([-32768, 32767, 5], dtype=torch.int16),
        "mask": torch.tensor([True, False, True]),
        "scalar": torch.tensor(1.5),
        "empty": torch.zeros(0, 3),
        "h.0.attn.c_attn.weight": torch.randn(4, 6),
    }
    header = {"__metadata__": {"format": "pt", "note": "written by hand"}}
    offset = 0
    chunks = []
    for name, tensor in tensors.items():
        data = tensor_bytes(tensor)
        dtype = next(key for key, value in DTYPES.items() if value == tensor.dtype)
        header[name] = {"dtype": dtype, "shape": list(tensor.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        chunks.append(data)
    header_bytes = json.dumps(header).encode("utf-8")
    header_bytes += b" " * ((8 - len(header_bytes) % 8) % 8)
    with open(path, "wb") as file:
        file.write(struct.pack("<Q", len(header_bytes)))
        file.write(header_bytes)
        for chunk in chunks:
            file.write(chunk)
    print(json.dumps(dict(describe(name, tensor) for name, tensor in tensors.items())))


def read(path):
    with open(path, "rb") as file:
        content = file.read()
    (header_length,) = struct.unpack("<Q", content[:8])
    header = json.loads(content[8 : 8 + header_length].decode("utf-8"))
    data_start = 8 + header_length
    metadata = header.pop("__metadata__", None)

    covered = sorted(tuple(info["data_offsets"]) for info in header.values())
    contiguous = covered[0][0] == 0 and all(a[1] == b[0] for a, b in zip(covered, covered[1:]))
    contiguous = contiguous and covered[-1][1] == len(content) - data_start

    tensors = {}
    aligned = True
    for name, info in header.items():
        dtype = DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        itemsize = torch.empty((), dtype=dtype).element_size()
        aligned = aligned and (data_start + begin) % itemsize == 0
        raw = bytearray(content[data_start + begin : data_start + end])
        if len(raw) == 0:
            tensor = torch.empty(info["shape"], dtype=dtype)
        else:
            tensor = torch.frombuffer(raw, dtype=dtype).reshape(info["shape"])
        tensors[name] = describe(name, tensor)[1]

    result = {
        "tensors": tensors,
        "metadata": metadata,
        "aligned": aligned,
        "contiguous": contiguous,
        "header_length": header_length,
        "order": [name for name, _ in sorted(header.items(), key=lambda item: item[1]["data_offsets"][0])],
    }
    print(json.dumps(result))


def convert():
    bits = json.load(sys.stdin)
    floats = torch.tensor([b - (1 << 32) if b >= 1 << 31 else b for b in bits], dtype=torch.int32).view(torch.float32)
    print(json.dumps({"f16": encode(floats.to(torch.float16)), "bf16": encode(floats.to(torch.bfloat16))}))


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "write":
        write(sys.argv[2])
    elif command == "read":
        read(sys.argv[2])
    elif command == "convert":
        convert()
    else:
        raise SystemExit(f"unknown command {command!r}; expected write, read or convert")
