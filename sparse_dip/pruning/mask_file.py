"""Mask files: a keep-mask as packed bits behind a JSON header, read without pickle.

A mask file is portable (no device, no Python objects) and checked on load. Layout::

    8 bytes    magic  b"SPDMASK1"
    4 bytes    header length n (unsigned, little-endian)
    n bytes    header: UTF-8 JSON
    m bytes    payload: zlib-compressed ``numpy.packbits`` of every entry, flattened, in header order
    32 bytes   SHA-256 of everything before it

The header holds ``format_version``, ``entries`` (name, shape and kept count of each masked
parameter, in order), ``payload_bytes`` and ``info``: free JSON saying what made the mask
(the generator's configuration, the method and its settings, the seeds, the source image).
Loading checks every part, so a truncated or modified file is refused with one line instead of
yielding a wrong mask. The format is model-agnostic: classifiers' masks use it too.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from sparse_dip.errors import InputError
from sparse_dip.files import atomic_path
from sparse_dip.pruning.mask import Mask

FORMAT_VERSION = 1
MAGIC = b"SPDMASK1"
_LENGTH = struct.Struct("<I")
_DIGEST_BYTES = 32


class MaskFileError(InputError):
    """A mask file that cannot be used: unreadable, truncated, modified, or of another version."""


@dataclass
class MaskFile:
    """A mask and what made it (``info``: JSON-serialisable)."""

    mask: Mask
    info: dict = field(default_factory=dict)


def encode(mask_file: MaskFile) -> bytes:
    """The bytes of a mask file (see the module docstring for the layout)."""
    mask = mask_file.mask
    bits = [mask[name].detach().flatten().cpu().numpy() for name in mask]
    payload = zlib.compress(np.packbits(np.concatenate(bits) if bits else np.zeros(0, bool)).tobytes(), 9)
    header = {
        "format_version": FORMAT_VERSION,
        "entries": [{"name": name, "shape": list(mask[name].shape), "kept": int(mask[name].sum())} for name in mask],
        "payload_bytes": len(payload),
        "info": mask_file.info,
    }
    header_bytes = json.dumps(header, sort_keys=True).encode()
    body = MAGIC + _LENGTH.pack(len(header_bytes)) + header_bytes + payload
    return body + hashlib.sha256(body).digest()


def decode(data: bytes, source: str = "mask file") -> MaskFile:
    """Parse and check the bytes of a mask file; :class:`MaskFileError` names what is wrong."""
    prefix = len(MAGIC) + _LENGTH.size
    if len(data) < prefix or data[: len(MAGIC)] != MAGIC:
        raise MaskFileError(f"{source}: not a sparse-dip mask file")
    body, digest = data[:-_DIGEST_BYTES], data[-_DIGEST_BYTES:]
    (header_length,) = _LENGTH.unpack_from(data, len(MAGIC))
    if len(data) < prefix + header_length + _DIGEST_BYTES:
        raise MaskFileError(f"{source}: truncated mask file")
    try:
        header = json.loads(data[prefix : prefix + header_length])
    except (UnicodeDecodeError, json.JSONDecodeError):
        header = None
    version = header.get("format_version") if isinstance(header, dict) else None
    if isinstance(version, int) and version != FORMAT_VERSION:
        raise MaskFileError(f"{source}: mask format version {version}; this sparse-dip reads version {FORMAT_VERSION}")
    if hashlib.sha256(body).digest() != digest:
        raise MaskFileError(f"{source}: checksum mismatch: the file is truncated or was modified")
    if not isinstance(header, dict) or version is None:
        raise MaskFileError(f"{source}: unreadable mask header")
    payload = body[prefix + header_length :]
    try:
        entries = [(str(e["name"]), [int(s) for s in e["shape"]], int(e["kept"])) for e in header["entries"]]
        if len(payload) != int(header["payload_bytes"]):
            raise ValueError
        sizes = [int(np.prod(shape)) for _, shape, _ in entries]
        packed = np.frombuffer(zlib.decompress(payload), dtype=np.uint8)
        if len(packed) != (sum(sizes) + 7) // 8:
            raise ValueError
    except (KeyError, TypeError, ValueError, zlib.error):
        raise MaskFileError(f"{source}: the header does not describe the payload") from None
    flat = torch.from_numpy(np.unpackbits(packed, count=sum(sizes)).astype(bool))
    mask = Mask({name: part.view(shape) for (name, shape, _), part in zip(entries, flat.split(sizes))})
    for name, _, kept in entries:
        if int(mask[name].sum()) != kept:
            raise MaskFileError(
                f"{source}: entry {name!r} keeps {int(mask[name].sum())} weights, its header says {kept}"
            )
    return MaskFile(mask=mask, info=header.get("info", {}))


def save_mask(path: str | os.PathLike, mask_file: MaskFile) -> None:
    """Write ``mask_file`` to ``path`` atomically."""
    data = encode(mask_file)
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def load_mask(path: str | os.PathLike) -> MaskFile:
    """Read and check a mask file; errors are one-line :class:`MaskFileError`."""
    path = Path(path)
    if not path.exists():
        raise MaskFileError(f"{path}: no such file")
    if path.is_dir():
        raise MaskFileError(f"{path}: is a folder, not a mask file")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise MaskFileError(f"{path}: cannot read ({error.strerror})") from None
    return decode(data, str(path))
