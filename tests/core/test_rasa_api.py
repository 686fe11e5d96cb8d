"""The JWTs Kesher's clients send Rasa's HTTP API: signed with RASA_API_TOKEN, admin, short-lived."""

from __future__ import annotations

import time

import jwt
import pytest

from core.rasa_api import JWT_METHOD, TOKEN_SECONDS, api_headers, api_token

SECRET = "a-test-secret-that-is-long-enough-0123456789"


def test_a_token_is_an_admin_for_a_few_minutes_and_only_under_its_secret():
    payload = jwt.decode(api_token(SECRET), SECRET, algorithms=[JWT_METHOD])
    assert payload["user"]["role"] == "admin"
    assert 0 < payload["exp"] - time.time() <= TOKEN_SECONDS
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(api_token(SECRET), "another-secret-that-is-long-enough-0123", algorithms=[JWT_METHOD])
    expired = api_token(SECRET, seconds=-60)
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(expired, SECRET, algorithms=[JWT_METHOD])


def test_the_header_carries_the_token_and_never_the_secret():
    header = api_headers(SECRET)["Authorization"]
    assert header.startswith("Bearer ") and SECRET not in header
