"""An import makes a draft: officers see only the published revision; ``--publish`` publishes
in the same step through the atomic, expected-current publish of ``gridmap publish``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import cli, store_publish
from api.app import create_app
from api.settings import Settings
from api.store import Role, SqlCampusStore
from api.store_identity import Organisation
from api.tokens import create_token

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "samples" / "lincoln_ridge" / "campus.toml"
CAMPUS = "lincoln-ridge"
pytestmark = pytest.mark.skipif(not SAMPLE.exists(), reason="sample campus not present")


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    folder = tmp_path / "lincoln_ridge"
    shutil.copytree(SAMPLE.parent, folder)
    return folder / "campus.toml"


def _rename_knox_box(manifest: Path) -> None:
    """A change the diff names: the main entrance's Knox box is renamed."""
    pois = manifest.parent / "pois.csv"
    text = pois.read_text()
    assert "Knox Box - Main Entrance" in text
    pois.write_text(text.replace("Knox Box - Main Entrance", "Knox Box - Front Doors"))


@pytest.fixture
def tokens(store: SqlCampusStore, district: Organisation) -> dict[str, str]:
    officer, _ = create_token(store, "officer", Role.OFFICER, org=district.id)
    editor, _ = create_token(store, "editor", Role.EDITOR, org=district.id)
    return {"officer": officer, "editor": editor}


@pytest.fixture
def api(settings: Settings, store: SqlCampusStore) -> Iterator[TestClient]:
    with TestClient(create_app(settings, store), base_url="http://127.0.0.1") as c:
        yield c


def _get(api: TestClient, token: str, path: str, **params: Any) -> Any:
    return api.get(path, params=params, headers={"Authorization": f"Bearer {token}"})


def test_a_new_campus_imports_as_a_draft_served_to_nobody(
    manifest: Path, store: SqlCampusStore, tokens: dict[str, str], api: TestClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["import", str(manifest)]) == 0
    out = capsys.readouterr().out
    assert f"{CAMPUS}: revision 1 is a draft, served to nobody until published" in out
    assert f"gridmap publish {CAMPUS} --revision 1 --expect-current none" in out
    (info,) = store.revisions(CAMPUS)
    assert not info.published
    officer, editor = tokens["officer"], tokens["editor"]
    for token in (officer, editor):  # nothing published: no campus to read yet
        assert _get(api, token, f"/campuses/{CAMPUS}").status_code == 404
        assert _get(api, token, "/campuses").json()["campuses"] == []
        assert _get(api, token, f"/campuses/{CAMPUS}/lookup", q="gym").status_code == 404
    # an editor publishes it (expecting nothing published yet); then officers see it
    published = api.post(f"/campuses/{CAMPUS}/revisions/1/publish", json={"expect_current": None},
                          headers={"Authorization": f"Bearer {editor}"})
    assert published.status_code == 200, published.text
    assert _get(api, officer, f"/campuses/{CAMPUS}").json()["revision"] == 1


def test_a_plain_reimport_is_a_draft_officers_cannot_see_and_editors_review(
    manifest: Path, store: SqlCampusStore, tokens: dict[str, str], api: TestClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["import", "--publish", str(manifest)]) == 0
    _rename_knox_box(manifest)
    assert cli.main(["import", str(manifest)]) == 0
    out = capsys.readouterr().out
    assert f"gridmap diff {CAMPUS} 1 2" in out
    assert f"gridmap publish {CAMPUS} --revision 2 --expect-current 1" in out
    assert store.current_revision(CAMPUS) == 1

    officer, editor = tokens["officer"], tokens["editor"]
    # officers: the published revision only, in the list, the campus and its lookups
    assert [c["revision"] for c in _get(api, officer, "/campuses").json()["campuses"]] == [1]
    assert _get(api, officer, f"/campuses/{CAMPUS}").json()["revision"] == 1
    answer = _get(api, officer, f"/campuses/{CAMPUS}/lookup", q="knox box main entrance")
    assert answer.status_code == 200 and answer.json()["revision"] == 1
    listed = _get(api, officer, f"/campuses/{CAMPUS}/revisions").json()["revisions"]
    assert [r["number"] for r in listed] == [1]
    assert _get(api, officer, f"/campuses/{CAMPUS}/revisions/2/diff").status_code == 403
    # editors: the draft in the revisions and what changed in it
    listed = _get(api, editor, f"/campuses/{CAMPUS}/revisions").json()["revisions"]
    assert [(r["number"], r["published"]) for r in listed] == [(1, True), (2, False)]
    diff = _get(api, editor, f"/campuses/{CAMPUS}/revisions/2/diff").json()
    assert diff["against"] == 1
    text = str(diff)
    assert "Knox Box - Front Doors" in text and "Knox Box - Main Entrance" in text


