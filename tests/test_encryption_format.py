"""The segmented AEAD format and the encrypted pack store, as units: round trips at segment
boundaries, random seeks, and every tampering case failing with
EncryptionIntegrityChecksFailedException rather than returning wrong bytes."""

from __future__ import annotations

import io
import os
import random
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from emulator.errors import ClientError
from emulator.kms.segmented import (
    HEADER_SIZE,
    SEGMENT_SIZE,
    TAG_SIZE,
    NullCipher,
    SegmentedReader,
    SegmentedWriter,
    encrypt_file,
    plaintext_size,
)
from emulator.repos.encrypted_files import (
    BENCH_NULL_CIPHER_ENV,
    EncryptedRepoFiles,
    StoredCipherMismatch,
    cipher_from_env,
)
from emulator.repos.files import PACK_DIR, LocalRepoFiles
from emulator.repos.model import Repository

KEY = bytes(range(32))
REPO = "5f0c1f3e-0000-4000-8000-000000000001"
PATH = "objects/pack/pack-1234.pack"
STRIDE = SEGMENT_SIZE + TAG_SIZE


def seal(data: bytes, key: bytes = KEY, repo: str = REPO, path: str = PATH) -> bytes:
    out = io.BytesIO()
    encrypt_file(io.BytesIO(data), out, key, repo, path)
    return out.getvalue()


def opened(sealed: bytes, key: bytes = KEY, repo: str = REPO, path: str = PATH) -> SegmentedReader:
    return SegmentedReader(io.BytesIO(sealed), key, repo, path, file_size=len(sealed))


def read_all(sealed: bytes, key: bytes = KEY, repo: str = REPO, path: str = PATH) -> bytes:
    with opened(sealed, key, repo, path) as r:
        return r.read()


def assert_integrity_error(
    sealed: bytes, key: bytes = KEY, repo: str = REPO, path: str = PATH
) -> None:
    with pytest.raises(ClientError) as info:
        read_all(sealed, key, repo, path)
    assert info.value.code == "EncryptionIntegrityChecksFailedException"


SIZES = [0, 1, SEGMENT_SIZE - 1, SEGMENT_SIZE, SEGMENT_SIZE + 1, 3 * SEGMENT_SIZE, 5 << 20]


@pytest.mark.parametrize("size", SIZES)
def test_round_trip(size: int) -> None:
    data = os.urandom(size)
    sealed = seal(data)
    assert plaintext_size(len(sealed)) == size
    with opened(sealed) as r:
        assert r.size == size
        assert r.read() == data
        assert r.read() == b""
    # The plaintext does not appear in the sealed file (a short one could match random bytes by
    # chance, so only a prefix long enough to make that impossible in practice is looked for).
    assert size < 16 or data[:64] not in sealed
    assert len(sealed) > size  # header and tag, whatever the size


@pytest.mark.parametrize("chunk", [1, 1000, SEGMENT_SIZE, SEGMENT_SIZE + 7, 1 << 20])
def test_streaming_writes_of_any_size(chunk: int) -> None:
    data = os.urandom(2 * SEGMENT_SIZE + 12345)
    out = io.BytesIO()
    with SegmentedWriter(out, KEY, REPO, PATH) as w:
        for i in range(0, len(data), chunk):
            w.write(data[i : i + chunk])
    assert read_all(out.getvalue()) == data


def test_random_seeks_and_reads() -> None:
    rng = random.Random(5)
    data = rng.randbytes(3 * SEGMENT_SIZE + 999)
    with opened(seal(data)) as r:
        for _ in range(500):
            pos = rng.randrange(0, len(data) + 10)
            n = rng.choice([0, 1, 20, 4096, SEGMENT_SIZE, 2 * SEGMENT_SIZE + 3, 1 << 20])
            assert r.seek(pos) == pos
            assert r.read(n) == data[pos : pos + n]
            assert r.tell() == min(len(data), pos + n) if pos < len(data) else pos
        r.seek(-20, os.SEEK_END)
        assert r.read(20) == data[-20:]
        r.seek(5)
        r.seek(10, os.SEEK_CUR)
        buf = bytearray(30)
        assert r.readinto(buf) == 30
        assert bytes(buf) == data[15:45]


