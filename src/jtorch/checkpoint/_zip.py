"""Writing an uncompressed (stored) zip archive, as torch.save's files are, without a CRC pass in
the writing thread.

zipfile computes each record's CRC-32 in the thread that writes it, which for a large state_dict
costs about as long as the writes. Here a worker thread computes the CRCs (zlib releases the GIL)
while the records are written with placeholder CRCs; the real ones go into the central directory
and are patched into the local headers at the end. The result is a plain zip (zip64 where sizes
or offsets need it) that zipfile, torch.load and unzip read and check.
"""

from __future__ import annotations

import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO, NamedTuple

__all__ = ["Record", "write_stored_zip"]

_ZIP64_LIMIT = 0xFFFFFFFF  # sizes and offsets at or above this need zip64 fields
_DOS_DATE = (1 << 5) | 1  # 1980-01-01, as torch writes (time 00:00:00 is 0)
_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_CRC_OFFSET = 14  # of the CRC field in a local header


class Record(NamedTuple):
    """One archive member: its name, its bytes (any contiguous buffer), and whether its data
    must start at a multiple of `alignment` bytes (padded with torch's "FB" extra field)."""

    name: str
    data: Any
    align: bool = False


class _Written(NamedTuple):
    name: bytes
    size: int
    offset: int
    flags: int


def _utf8(name: str) -> tuple[bytes, int]:
    """(encoded name, general-purpose flags): bit 11 marks UTF-8 names, as zipfile does."""
    try:
        return name.encode("ascii"), 0
    except UnicodeEncodeError:
        return name.encode("utf-8"), 0x800


def _local_header(name: bytes, flags: int, size: int, position: int, alignment: int) -> bytes:
    zip64 = size >= _ZIP64_LIMIT
    extra = struct.pack("<HHQQ", 1, 16, size, size) if zip64 else b""
    if alignment:
        unpadded = position + _LOCAL.size + len(name) + len(extra) + 4
        pad = -unpadded % alignment
        extra += b"FB" + struct.pack("<H", pad) + b"Z" * pad
    size32 = 0xFFFFFFFF if zip64 else size
    version = 45 if zip64 else 20
    fields = (0x04034B50, version, flags, 0, 0, _DOS_DATE, 0, size32, size32, len(name), len(extra))
    return _LOCAL.pack(*fields) + name + extra


def _central_header(record: _Written, crc: int) -> bytes:
    wide = []  # the zip64 extra holds, in this order, the fields that do not fit in 32 bits
    if record.size >= _ZIP64_LIMIT:
        wide += [record.size, record.size]
    if record.offset >= _ZIP64_LIMIT:
        wide.append(record.offset)
    extra = struct.pack(f"<HH{len(wide)}Q", 1, 8 * len(wide), *wide) if wide else b""
    size32 = min(record.size, 0xFFFFFFFF)
    offset32 = min(record.offset, 0xFFFFFFFF)
    version = 45 if wide else 20
    fields = (0x02014B50, version, version, record.flags, 0, 0, _DOS_DATE, crc, size32, size32,
              len(record.name), len(extra), 0, 0, 0, 0, offset32)  # fmt: skip
    return _CENTRAL.pack(*fields) + record.name + extra


def _end_records(count: int, start: int, size: int) -> bytes:
    out = b""
    if count >= 0xFFFF or start >= _ZIP64_LIMIT or size >= _ZIP64_LIMIT:
        end64 = start + size
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, size, start)
        out += struct.pack("<IIQI", 0x07064B50, 0, end64, 1)
        count, size, start = min(count, 0xFFFF), min(size, 0xFFFFFFFF), min(start, 0xFFFFFFFF)
    return out + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, size, start, 0)


def write_stored_zip(f: BinaryIO, records: list[Record], alignment: int = 64) -> None:
    """Write `records` as a stored zip archive to `f`, a seekable file positioned at 0."""
    with ThreadPoolExecutor(1, "jtorch-zip-crc") as pool:
        crcs = [pool.submit(zlib.crc32, record.data) for record in records]
        written = []
        for record in records:
            name, flags = _utf8(record.name)
            data = memoryview(record.data).cast("B")
            offset = f.tell()
            f.write(_local_header(name, flags, len(data), offset, alignment * record.align))
            f.write(data)
            written.append(_Written(name, len(data), offset, flags))
        crc_values = [crc.result() for crc in crcs]
    start = f.tell()
    central = b"".join(_central_header(w, crc) for w, crc in zip(written, crc_values))
    f.write(central + _end_records(len(written), start, len(central)))
    for w, crc in zip(written, crc_values):
        f.seek(w.offset + _CRC_OFFSET)
        f.write(struct.pack("<I", crc))
    f.seek(0, 2)
