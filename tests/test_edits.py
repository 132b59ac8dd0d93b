"""gridmap.edits: an editor's fixes as typed values, applied to a campus (pure core)."""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace

import pytest
from shapely import affinity
from shapely.geometry import Point

from api.store import SqlCampusStore
from gridmap.crs import LocalFrame
from gridmap.doors import number_exterior_doors
from gridmap.edits import (
    DoorNumberEdit,
    Edit,
    MainEntranceEdit,
    PlacePoint,
    RemovePoint,
    RoomEdit,
    anchor_edits,
    apply_edits,
    edit_from_dict,
    edit_to_dict,
    locked_door_numbers,
    reapply_edits,
)
from gridmap.errors import InvalidModel
from gridmap.index import CampusIndex
from gridmap.lookup import lookup
from gridmap.model import AmenityKind, Campus, Unit, stable_id
from tests.campus_factory import small_campus


@pytest.fixture
def campus() -> Campus:
    return small_campus()


def _unit(campus: Campus, number: str) -> Unit:
    return next(u for u in campus.units if u.number == number)


def test_room_edit_renumbers_renames_and_lookup_finds_the_new_number(campus: Campus) -> None:
    room = _unit(campus, "214")
    edited, problems = apply_edits(campus, [RoomEdit(room.id, number="215", name="Chem Lab",
                                                     aliases=("chemistry", "Chemistry"))])
    assert problems == []
    after = next(u for u in edited.units if u.id == room.id)
    assert (after.number, after.name, after.aliases) == ("215", "Chem Lab", ("chemistry",))
    assert after.geometry.equals(room.geometry)
    answer = lookup(CampusIndex(edited), "room 215").to_dict()
    assert answer["status"] == "found"
    assert answer["candidates"][0]["feature_id"] == room.id
    assert answer["candidates"][0]["unit_number"] == "215"
    # the input campus is unchanged (edits are pure)
    assert _unit(campus, "214").id == room.id


def test_only_the_fields_given_change(campus: Campus) -> None:
    room = _unit(campus, "101")
    edited, _ = apply_edits(campus, [RoomEdit(room.id, name="Front Office")])
    after = next(u for u in edited.units if u.id == room.id)
    assert (after.number, after.name) == ("101", "Front Office")


def test_main_entrance_moves_within_its_building(campus: Campus) -> None:
    doors = [o for o in campus.openings if o.exterior]
    building = doors[0].building_id
    same = [o for o in doors if o.building_id == building]
    target = next(o for o in same if not o.main_entrance)
    edited, _ = apply_edits(campus, [MainEntranceEdit(target.id)])
    mains = [o.id for o in edited.openings if o.main_entrance and o.building_id == building]
    assert mains == [target.id]
    others = [o for o in edited.openings if o.building_id != building and o.main_entrance]
    assert others == [o for o in campus.openings if o.building_id != building and o.main_entrance]


def test_locked_door_number_swaps_and_survives_a_renumbering(campus: Campus) -> None:
    numbered = number_exterior_doors(campus)
    doors = [o for o in numbered.exterior_doors() if o.building_id == "A"]
    assert len(doors) >= 2
    first, second = doors[0], doors[1]
    edits = [DoorNumberEdit(first.id, str(second.number))]
    edited, problems = apply_edits(numbered, edits)
    assert problems == []
    by_id = {o.id: o for o in edited.openings}
    assert by_id[first.id].number == second.number
    assert by_id[second.id].number == first.number  # swapped: no number twice
    numbers = [o.number for o in edited.exterior_doors("A")]
    assert len(numbers) == len(set(numbers))
    # a renumbering from scratch (what a re-import with no previous does) loses the lock...
    fresh = number_exterior_doors(campus)
    assert {o.id: o.number for o in fresh.openings}[first.id] == first.number
    # ...and applying the kept edits again restores it
    again, _ = apply_edits(fresh, edits)
    assert {o.id: o.number for o in again.openings}[first.id] == second.number
    assert locked_door_numbers(edits) == {first.id: second.number}


def test_place_and_remove_points(campus: Campus) -> None:
    building = campus.buildings[0]
    c = building.footprint.centroid
    place = PlacePoint(AmenityKind.KNOX_BOX, "Knox box east door", (c.x, c.y),
                       building_id=building.id)
    edited, problems = apply_edits(campus, [place])
    assert problems == []
    added = [a for a in edited.amenities if a.id == place.amenity_id(campus.id)]
    assert len(added) == 1 and added[0].kind is AmenityKind.KNOX_BOX
    assert added[0].geometry.equals_exact(c, 1e-9)
    # placing the same point twice is one point (the id comes from the edit)
    twice, _ = apply_edits(campus, [place, place])
    assert len(twice.amenities) == len(campus.amenities) + 1
    gone_id = campus.amenities[0].id
    removed, _ = apply_edits(edited, [RemovePoint(gone_id), RemovePoint(added[0].id)])
    assert {a.id for a in removed.amenities} == {a.id for a in campus.amenities} - {gone_id}
    index = CampusIndex(edited)
    answer = lookup(index, "knox box").to_dict()
    assert added[0].id in {c["feature_id"] for c in answer["candidates"]}


