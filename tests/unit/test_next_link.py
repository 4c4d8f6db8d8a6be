"""Deep links survive sign-in, and no `next` can send anyone off-site (security.md D5)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from webapp.auth.next_link import safe_next

KNOWN = {"/", "/photo", "/photo/resync", "/attributes", "/profile"}


def known(path: str) -> bool:
    return path in KNOWN


# Django's bad-URL corpus for url_has_allowed_host_and_scheme, plus encoded variants.
BAD = [
    "http://example.com",
    "http:///example.com",
    "https://example.com",
    "ftp://example.com",
    r"\\example.com",
    r"\\\example.com",
    r"/\\/example.com",
    r"\\\\example.com",
    r"\\//example.com",
    r"/\/example.com",
    r"\/example.com",
    r"/\example.com",
    "http:///example.com",
    r"http:/\//example.com",
    r"http:\/example.com",
    r"http:/\example.com",
    'javascript:alert("XSS")',
    "\njavascript:alert(x)",
    "java\nscript:alert(x)",
    "\x08//example.com",
    r"http://otherserver\@example.com",
    r"http:\\testserver\@example.com",
    r"http://testserver\me:pass@example.com",
    r"http://testserver\@example.com",
    r"http:\\testserver\confirm\me@example.com",
    "http:999999999",
    "ftp:9999999999",
    "\n",
    "http://[2001:cdba:0000:0000:0000:0000:3257:9652/",
    "http://2001:cdba:0000:0000:0000:0000:3257:9652]/",
    "//example.com",
    "/%2F/example.com",
    "/%2f%2fexample.com",
    "/%5Cexample.com",
    "/%5c%5cexample.com",
    "%2F%2Fexample.com",
    "/\t/example.com",
    "/%09/example.com",
    "/%0d%0aLocation:%20http://example.com",
    "/photo#@example.com",
    "/admin",
    "/static/css/app.css",
    "photo",
    "",
    None,
    "/" + "a" * 600,
]


def test_every_known_bad_target_falls_back_to_the_overview() -> None:
    for raw in BAD:
        assert safe_next(raw, known) == "/", raw


def test_helpdesk_deep_link_keeps_its_path_and_ticket() -> None:
    assert safe_next("/photo?ticket=INC0012345", known) == "/photo?ticket=INC0012345"
    assert safe_next("/photo/resync", known) == "/photo/resync"


@given(st.text(max_size=200))
def test_any_string_yields_a_local_known_path(raw: str) -> None:
    result = safe_next(raw, known)
    assert result.startswith("/") and not result.startswith("//")
    assert result.split("?")[0] in KNOWN
    assert "\\" not in result
