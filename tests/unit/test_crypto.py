import multiprocessing
import os
import secrets
import uuid
from types import SimpleNamespace

import pytest

from orchestrator.config import ConfigError, Settings
from orchestrator.crypto import CryptoError, KeyRing, generate_key, load_keyring, open_field, seal_field


def row(table="workflow_versions"):
    return SimpleNamespace(__tablename__=table, id=uuid.uuid4(), definition_encrypted=None,
                           definition_iv=None, key_id=None)


def test_round_trip_uses_a_fresh_nonce_each_time():
    ring = KeyRing.from_strings([generate_key()])
    a, b = row(), row()
    seal_field(ring, a, "definition", b"secret definition")
    seal_field(ring, b, "definition", b"secret definition")
    assert open_field(ring, a, "definition") == b"secret definition"
    assert len(a.definition_iv) == 12 and a.definition_iv != b.definition_iv
    assert b"secret" not in a.definition_encrypted
    assert a.key_id == ring.primary_key_id


def test_tampered_ciphertext_fails_clearly():
    ring = KeyRing.from_strings([generate_key()])
    r = row()
    seal_field(ring, r, "definition", b"payload")
    r.definition_encrypted = bytes([r.definition_encrypted[0] ^ 1]) + r.definition_encrypted[1:]
    with pytest.raises(CryptoError, match="failed authentication"):
        open_field(ring, r, "definition")


def test_ciphertext_moved_to_another_row_fails():
    ring = KeyRing.from_strings([generate_key()])
    a, b = row(), row()
    seal_field(ring, a, "definition", b"payload")
    b.definition_encrypted, b.definition_iv, b.key_id = a.definition_encrypted, a.definition_iv, a.key_id
    with pytest.raises(CryptoError, match="belongs to another record"):
        open_field(ring, b, "definition")


def test_wrong_key_and_unknown_key_id_fail():
    sealer = KeyRing.from_strings([generate_key()])
    r = row()
    seal_field(sealer, r, "definition", b"payload")
    with pytest.raises(CryptoError, match="not in ORCHESTRATOR_ENCRYPTION_KEYS"):
        open_field(KeyRing.from_strings([generate_key()]), r, "definition")
    with pytest.raises(CryptoError, match="failed authentication"):
        impostor = KeyRing.from_strings([generate_key()])
        r.key_id = impostor.primary_key_id
        open_field(impostor, r, "definition")


def test_old_keys_still_decrypt_and_first_key_encrypts():
    old, new = generate_key(), generate_key()
    r = row()
    seal_field(KeyRing.from_strings([old]), r, "definition", b"payload")
    both = KeyRing.from_strings([new, old])
    assert open_field(both, r, "definition") == b"payload"
    assert both.primary_key_id == KeyRing.from_strings([new]).primary_key_id


@pytest.mark.parametrize("bad, message", [("not base64!!", "not URL-safe base64"), ("YWJj", "decodes to 3 bytes")])
def test_malformed_keys_are_named_with_how_to_make_one(bad, message):
    with pytest.raises(ConfigError, match=message) as raised:
        KeyRing.from_strings([generate_key(), bad])
    assert "key #2" in str(raised.value) and "`orchestrator keys generate`" in str(raised.value)


def test_keys_are_accepted_with_or_without_padding():
    padded = generate_key()
    unpadded = secrets.token_urlsafe(32)          # what people paste: URL-safe, no "="
    assert padded.endswith("=") and not unpadded.endswith("=")
    ring = KeyRing.from_strings([unpadded, padded])
    assert ring.primary_key_id == KeyRing.from_strings([unpadded + "="]).primary_key_id
    r = row()
    seal_field(ring, r, "definition", b"payload")
    assert open_field(KeyRing.from_strings([padded.rstrip("="), unpadded]), r, "definition") == b"payload"


def test_standalone_generates_a_key_once_and_says_so(tmp_path, caplog):
    settings = Settings.from_env({"ORCHESTRATOR_DATA_DIR": str(tmp_path)})
    first = load_keyring(settings)
    assert "generated a key" in caplog.text
    assert (tmp_path / "encryption.key").stat().st_mode & 0o777 == 0o600
    assert load_keyring(settings).primary_key_id == first.primary_key_id


def test_server_database_without_keys_is_refused(tmp_path):
    settings = Settings.from_env({"ORCHESTRATOR_DATA_DIR": str(tmp_path), "DATABASE_URL": "postgresql+psycopg://x/y"})
    with pytest.raises(ConfigError, match="ORCHESTRATOR_ENCRYPTION_KEYS is required"):
        load_keyring(settings)


def _load_key_id_after(barrier, data_dir: str, results) -> None:
    barrier.wait()
    try:
        results.put(load_keyring(Settings.from_env({"ORCHESTRATOR_DATA_DIR": data_dir})).primary_key_id)
    except Exception as exc:                                           # reported to the parent
        results.put(repr(exc))


def test_processes_starting_together_share_one_generated_key(tmp_path):
    """The API, a worker and beat start at once on a fresh data directory (standalone mode):
    each must read the same key, never a half-written file nor an error."""
    context = multiprocessing.get_context("fork")
    for round_ in range(15):
        data_dir, results, barrier = str(tmp_path / str(round_)), context.Queue(), context.Barrier(4)
        processes = [context.Process(target=_load_key_id_after, args=(barrier, data_dir, results)) for _ in range(4)]
        for p in processes:
            p.start()
        seen = [results.get(timeout=30) for _ in processes]
        for p in processes:
            p.join()
        assert len(set(seen)) == 1, seen
        assert not [name for name in os.listdir(data_dir) if name != "encryption.key"]   # no staged file left
