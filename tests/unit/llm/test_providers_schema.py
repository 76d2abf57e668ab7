"""Providers' rows on each database: cascades, and a daily quota that concurrent calls cannot
overdraw."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from orchestrator.db import Credential, Endpoint, LLMModel, Provider
from orchestrator.db.types import utcnow
from orchestrator.llm.resolution import Unusable, reserve_credential, resolve
from orchestrator.services import providers


def test_deleting_a_provider_deletes_its_endpoints_credentials_and_models(world):
    provider_id = world.provider(keys=("sk-one-000000000001", "sk-two-000000000002"))
    with world.sessions.begin() as s:
        providers.delete_provider(s, s.merge(world.owner), provider_id)
    with world.sessions() as s:
        for model in (Provider, Endpoint, Credential, LLMModel):
            assert s.scalar(select(func.count()).select_from(model)) == 0, model.__tablename__


def test_the_last_request_of_a_quota_goes_to_one_caller_only(world):
    world.provider(quota_limit=3)
    with world.sessions() as s:
        target = resolve(s, world.owner.id, "acme/m1")

    def reserve(_):
        try:
            with world.sessions.begin() as s:
                return reserve_credential(s, world.keyring, target, utcnow()).alias
        except Unusable as exc:
            return str(exc)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(reserve, range(8)))
    assert results.count("k1") == 3, results
    assert all("used its daily quota of 3 requests" in r or "taken by another call" in r
               for r in results if r != "k1")
    with world.sessions() as s:
        assert s.scalar(select(Credential.quota_used)) == 3
