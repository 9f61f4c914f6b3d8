"""Read and write safetensors files with only json, struct and numpy.

The safetensors format (https://github.com/huggingface/safetensors) is an
8-byte little-endian u64 header length N, then N bytes of UTF-8 JSON, then the
raw tensor data. The header maps each tensor name to
``{"dtype", "shape", "data_offsets": [begin, end]}`` with offsets relative to
the start of the data section, plus an optional ``"__metadata__"`` object of
string-to-string entries. This module supports the F32, F64, I64 and I32
dtypes, which is all the parity tests need.
"""

from __future__ import annotations

import json
import struct
from typing import Dict, Mapping, Optional, Tuple

import numpy as np

DTYPE_TO_NUMPY = {
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
}
NUMPY_TO_DTYPE = {np.dtype(v).newbyteorder("="): k for k, v in DTYPE_TO_NUMPY.items()}

HEADER_ALIGNMENT = 8
# The reference Rust implementation rejects headers larger than 100 MB.
MAX_HEADER_BYTES = 100_000_000


def load(path: str) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    """Load every tensor and the ``__metadata__`` entries from a safetensors file.

    Returns ``(tensors, metadata)``. Arrays are copies in native byte order, so
    they stay valid after the file changes.
    """
    with open(path, "rb") as f:
        blob = f.read()
    return loads(blob, source=path)


def loads(blob: bytes, source: str = "<bytes>") -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    """Parse safetensors bytes; see ``load``."""
    if len(blob) < 8:
        raise ValueError(f"{source}: file is {len(blob)} bytes, shorter than the 8-byte header length")
    (header_len,) = struct.unpack("<Q", blob[:8])
    if header_len > MAX_HEADER_BYTES or 8 + header_len > len(blob):
        raise ValueError(f"{source}: invalid header length {header_len} for a file of {len(blob)} bytes")
    header = json.loads(blob[8 : 8 + header_len].decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError(f"{source}: header is not a JSON object")

    metadata = header.pop("__metadata__", None) or {}
    data = memoryview(blob)[8 + header_len :]
    tensors: Dict[str, np.ndarray] = {}
    for name, info in header.items():
        dtype_name = info.get("dtype")
        if dtype_name not in DTYPE_TO_NUMPY:
            raise ValueError(
                f"{source}: tensor {name!r} has unsupported dtype {dtype_name!r}; "
                f"supported: {sorted(DTYPE_TO_NUMPY)}"
            )
        dtype = DTYPE_TO_NUMPY[dtype_name]
        shape = tuple(int(d) for d in info["shape"])
        begin, end = (int(o) for o in info["data_offsets"])
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if end - begin != expected or begin < 0 or end > len(data):
            raise ValueError(
                f"{source}: tensor {name!r} has data_offsets [{begin}, {end}] but shape {list(shape)} "
                f"of {dtype_name} needs {expected} bytes within a data section of {len(data)} bytes"
            )
        array = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape)
        tensors[name] = array.astype(dtype.newbyteorder("="), copy=True)
    return tensors, {str(k): str(v) for k, v in metadata.items()}


def dumps(tensors: Mapping[str, np.ndarray], metadata: Optional[Mapping[str, str]] = None) -> bytes:
    """Serialize tensors and string metadata to safetensors bytes.

    Tensors are laid out in sorted name order, and the JSON header is padded
    with spaces to a multiple of 8 bytes so the data section stays aligned.
    """
    header: Dict[str, object] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}

    chunks = []
    offset = 0
    for name in sorted(tensors):
        array = np.asarray(tensors[name])
        native = array.dtype.newbyteorder("=")
        if native not in NUMPY_TO_DTYPE:
            raise ValueError(
                f"tensor {name!r} has unsupported numpy dtype {array.dtype}; "
                "convert it to float32, float64, int64 or int32"
            )
        dtype_name = NUMPY_TO_DTYPE[native]
        raw = np.ascontiguousarray(array, dtype=DTYPE_TO_NUMPY[dtype_name]).tobytes()
        header[name] = {
            "dtype": dtype_name,
            "shape": [int(d) for d in array.shape],
            "data_offsets": [offset, offset + len(raw)],
        }
        chunks.append(raw)
        offset += len(raw)

    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    padding = (-len(header_bytes)) % HEADER_ALIGNMENT
    header_bytes += b" " * padding
    return struct.pack("<Q", len(header_bytes)) + header_bytes + b"".join(chunks)


def save(path: str, tensors: Mapping[str, np.ndarray], metadata: Optional[Mapping[str, str]] = None) -> None:
    """Write tensors and string metadata to a safetensors file; see ``dumps``."""
    blob = dumps(tensors, metadata)
    with open(path, "wb") as f:
        f.write(blob)
