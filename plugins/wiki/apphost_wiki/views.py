"""The wiki's views. Links come from ``reverse()``, which prepends the mount (SCRIPT_NAME)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

# slug -> (title, text); a real wiki would keep these in a database.
PAGES: dict[str, tuple[str, str]] = {
    "home": ("Home", "Welcome to the wiki, served by Django inside apphost."),
    "about": ("About", "Every link here is made by reverse(), so it knows the mount."),
}


def index(request: HttpRequest) -> HttpResponse:
    items = format_html_join(
        "\n",
        '<li><a href="{}">{}</a></li>',
        ((reverse("page", args=[slug]), title) for slug, (title, _) in PAGES.items()),
    )
    return HttpResponse(
        format_html("<!doctype html>\n<title>Wiki</title>\n<ul>\n{}\n</ul>\n", items)
    )


def page(request: HttpRequest, slug: str) -> HttpResponse:
    if slug not in PAGES:
        raise Http404(slug)
    title, text = PAGES[slug]
    return HttpResponse(
        format_html(
            '<!doctype html>\n<title>{}</title>\n<h1>{}</h1>\n<p>{}</p>\n<a href="{}">All pages</a>\n',
            title,
            title,
            text,
            reverse("index"),
        )
    )


def links(request: HttpRequest) -> JsonResponse:
    """What ``reverse()`` builds here: tests check it against the mount."""
    home = reverse("page", args=["home"])
    return JsonResponse(
        {"index": reverse("index"), "home": home, "home_absolute": request.build_absolute_uri(home)}
    )