@pytest.mark.parametrize("kind", ["knox_box", "aed", "gas_shutoff", "water_shutoff",
                                  "electric_shutoff", "rally_point"])
def test_every_kind_a_workspace_places_round_trips(kind: str, campus: Campus) -> None:
    c = campus.buildings[0].footprint.centroid
    edit = edit_from_dict({"op": "place", "kind": kind, "name": "x", "lonlat": [c.x, c.y]})
    assert edit_from_dict(edit_to_dict(edit)) == edit
    edited, _ = apply_edits(campus, [edit])
    assert {a.kind.value for a in edited.amenities} >= {kind}


def test_unknown_ids_are_reported_or_refused(campus: Campus) -> None:
    edits: list[Edit] = [RoomEdit("no-such-room", number="1"), DoorNumberEdit("no-such-door", "9"),
             RemovePoint("no-such-point"), MainEntranceEdit("nope")]
    edited, problems = apply_edits(campus, edits)
    assert len(problems) == 4
    assert edited.units == campus.units and edited.openings == campus.openings
    with pytest.raises(InvalidModel, match="no-such-room"):
        apply_edits(campus, edits, strict=True)


def test_interior_door_cannot_be_numbered(campus: Campus) -> None:
    inner = next((o for o in campus.openings if not o.exterior), None)
    if inner is None:
        inner = dataclasses.replace(campus.openings[0], id="inner", exterior=False)
        campus = dataclasses.replace(campus, openings=(*campus.openings, inner))
    with pytest.raises(InvalidModel, match="interior"):
        apply_edits(campus, [DoorNumberEdit(inner.id, "5")], strict=True)


@pytest.mark.parametrize(("raw", "why"), [
    ({"op": "teleport"}, "unknown edit op"),
    ({"op": "room", "unit_id": "u"}, "changes nothing"),
    ({"op": "room", "unit_id": "u", "number": "1", "colour": "red"}, "unknown field"),
    ({"op": "place", "kind": "unicorn", "lonlat": [0, 0]}, "unknown kind"),
    ({"op": "place", "kind": "aed", "lonlat": [math.nan, 42.0]}, "finite"),
    ({"op": "place", "kind": "aed", "lonlat": [42.7, -184.4]}, "longitude, latitude"),
    ({"op": "place", "kind": "aed", "lonlat": [1]}, "lonlat"),
    ({"op": "door_number", "opening_id": "d", "number": "7; DROP"}, "not a door number"),
    ({"op": "door_number", "opening_id": "d", "number": "7", "locked": False}, "locked"),
    ({"op": "room", "unit_id": "u", "name": "x" * 300}, "at most"),
    ({"op": "room", "unit_id": "u", "name": "a\x00b"}, "control"),
    ("room", "object"),
])
def test_bad_edits_name_the_problem(raw: object, why: str) -> None:
    with pytest.raises(InvalidModel, match=why):
        edit_from_dict(raw)  # type: ignore[arg-type]


# --- edits kept across re-imports that renumber, shift or drop rooms ------------------------


def _reimport(campus: Campus, *, renumber: dict[str, str] | None = None,
              shift_m: tuple[float, float] = (0.0, 0.0), drop: tuple[str, ...] = (),
              new_door_ids: bool = False) -> Campus:
    """The campus as an import of the changed drawing gives it: rooms renumbered get the ids
    their new numbers make (a swap swaps ids: what made edits land on the wrong room), the
    plan shifted (better control points), rooms gone, doors with new ids (handles)."""
    renumber = renumber or {}
    frame = LocalFrame(campus.crs)
    ordinal = {lv.id: lv.ordinal for lv in campus.levels}

    def moved(g):  # type: ignore[no-untyped-def]
        return frame.to_wgs84(affinity.translate(frame.to_local(g), *shift_m))

    units = []
    for u in campus.units:
        if u.number in drop:
            continue
        number = renumber.get(u.number, u.number)
        uid = u.id if number == u.number else stable_id(
            campus.id, u.building_id, ordinal[u.level_id], number)
        units.append(dataclasses.replace(u, id=uid, number=number, geometry=moved(u.geometry)))
    openings = [dataclasses.replace(o, id=f"{o.id}-resaved" if new_door_ids else o.id,
                                    geometry=moved(o.geometry)) for o in campus.openings]
    return dataclasses.replace(campus, units=tuple(units), openings=tuple(openings))


