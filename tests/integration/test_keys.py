"""Key rotation and API keys against a real database."""
import subprocess

from sqlalchemy import select

from orchestrator.crypto import KeyRing, generate_key, load_keyring, open_field, seal_field
from orchestrator.db import Credential, Provider, WorkflowVersion
from orchestrator.services import api_keys
from orchestrator.services.keys import rotate_keys
from tests.integration.test_schema import make_workflow


def test_rotation_leaves_every_row_readable_under_the_new_key_alone(session, migrated_settings):
    old_ring = load_keyring(migrated_settings)
    owner, _, version = make_workflow(session, migrated_settings)
    provider = Provider(owner_id=owner.id, name="openai", type="openai")
    session.add(provider)
    session.flush()
    credential = Credential(provider_id=provider.id, alias="main", key_hint="-123")
    seal_field(old_ring, credential, "api_key", b"sk-live-123")
    seal_field(old_ring, credential, "secret_key", b"shh")
    session.add(credential)
    session.commit()

    new_key = generate_key()
    both = KeyRing.from_strings([new_key, *migrated_settings.encryption_keys])
    assert rotate_keys(session, both) == 2
    session.commit()
    assert rotate_keys(session, both) == 0

    session.expunge_all()
    new_only = KeyRing.from_strings([new_key])
    version = session.get(WorkflowVersion, version.id)
    credential = session.get(Credential, credential.id)
    assert open_field(new_only, version, "definition") == b'{"name": "wf"}'
    assert open_field(new_only, credential, "api_key") == b"sk-live-123"
    assert open_field(new_only, credential, "secret_key") == b"shh"


def test_api_key_is_verified_revocable_and_never_stored_in_plaintext(session, migrated_settings, servers):
    key, plaintext = api_keys.create_api_key(session, "ci", "dev@example.com")
    session.commit()
    assert api_keys.authenticate(session, plaintext).email == "dev@example.com"
    assert api_keys.authenticate(session, plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")) is None
    assert api_keys.authenticate(session, "ork_nonsense") is None

    if migrated_settings.database_url.startswith("postgresql"):
        dbname = migrated_settings.database_url.rsplit("/", 1)[1]
        base = servers.pg_admin_url.rsplit("/", 1)[0]
        dump = subprocess.run(["pg_dump", "--data-only", f"{base}/{dbname}"], capture_output=True, check=True).stdout
    else:
        session.commit()
        files = migrated_settings.data_dir.glob("orchestrator.db*")   # the database and its WAL
        dump = b"".join(f.read_bytes() for f in files)
    assert key.prefix.encode() in dump          # the dump is real: the visible prefix is there
    assert plaintext.encode() not in dump
    assert plaintext[len(key.prefix):].encode() not in dump

    api_keys.revoke_api_key(session, key.prefix)
    session.commit()
    assert api_keys.authenticate(session, plaintext) is None


def test_bootstrap_key_is_ensured_once(session, migrated_settings):
    plaintext = "ork_bootstrap_" + "x" * 30
    first = api_keys.ensure_api_key(session, plaintext)
    again = api_keys.ensure_api_key(session, plaintext)
    session.commit()
    assert first.id == again.id
    assert api_keys.authenticate(session, plaintext).is_admin
    assert len(session.scalars(select(api_keys.ApiKey)).all()) == 1
