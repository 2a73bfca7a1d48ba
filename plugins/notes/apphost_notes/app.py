"""The notes Flask app; imported only when apphost loads the app, never by the hooks."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from flask import Flask, abort, redirect, render_template_string, request, url_for
from werkzeug.wrappers import Response

__all__ = ["make_app"]

INDEX = """<!doctype html>
<title>{{ title }}</title>
<h1>{{ title }}</h1>
<ul>
{%- for text in notes %}
  <li><a href="{{ url_for('show', note_id=loop.index) }}">{{ text }}</a></li>
{%- endfor %}
</ul>
<form method="post" action="{{ url_for('add') }}">
  <input name="text" required> <button>Add</button>
</form>
"""

NOTE = """<!doctype html>
<title>{{ title }}</title>
<p>{{ text }}</p>
<p><a href="{{ url_for('index') }}">All notes</a></p>
"""


def make_app(config: Mapping[str, Any]) -> Flask:
    """Make the notes app; each app keeps its own notes, in memory."""
    app = Flask(__name__)
    title = str(config.get("title", "Notes"))
    notes: list[str] = []
    lock = threading.Lock()  # apphost serves with threads

    @app.get("/")
    def index() -> str:
        return render_template_string(INDEX, title=title, notes=notes)

    @app.post("/")
    def add() -> Response:
        text = request.form.get("text", "").strip()
        if not text:
            abort(400)
        with lock:
            notes.append(text)
            note_id = len(notes)
        return redirect(url_for("show", note_id=note_id), 303)

    @app.get("/note/<int:note_id>")
    def show(note_id: int) -> str:
        if not 1 <= note_id <= len(notes):
            abort(404)
        return render_template_string(NOTE, title=title, text=notes[note_id - 1])

    @app.get("/links")
    def links() -> dict[str, str]:
        """What ``url_for`` builds here: tests check it against the mount."""
        return {
            "index": url_for("index"),
            "note": url_for("show", note_id=1),
            "index_external": url_for("index", _external=True),
            "note_external": url_for("show", note_id=1, _external=True),
        }

    return app
