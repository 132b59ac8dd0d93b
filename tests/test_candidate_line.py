"""The CLI's one-line answer: every nearby item says its level (and building) when they are not
the candidate's, and the stairs to take when the answer knows them."""

from __future__ import annotations

from typing import Any

import pytest

from api import cli
from gridmap.model import Campus


def _item(cell: str, metres: float, **extra: Any) -> dict[str, Any]:
    return {"cell": cell, "distance_m": metres, "building_id": "A", "building": "A",
            "level_ordinal": 0, **extra}


def _candidate(**extra: Any) -> dict[str, Any]:
    return {"label": "Building A (Main Building) · 2nd Floor · Room 214 Science Lab",
            "building_id": "A", "level_ordinal": 1, "usng": "16T GN 10468 30723", **extra}


def test_same_level_items_stay_short() -> None:
    c = _candidate(level_ordinal=0, nearest_doors=[_item("G6", 29.4, number="3", same_level=True)],
                   nearest_aed=_item("H7", 11.0, same_level=True, level_name="1st Floor"))
    line = cli.candidate_line(c)
    assert "door 3 (29 m, G6)" in line
    assert "AED H7 (11 m)" in line


def test_other_level_items_name_their_level_and_the_stairs() -> None:
    c = _candidate(
        nearest_doors=[_item("G6", 29.0, number="3", same_level=False, level_name="1st Floor",
                             via="Stair 1")],
        nearest_aed=_item("H7", 11.2, same_level=False, level_name="1st Floor", via="Stair 2"),
        nearest_trauma_kit=_item("H6", 8.0, level_ordinal=1, same_level=True,
                                 level_name="2nd Floor"),
    )
    line = cli.candidate_line(c)
    assert "door 3 (29 m, G6, 1st Floor via Stair 1)" in line
    assert "AED H7 (11 m, 1st Floor via Stair 2)" in line
    assert "Trauma kit H6 (8 m)" in line


def test_without_the_same_level_flag_ordinals_are_compared() -> None:
    """An older server's answer has no same_level/level_name: the ordinal still shows."""
    c = _candidate(nearest_knox_box=_item("I7", 37.0), nearest_aed=_item("H7", 11.0,
                                                                          level_ordinal=1))
    line = cli.candidate_line(c)
    assert "Knox box I7 (37 m, level 0)" in line
    assert "AED H7 (11 m)" in line


def test_other_building_is_named_and_flags_are_shown() -> None:
    c = _candidate(level_ordinal=0, flags=["label only, no outline"],
                   nearest_knox_box=_item("D4", 66.0, building_id="B", building="B",
                                          same_level=True))
    line = cli.candidate_line(c)
    assert "Knox box D4 (66 m, Building B)" in line
    assert line.startswith(f"{c['label']} · label only, no outline · USNG")


def test_cli_lookup_says_the_level_of_doors_below(stored_campus: Campus,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Room 214 is upstairs; every exterior door of the test campus is on the ground floor."""
    assert cli.main(["lookup", stored_campus.id, "rm 214"]) == 0
    line = capsys.readouterr().out.splitlines()[1]
    doors = next(part for part in line.split(" · ")
                 if part.startswith(("door ", "unnumbered door ")))
    ground = next(lv for lv in stored_campus.levels if lv.building_id == "A" and lv.ordinal == 0)
    assert doors.count(ground.name) == 2 or doors.count("level 0") == 2, doors


def test_a_flag_the_label_already_says_is_not_repeated() -> None:
    c = _candidate(label="Building E · Ground · Room E010 Nap Room · approximate location "
                         "(label only, no outline) · grid E7 (E7-5)",
                   flags=["label only, no outline", "straight-line distances: no hallway data"])
    line = cli.candidate_line(c)
    assert line.count("label only, no outline") == 1
    assert f"{c['label']} · straight-line distances: no hallway data · USNG" in line