def test_flipped_bit_anywhere_is_detected() -> None:
    data = os.urandom(2 * SEGMENT_SIZE + 100)
    sealed = seal(data)
    for pos in [0, 5, 6, 10, HEADER_SIZE - 1, HEADER_SIZE, HEADER_SIZE + STRIDE - 1,
                HEADER_SIZE + STRIDE + 50, len(sealed) - 1]:  # fmt: skip
        bad = bytearray(sealed)
        bad[pos] ^= 0x01
        assert_integrity_error(bytes(bad))


def test_a_seek_reads_only_what_it_touches_but_still_detects_damage_there() -> None:
    data = os.urandom(3 * SEGMENT_SIZE)
    bad = bytearray(seal(data))
    bad[HEADER_SIZE + 2 * STRIDE + 10] ^= 0x80  # damage in the third segment only
    with opened(bytes(bad)) as r:
        r.seek(10)
        assert r.read(100) == data[10:110]  # the first segment is intact
        r.seek(2 * SEGMENT_SIZE + 5)
        with pytest.raises(ClientError, match="segment 2"):
            r.read(10)


def test_truncation_at_a_segment_boundary_is_detected() -> None:
    data = os.urandom(3 * SEGMENT_SIZE + 10)
    sealed = seal(data)
    cut = sealed[: HEADER_SIZE + 3 * STRIDE]  # the last segment is gone
    assert_integrity_error(cut)
    # even a reader that only asks for the end notices
    with opened(cut) as r:
        r.seek(r.size)
        with pytest.raises(ClientError):
            r.read(1)


def test_truncation_inside_a_segment_and_appending_are_detected() -> None:
    sealed = seal(os.urandom(2 * SEGMENT_SIZE + 10))
    assert_integrity_error(sealed[:-1])
    assert_integrity_error(sealed[:-30])
    assert_integrity_error(sealed[: HEADER_SIZE + 5])
    assert_integrity_error(sealed + b"\0" * 40)
    assert_integrity_error(sealed + sealed[HEADER_SIZE : HEADER_SIZE + STRIDE])
    with pytest.raises(ClientError):
        opened(sealed[:10])


def test_reordered_or_duplicated_segments_are_detected() -> None:
    sealed = seal(os.urandom(3 * SEGMENT_SIZE + 10))
    head, body = sealed[:HEADER_SIZE], sealed[HEADER_SIZE:]
    s = [body[i : i + STRIDE] for i in range(0, len(body), STRIDE)]
    assert_integrity_error(head + s[1] + s[0] + s[2] + s[3])
    assert_integrity_error(head + s[0] + s[0] + s[2] + s[3])
    assert_integrity_error(head + s[0] + s[1] + s[3])  # a middle segment removed


def test_segments_of_another_file_do_not_splice() -> None:
    a = seal(os.urandom(2 * SEGMENT_SIZE))
    b = seal(os.urandom(2 * SEGMENT_SIZE))
    assert_integrity_error(a[: HEADER_SIZE + STRIDE] + b[HEADER_SIZE + STRIDE :])
    assert_integrity_error(b[:HEADER_SIZE] + a[HEADER_SIZE:])


def test_a_file_moved_to_another_path_or_repository_does_not_open() -> None:
    sealed = seal(b"some pack bytes" * 100)
    assert_integrity_error(sealed, path="objects/pack/pack-other.pack")
    assert_integrity_error(sealed, repo="5f0c1f3e-0000-4000-8000-000000000002")
    assert_integrity_error(sealed, key=bytes(32))
    assert read_all(sealed) == b"some pack bytes" * 100


