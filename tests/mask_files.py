"""Test helper: mask files from another format version, with a valid checksum."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

from sparse_dip.pruning.mask_file import MAGIC


def restamp_version(path: Path, version: int) -> None:
    """Rewrite the format version in the mask file at ``path`` and recompute its checksum."""
    data = path.read_bytes()
    (length,) = struct.unpack_from("<I", data, len(MAGIC))
    start = len(MAGIC) + 4
    header = json.loads(data[start : start + length])
    header["format_version"] = version
    new_header = json.dumps(header).encode()
    body = MAGIC + struct.pack("<I", len(new_header)) + new_header + data[start + length : -32]
    path.write_bytes(body + hashlib.sha256(body).digest())
