"""Redaction of what is stored for people to read."""
from orchestrator.llm.redaction import Redactor


def test_known_shapes_are_masked_and_ordinary_text_is_not():
    redact = Redactor(["my-own-secret"])
    value = {
        "headers": {"Authorization": "Bearer eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl"},
        "text": "keys sk-proj-AbCdEfGhIjKlMnOpQrSt and AKIAABCDEFGHIJKLMNOP, my-own-secret, "
                "mail a.b+c@example.co.uk or call (555) 123-4567 / +4915112345678",
        "kept": "on 2026-11-28 at 22:50:17, 1200 tokens, version 1.2.3",
        "n": 42,
    }
    out = redact(value)
    assert out["headers"]["Authorization"] == "Bearer [REDACTED]"
    assert out["text"] == ("keys [REDACTED] and [REDACTED], [REDACTED], mail [REDACTED:email] or call "
                           "[REDACTED:phone] / [REDACTED:phone]")
    assert out["kept"] == value["kept"] and out["n"] == 42


def test_short_secrets_are_not_masked_alone():
    assert Redactor(["abc"]).text("abc abcdef") == "abc abcdef"


def test_an_address_inside_a_long_run_of_name_characters_is_still_masked():
    """The e-mail pattern starts only where a run of name characters starts (linear time); an
    address glued to such a run is masked with it, as before."""
    assert Redactor().text("x" * 50 + "y@example.com, (z@example.org)") == \
        "[REDACTED:email], ([REDACTED:email])"
