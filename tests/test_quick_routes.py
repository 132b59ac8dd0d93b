"""Lookups and kept tiles answered before FastAPI's per-request work (api.quick_route).

The quick answer must be the full handler's answer, audited the same way, and anything it
cannot answer from memory — a malformed question, a missing credential, a first load — must
reach the full handler unchanged (same status, same error).
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

import api.routes_campus
import api.routes_map
from api.quick_route import bounded_int
from api.store import SqlCampusStore

CAMPUS = "test-campus"
LOOKUP = f"/campuses/{CAMPUS}/lookup"


def _no_thread(*_args: Any, **_kwargs: Any) -> Any:
    raise AssertionError("a question answered from memory went to a worker thread")


def test_a_repeated_question_is_answered_from_memory_as_the_full_handler_answers_it(
        viewer: TestClient, store: SqlCampusStore, monkeypatch: pytest.MonkeyPatch) -> None:
    first = viewer.get(LOOKUP, params={"q": "room 101"})  # loads the campus in a worker thread
    assert first.status_code == 200
    monkeypatch.setattr(api.routes_campus, "run_in_threadpool", _no_thread)
    again = viewer.get(LOOKUP, params={"q": "room 101"})
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["cache-control"] == first.headers["cache-control"]
    store.flush_audit()
    lookups = [e for e in store.audit_log() if e.action == "lookup"]
    assert len(lookups) == 2  # every request audited, quick or not


@pytest.mark.parametrize(("params", "status"), [
    ({"q": ""}, 422),
    ({"q": "x" * 10_000}, 422),
    ({"q": "room 101", "limit": "0"}, 422),
    ({"q": "room 101", "limit": "51"}, 422),
    ({"q": "room 101", "limit": "ten"}, 422),
    ({}, 422),
])
def test_a_malformed_question_gets_the_full_handlers_refusal(
        viewer: TestClient, params: dict[str, str], status: int) -> None:
    viewer.get(LOOKUP, params={"q": "room 101"})  # campus in memory: the quick path is open
    response = viewer.get(LOOKUP, params=params)
    assert response.status_code == status
    assert "detail" in response.json() or "error" in response.json()


def test_a_question_asked_twice_in_one_url_is_left_to_the_full_handler(
        viewer: TestClient) -> None:
    viewer.get(LOOKUP, params={"q": "room 101"})
    response = viewer.get(LOOKUP, params=[("q", "room 101"), ("q", "door 1")])
    assert response.status_code == 200
    assert response.json()["query"] in {"room 101", "door 1"}


def test_no_credential_is_refused_even_when_the_answer_is_kept(
        viewer: TestClient, viewer_token: str) -> None:
    assert viewer.get(LOOKUP, params={"q": "room 101"}).status_code == 200
    del viewer.headers["Authorization"]
    assert viewer.get(LOOKUP, params={"q": "room 101"}).status_code == 401
    viewer.headers["Authorization"] = "Bearer gm_not-a-token"
    assert viewer.get(LOOKUP, params={"q": "room 101"}).status_code == 401


@pytest.mark.parametrize(("text", "expected"), [
    ("7", 7), ("-3", -3), ("0", 0), ("50", 50), ("51", None), ("-4", None), ("", None),
    ("1e3", None), ("٣", None), (" 7", None), ("9" * 13, None),
])
def test_bounded_int(text: str, expected: int | None) -> None:
    assert bounded_int(text, -3, 50) == expected


def test_the_lookup_and_tile_routes_are_matched_before_every_other_router(
        client: TestClient) -> None:
    """FastAPI tries included routers in order, on every request: the hot ones come first."""
    paths = [getattr(route, "path", "") for included in client.app.router.routes  # type: ignore[attr-defined]
             for route in included.original_router.routes]
    hot = {paths.index("/campuses/{campus_id}/lookup"),
           paths.index("/campuses/{campus_id}/levels/{ordinal}/tiles/{z}/{x}/{y}.png")}
    campus_and_map = len(api.routes_campus.router.routes) + len(api.routes_map.router.routes)
    assert max(hot) < campus_and_map