def test_import_publish_publishes_atomically_and_is_audited(
    manifest: Path, store: SqlCampusStore, district: Organisation,
    capsys: pytest.CaptureFixture[str],
) -> None:
    flips: list[tuple[str, int, int | None]] = []
    real = store_publish.publishing

    def watched(s: Any) -> store_publish.Publishing:
        pub = real(s)
        pub.before_flip = lambda cid, n, expect: flips.append((cid, n, expect))
        return pub

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(store_publish, "publishing", watched)
        assert cli.main(["import", "--publish", str(manifest)]) == 0
        _rename_knox_box(manifest)
        assert cli.main(["import", "--publish", str(manifest)]) == 0
    assert f"{CAMPUS}: published revision 2" in capsys.readouterr().out
    # both went through the one conditional flip, each expecting what was current before
    assert flips == [(CAMPUS, 1, None), (CAMPUS, 2, 1)]
    assert store.current_revision(CAMPUS) == 2
    assert all(r.published for r in store.revisions(CAMPUS))
    actions = [(e.action, e.detail) for e in reversed(store.audit_log())  # oldest first
               if e.campus_id == CAMPUS]
    assert [a for a, _ in actions if a in ("import", "publish")] == \
        ["import", "publish", "import", "publish"]
    assert any(a == "publish" and d.startswith("revision 2 (was 1)") for a, d in actions)


def test_a_publish_between_import_and_flip_is_a_conflict_naming_both(
    manifest: Path, settings: Settings, store: SqlCampusStore, district: Organisation,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["import", "--publish", str(manifest)]) == 0
    _rename_knox_box(manifest)
    assert cli.main(["import", str(manifest)]) == 0  # draft 2, reviewed by someone else
    (manifest.parent / "pois.csv").write_text(
        (manifest.parent / "pois.csv").read_text().replace("AED - Main Office Hall",
                                                           "AED - Office"))
    real = store_publish.publishing
    other = SqlCampusStore(settings.resolved_database_url)  # another editor's process

    def racing(s: Any) -> store_publish.Publishing:
        pub = real(s)

        def meanwhile(cid: str, n: int, expect: int | None) -> None:
            pub.before_flip = None
            real(other).publish(cid, 2, expect_current=1)  # lands first

        pub.before_flip = meanwhile
        return pub

    capsys.readouterr()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(store_publish, "publishing", racing)
            assert cli.main(["import", "--publish", str(manifest)]) == 2
    finally:
        other.close()
    err = capsys.readouterr().err
    assert "you expected revision 1 to be current, but revision 2 is" in err
    assert "Revision 3 stays a draft: review it with gridmap diff lincoln-ridge 2 3" in err
    assert f"gridmap publish {CAMPUS} --revision 3 --expect-current 2" in err
    assert store.current_revision(CAMPUS) == 2  # the other editor's publish stands
    assert [(r.number, r.published) for r in store.revisions(CAMPUS)] == \
        [(1, True), (2, True), (3, False)]
    refused = [e for e in store.audit_log() if e.action == "publish_refused"]
    assert len(refused) == 1 and "RevisionConflict" in refused[0].detail


def test_import_manifest_stores_a_draft_unless_asked(
    manifest: Path, store: SqlCampusStore, district: Organisation,
) -> None:
    draft, _ = cli.import_manifest(store, manifest)
    assert draft is not None and not draft.published
    published, _ = cli.import_manifest(store, manifest, publish=True)
    assert published is not None and published.published
    assert store.current_revision(CAMPUS) == published.number == 2


def test_an_import_job_stores_a_draft_unless_it_asks_to_publish(
    manifest: Path, settings: Settings, store: SqlCampusStore, district: Organisation,
) -> None:
    from api.jobs import JobEnv, JobKind, JobQueue, run_import

    queue = JobQueue(store.engine)
    env = JobEnv(store, settings)
    plain = queue.enqueue(JobKind.IMPORT, CAMPUS, {"manifest": str(manifest)},
                          requested_by="cli:facilities")
    assert run_import(env, plain, lambda p, m: None).revision == 1
    assert not store.revisions(CAMPUS)[0].published
    assert CAMPUS not in {c.id for c in store.list_campuses()}  # served to nobody
    asked = queue.enqueue(JobKind.IMPORT, CAMPUS, {"manifest": str(manifest), "publish": True},
                          requested_by="cli:facilities")
    assert run_import(env, asked, lambda p, m: None).revision == 2
    assert store.current_revision(CAMPUS) == 2  # expected nothing published, and none was
    (entry,) = [e for e in store.audit_log() if e.action == "publish"]
    assert entry.token_name == "cli:facilities" and entry.detail.startswith("revision 2 (was none)")


def test_an_import_job_that_died_before_publishing_publishes_on_its_rerun(
    manifest: Path, settings: Settings, store: SqlCampusStore, district: Organisation,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from api.jobs import JobEnv, JobKind, JobQueue, run_import

    job = JobQueue(store.engine).enqueue(
        JobKind.IMPORT, CAMPUS, {"manifest": str(manifest), "publish": True},
        requested_by="tests")
    env = JobEnv(store, settings)

    def dies(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the worker died here")

    with monkeypatch.context() as mp:
        mp.setattr(cli, "publish_imported", dies)
        with pytest.raises(RuntimeError):
            run_import(env, job, lambda p, m: None)
    assert not store.revisions(CAMPUS)[0].published  # stored, not published
    assert run_import(env, job, lambda p, m: None).revision == 1
    assert store.current_revision(CAMPUS) == 1
    assert [r.number for r in store.revisions(CAMPUS)] == [1]
