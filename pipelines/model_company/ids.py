"""Seeded random streams and identifiers (instance ids, UUIDs, line item ids) drawn from them."""

from __future__ import annotations

import uuid
import zlib

import numpy as np

_BASE32 = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz234567", dtype=np.uint8)


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent generator per part, so switching one part off does not shift another's numbers."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def hex_id(rng: np.random.Generator, length: int) -> str:
    """Lower-case hex string of ``length`` characters."""
    return "".join(f"{b:02x}" for b in rng.integers(0, 256, size=(length + 1) // 2, dtype=np.uint8))[:length]


def instance_id(rng: np.random.Generator) -> str:
    """An EC2 instance id such as ``i-0a1b2c3d4e5f60718``."""
    return "i-0" + hex_id(rng, 16)


def uuid4(rng: np.random.Generator) -> str:
    """A version-4 UUID string from the generator's bytes (never from the OS)."""
    return str(uuid.UUID(bytes=bytes(rng.integers(0, 256, size=16, dtype=np.uint8)), version=4))


def gpu_uuid(rng: np.random.Generator) -> str:
    """A GPU UUID as nvidia-smi and DCGM print it: ``GPU-`` and a UUID."""
    return "GPU-" + uuid4(rng)


def line_item_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` 52-character base32 ids like CUR's ``identity_line_item_id`` (a numpy ``S52`` array)."""
    raw = np.frombuffer(rng.bytes(n * 52), dtype=np.uint8) & 31
    return _BASE32[raw].view("S52").reshape(n)