def test_a_null_cipher_file_is_refused_by_the_real_cipher() -> None:
    out = io.BytesIO()
    encrypt_file(io.BytesIO(b"plain"), out, KEY, REPO, PATH, NullCipher())
    assert b"plain" in out.getvalue()
    assert_integrity_error(out.getvalue())
    sealed = out.getvalue()
    null = SegmentedReader(io.BytesIO(sealed), KEY, REPO, PATH, NullCipher(), len(sealed))
    assert null.read() == b"plain"


# -- the encrypted store ---------------------------------------------------------------------


class FixedKeys:
    def __init__(self, key: bytes = KEY) -> None:
        self.key = key
        self.calls = 0

    def data_key(self, repo: Repository) -> bytes:
        self.calls += 1
        return self.key


def repository(rid: str = REPO) -> Repository:
    now = datetime.now(UTC)
    return Repository(rid, "123456789012", "us-east-1", "r", None, None, None, now, now)


def test_store_publishes_encrypted_and_reads_plaintext(tmp_path: Path) -> None:
    keys = FixedKeys()
    files = EncryptedRepoFiles(LocalRepoFiles(tmp_path / REPO), repository(), keys)
    data = os.urandom(200_000)
    src = tmp_path / "plain.pack"
    src.write_bytes(data)
    files.publish(f"{PACK_DIR}/p.pack", src)
    assert not src.exists()
    stored = (tmp_path / REPO / PACK_DIR / "p.pack").read_bytes()
    assert data[:100] not in stored
    assert files.size(f"{PACK_DIR}/p.pack") == len(data)
    assert files.list(PACK_DIR) == ["p.pack"]
    with files.open_read(f"{PACK_DIR}/p.pack") as f:
        f.seek(150_000)
        assert f.read(10) == data[150_000:150_010]
    assert keys.calls == 1
    # moved to another name, or into another repository: does not open
    os.rename(tmp_path / REPO / PACK_DIR / "p.pack", tmp_path / REPO / PACK_DIR / "q.pack")
    with pytest.raises(ClientError), files.open_read(f"{PACK_DIR}/q.pack") as f:
        f.read()
    other_id = "5f0c1f3e-0000-4000-8000-000000000009"
    other = EncryptedRepoFiles(LocalRepoFiles(tmp_path / other_id), repository(other_id), keys)
    (tmp_path / other_id / PACK_DIR).mkdir(parents=True)
    shutil.copy(tmp_path / REPO / PACK_DIR / "q.pack", tmp_path / other_id / PACK_DIR / "p.pack")
    with pytest.raises(ClientError), other.open_read(f"{PACK_DIR}/p.pack") as f:
        f.read()


def test_scratch_files_are_encrypted_and_random_access(tmp_path: Path) -> None:
    files = EncryptedRepoFiles(LocalRepoFiles(tmp_path / REPO), repository(), FixedKeys())
    marker = b"a secret marker that must never be on disk " * 50
    with files.create_scratch(prefix="quarantine-", suffix=".pack") as f:
        path = f.path
        f.write(b"PACK" + marker)
        f.write(marker)
        assert f.pread(4, 0) == b"PACK"
        f.seek(1)
        f.write(b"Z")
        f.seek(0)
        assert f.read(5) == b"PZCK" + marker[:1]
        f.seek(0, os.SEEK_END)
        assert f.tell() == 4 + 2 * len(marker)
        raw = path.read_bytes()
        assert marker[:40] not in raw and not raw.startswith(b"P")
    files.publish(f"{PACK_DIR}/x.pack", path)
    assert not path.exists()
    with files.open_read(f"{PACK_DIR}/x.pack") as r:
        assert r.read() == b"PZCK" + marker + marker


