"""The scale bench's stores: the bulk copies are campuses the store reads as it reads any
(rows, PostGIS columns, owners), so the bench measures the normal read path."""

from __future__ import annotations

from api.auth import verify_token
from api.authz import AccessView, sees
from api.settings import Settings
from api.store import SqlCampusStore
from api.store_identity import identity
from bench.bench_lookup import build_campus
from bench.bench_scale import DISTRICTS, fill_store
from tests.campus_factory import CENTRE, small_campus


def test_a_filled_store_holds_the_copies_as_campuses(settings: Settings) -> None:
    url = settings.resolved_database_url
    campus, _ = build_campus()
    filler = small_campus()
    total = 2 + 2 * DISTRICTS
    tokens, orgs = fill_store(url, campus, filler, total)
    store = SqlCampusStore(url)
    try:
        ids = [s.id for s in store.list_campuses()]
        assert len(ids) == total and campus.id in ids and filler.id in ids
        copies = sorted(set(ids) - {campus.id, filler.id})
        original = store.campus(filler.id)
        for copy in copies:
            stored = store.campus(copy)  # features and revision rows came along
            assert stored == original  # the same features (naming the filler: a copy)
            assert store.current_revision(copy) == store.current_revision(filler.id)
        # the geometry (PostGIS columns on PostgreSQL) came along: every copy is at the filler
        assert set(store.campuses_at(*CENTRE)) >= {filler.id, *copies}
        ident = identity(store)
        district = ident.visible_campuses(orgs["district"])
        assert campus.id in district and len(district) == 1 + len(copies) // DISTRICTS
        assert ident.visible_campuses(orgs["police"]) == district  # the partnership: all
        access = AccessView(ident)
        for who in ("district", "police"):
            principal = verify_token(store, tokens[who])
            assert sees(principal, campus.id, access)
            assert not sees(principal, filler.id, access)  # another district's
    finally:
        store.close()