def _room_at(campus: Campus, place: Unit) -> Unit:
    """The room of ``campus`` on ``place``'s level that holds ``place``'s centre."""
    c = place.geometry.centroid
    return next(u for u in campus.units if u.level_id == place.level_id
                and u.geometry.buffer(1e-5).covers(c) and u.geometry.area
                < place.geometry.area * 2)


def test_anchor_records_a_point_inside_the_room_its_level_and_number(campus: Campus) -> None:
    room = _unit(campus, "214")
    [edit] = anchor_edits(campus, [RoomEdit(room.id, name="Chem Lab")])
    assert isinstance(edit, RoomEdit) and edit.at is not None
    assert room.geometry.contains(Point(edit.at))
    assert (edit.level_id, edit.was_number) == (room.level_id, "214")
    assert edit_from_dict(edit_to_dict(edit)) == edit  # kept as JSON with the workspace


def test_an_edit_follows_its_room_when_the_drawing_swaps_numbers(campus: Campus) -> None:
    a, b = _unit(campus, "214"), _unit(campus, "203")
    edits = anchor_edits(campus, [RoomEdit(a.id, name="Chem Lab", aliases=("chemistry",))])
    again = _reimport(campus, renumber={"214": "203", "203": "214"})
    assert {u.id for u in again.units} == {u.id for u in campus.units}  # the ids swapped rooms
    done = reapply_edits(again, edits)
    assert done.skipped == ()
    assert _room_at(done.campus, a).name == "Chem Lab"  # the room the editor fixed...
    assert _room_at(done.campus, a).number == "203"  # ...under the drawing's new number
    assert _room_at(done.campus, b).name == b.name  # the other room is left alone
    assert [m.how for m in done.moved] == ["place"]
    assert done.moved[0].message == ("room edit of 214 (name -> 'Chem Lab'; aliases -> chemistry)"
                                     ": found at its place (the drawing gives the room another "
                                     "number or id now); applied to room 203")


def test_an_edit_follows_its_room_to_a_new_number_and_a_shifted_plan(campus: Campus) -> None:
    a = _unit(campus, "101")
    edits = anchor_edits(campus, [RoomEdit(a.id, number="A-101", name="Front Office")])
    again = _reimport(campus, renumber={"101": "1.01"}, shift_m=(1.5, -1.0))
    edited, problems = apply_edits(again, edits)
    assert problems == []
    fixed = [u for u in edited.units if u.name == "Front Office"]
    assert [u.number for u in fixed] == ["A-101"]
    assert fixed[0].level_id == a.level_id  # not the room stacked above it


def test_an_edit_whose_room_is_gone_is_reported_with_the_edit_and_why(campus: Campus) -> None:
    a = _unit(campus, "214")
    edits = anchor_edits(campus, [RoomEdit(a.id, number="215")])
    done = reapply_edits(_reimport(campus, drop=("214",)), edits)
    [skipped] = done.skipped
    assert skipped.at is not None and a.geometry.contains(Point(skipped.at))
    assert skipped.ref == a.id
    assert "room edit of 214 (number -> '215') was not applied" in skipped.message
    assert "no room lies where it was" in skipped.message
    assert done.campus.units == _reimport(campus, drop=("214",)).units


def test_a_room_moved_away_is_found_by_its_old_number(campus: Campus) -> None:
    a = _unit(campus, "214")
    edits = anchor_edits(campus, [RoomEdit(a.id, name="Chem Lab")])
    again = _reimport(campus, shift_m=(500.0, 0.0))  # no room lies at the recorded point
    moved_away = dataclasses.replace(
        again, units=tuple(dataclasses.replace(u, id="new-id") if u.number == "214" else u
                           for u in again.units))
    done = reapply_edits(moved_away, edits)
    assert done.skipped == ()
    assert next(u for u in done.campus.units if u.id == "new-id").name == "Chem Lab"
    assert [m.how for m in done.moved] == ["number"]


def test_edits_kept_before_they_recorded_places_find_rooms_through_the_last_draft(
        campus: Campus) -> None:
    a = _unit(campus, "214")
    legacy = [RoomEdit(a.id, name="Chem Lab")]  # as older workspaces kept them: ids only
    draft, _ = apply_edits(campus, legacy)
    again = _reimport(campus, renumber={"214": "203", "203": "214"})
    wrong, _ = apply_edits(again, legacy)  # by id alone the edit lands on the other room
    assert _room_at(wrong, a).name != "Chem Lab"
    edited, problems = apply_edits(again, legacy, before=draft)
    assert problems == []
    assert _room_at(edited, a).name == "Chem Lab"