def test_a_failed_publish_leaves_no_temp_file_and_removes_the_source(tmp_path: Path) -> None:
    class Disabled:
        def data_key(self, repo: Repository) -> bytes:
            raise ClientError("disabled", code="EncryptionKeyDisabledException")

    files = EncryptedRepoFiles(LocalRepoFiles(tmp_path / REPO), repository(), Disabled())
    src = files.create_scratch(suffix=".pack")
    src.write(b"PACK data")
    src.close()
    with pytest.raises(ClientError):
        files.publish(f"{PACK_DIR}/p.pack", src.path)
    leftovers = [p for p in (tmp_path / REPO).rglob("*") if p.is_file()]
    assert leftovers == []


def test_a_benchmark_null_cipher_data_dir_and_a_real_one_never_mix(tmp_path: Path) -> None:
    root = tmp_path / "repos"
    assert cipher_from_env(root, {}).cipher_id == 1
    assert cipher_from_env(root, {BENCH_NULL_CIPHER_ENV: "1"}).cipher_id == 0
    files = EncryptedRepoFiles(LocalRepoFiles(root / REPO), repository(), FixedKeys())
    src = tmp_path / "p"
    src.write_bytes(b"PACK")
    files.publish(f"{PACK_DIR}/p.pack", src)
    with pytest.raises(StoredCipherMismatch):
        cipher_from_env(root, {BENCH_NULL_CIPHER_ENV: "1"})
    assert cipher_from_env(root, {}).cipher_id == 1


def read_all_into(sealed: bytes, chunk: int = 1 << 20) -> bytes:
    """The whole plaintext read as a pack is streamed: `readinto` one reused buffer."""
    out = bytearray()
    buf = memoryview(bytearray(chunk))
    with opened(sealed) as r:
        while n := r.readinto(buf):
            out += buf[:n]
    return bytes(out)


def test_reads_into_a_buffer_match_reads_at_every_boundary() -> None:
    """`readinto` decrypts whole segments straight into the caller's buffer and parts through
    the reader's cache: every mix of the two gives the plaintext."""
    rng = random.Random(11)
    data = rng.randbytes(7 * SEGMENT_SIZE + 1234)
    sealed = seal(data)
    for chunk in (1, 1000, SEGMENT_SIZE - 1, SEGMENT_SIZE, SEGMENT_SIZE + 12, 1 << 20):
        assert read_all_into(sealed, chunk) == data
    with opened(sealed) as r:
        for _ in range(300):
            pos = rng.randrange(0, len(data) + 10)
            n = rng.choice([1, 20, SEGMENT_SIZE, 2 * SEGMENT_SIZE, 3 * SEGMENT_SIZE + 7, 1 << 20])
            r.seek(pos)
            buf = bytearray(n)
            got = r.readinto(buf)
            assert got == max(0, min(n, len(data) - pos))
            assert bytes(buf[:got]) == data[pos : pos + n]
            assert r.tell() == (pos + got if pos < len(data) else pos)


def test_damage_is_detected_by_reads_into_a_buffer() -> None:
    """Whole segments decrypted into the caller's buffer are checked as reads check them: a
    flipped bit, a lost last segment, a cut or an appended tail all refuse the read."""
    data = os.urandom(4 * SEGMENT_SIZE + 100)
    sealed = seal(data)
    assert read_all_into(sealed) == data
    damaged = []
    for pos in (HEADER_SIZE + 10, HEADER_SIZE + STRIDE + 50, HEADER_SIZE + 3 * STRIDE - 1):
        bad = bytearray(sealed)
        bad[pos] ^= 0x01
        damaged.append(bytes(bad))
    damaged += [
        sealed[: HEADER_SIZE + 4 * STRIDE],  # the last segment is gone
        sealed[:-1],
        sealed + b"\0" * 40,
    ]
    for bad in damaged:
        with pytest.raises(ClientError) as info:
            read_all_into(bad)
        assert info.value.code == "EncryptionIntegrityChecksFailedException"
