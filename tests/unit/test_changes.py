"""What a reload changed, from two manifests (``apphost.serving.changes``)."""

from __future__ import annotations

from apphost.serving.changes import compare, describe_changes

OLD = {
    "apps": {"blog": "blog-dist==1.0", "old": "old-dist==0.1", "wiki": "wiki==2"},
    "routes": {"/blog": "blog", "/old": "old", "/wiki": "wiki"},
    "problems": ["something already wrong"],
}
NEW = {
    "apps": {"blog": "blog-dist==1.1", "notes": "notes==0.1", "wiki": "wiki==2"},
    "routes": {"/blog": "blog", "/notes": "notes", "/wiki": "wiki", "/": "wiki"},
    "problems": ["something already wrong", "plugin 'notes' (notes==0.1): kaput"],
}


def test_compare() -> None:
    assert compare(OLD, NEW) == {
        "added": ["app notes (notes==0.1)", "route / -> wiki", "route /notes -> notes"],
        "upgraded": ["app blog (blog-dist) 1.0 -> 1.1"],
        "removed": ["app old (old-dist==0.1)", "route /old (was old)"],
        "failed": ["plugin 'notes' (notes==0.1): kaput"],
    }


def test_one_line() -> None:
    line = describe_changes(compare(OLD, NEW))
    assert "\n" not in line
    assert line == (
        "added app notes (notes==0.1), route / -> wiki, route /notes -> notes;"
        " upgraded app blog (blog-dist) 1.0 -> 1.1;"
        " removed app old (old-dist==0.1), route /old (was old);"
        " failed: plugin 'notes' (notes==0.1): kaput"
    )


def test_nothing_changed_and_missing_manifests() -> None:
    assert describe_changes(compare(OLD, OLD)) == "no app or route changed"
    assert describe_changes(compare(None, None)) == "no app or route changed"
    assert compare(None, {"apps": {"a": "a==1"}})["added"] == ["app a (a==1)"]


def test_an_app_moving_to_another_distribution() -> None:
    changes = compare({"apps": {"a": "x==1"}}, {"apps": {"a": "y==2"}})
    assert changes["upgraded"] == ["app a x==1 -> y==2"]