def test_door_edits_follow_a_door_whose_id_changed(campus: Campus) -> None:
    numbered = number_exterior_doors(campus)
    doors = [o for o in numbered.exterior_doors() if o.building_id == "A"]
    first, second = doors[0], doors[1]
    edits = anchor_edits(numbered, [DoorNumberEdit(first.id, "9"),
                                    MainEntranceEdit(second.id)])
    again = _reimport(numbered, new_door_ids=True, shift_m=(0.5, 0.5))
    done = reapply_edits(again, edits)
    assert done.skipped == ()
    by_id = {o.id: o for o in done.campus.openings}
    assert by_id[f"{first.id}-resaved"].number == "9"
    assert by_id[f"{second.id}-resaved"].main_entrance
    gone = dataclasses.replace(again, openings=tuple(
        o for o in again.openings if o.id != f"{first.id}-resaved"))
    [skipped] = reapply_edits(gone, edits).skipped
    assert "door number '9' locked on door" in skipped.message
    assert "no exterior door is within" in skipped.message


# --- through the workspace: saved fixes, a re-import that renumbers rooms, the report -------


def test_a_workspace_keeps_fixes_on_their_rooms_across_a_renumbering_reimport(
        store: SqlCampusStore) -> None:
    """As the workspace runs it: the editor's fixes saved on the draft (save_edits), then an
    import of the drawing renumbered by the architect, with one room gone (prepare_campus,
    the revision stored, import_finished as the import job calls them)."""
    from api.publish import check_servable
    from api.store_workspace import WorkspaceState, workspaces
    from api.workspace import import_finished, prepare_campus, save_edits

    campus = small_campus()
    first = store.save_revision(campus, source="import 1", publish=False)
    wss = workspaces(store)
    ws = wss.create(campus_id=campus.id, name="Lincoln", org_id=None, created_by="editor",
                    created_by_id=None, settings={})
    ws = wss.update(ws.id, draft_revision=first.number, state=WorkspaceState.IMPORTED)
    lab, office = _unit(campus, "214"), _unit(campus, "101")
    save_edits(store, ws, [{"op": "room", "unit_id": lab.id, "name": "Chem Lab"},
                           {"op": "room", "unit_id": office.id, "number": "1-01"}],
               actor="editor")

    drawn = _reimport(campus, renumber={"214": "203", "203": "214"}, drop=("101",))
    prepared = prepare_campus(store, ws.id, drawn)
    check_servable(prepared)
    second = store.save_revision(prepared, source="import 2", publish=False)
    result = SimpleNamespace(campus=prepared, warnings=[], findings=[], residuals={})
    report = import_finished(store, ws.id, result, second)

    draft = store.campus(campus.id, report["revision"])
    assert _room_at(draft, lab).name == "Chem Lab"  # on the room the editor fixed
    assert _room_at(draft, lab).number == "203"  # under the drawing's new number
    assert next(u for u in draft.units if u.id == lab.id).name != "Chem Lab"
    assert report["edits_applied"] == 1
    skipped = [f for f in report["findings"] if f["action"] == "edit skipped"]
    assert len(skipped) == 1
    assert "room edit of 101 (number -> '1-01') was not applied" in skipped[0]["message"]
    assert skipped[0]["at"] is not None and office.geometry.contains(Point(skipped[0]["at"]))
    moved = [f for f in report["findings"] if f["action"] == "edit applied where its room is now"]
    assert len(moved) == 1 and "Chem Lab" in moved[0]["message"]


def test_a_new_edit_names_its_room_by_id_whatever_place_it_claims(campus: Campus) -> None:
    """An editor's new edits (strict) are made on the campus they name: a place sent with
    one does not move it to another room, and an unknown id is refused."""
    a, b = _unit(campus, "214"), _unit(campus, "203")
    [at_b] = anchor_edits(campus, [RoomEdit(b.id, name="x")])
    assert isinstance(at_b, RoomEdit)
    claimed = RoomEdit(a.id, name="Chem Lab", at=at_b.at, level_id=b.level_id)
    edited, _ = apply_edits(campus, [claimed], strict=True)
    assert next(u for u in edited.units if u.id == a.id).name == "Chem Lab"
    assert next(u for u in edited.units if u.id == b.id).name == b.name
    with pytest.raises(InvalidModel, match="not in the campus"):
        apply_edits(campus, [dataclasses.replace(claimed, unit_id="gone")], strict=True)
