"""Claims requests handed to sign-in (auth/flow.py): a resource's challenge and Entra's own
claims asked for together (reference §9.2, §1.6)."""

from __future__ import annotations

import json

from webapp.auth.flow import merge_claims

NBF = '{"access_token":{"nbf":{"essential":true, "value":"1700000000"}}}'
POLICIES = '{"access_token":{"polids":{"essential":true,"values":["p1"]}}}'


def test_a_challenge_and_entras_policy_ids_are_asked_for_in_one_sign_in() -> None:
    merged = merge_claims(NBF, POLICIES)
    assert merged is not None
    assert json.loads(merged) == {
        "access_token": {
            "nbf": {"essential": True, "value": "1700000000"},
            "polids": {"essential": True, "values": ["p1"]},
        }
    }


def test_one_claims_request_passes_as_it_means_and_none_stays_none() -> None:
    assert json.loads(merge_claims(None, NBF) or "") == json.loads(NBF)
    assert merge_claims(None, "") is None


def test_a_claims_request_that_is_not_json_is_passed_on_for_entra_to_judge() -> None:
    assert merge_claims("{not json", POLICIES) == "{not json"
