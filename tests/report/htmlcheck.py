"""Checks that an HTML file is well-formed and self-contained (shared by the report and CLI tests)."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: dict[str, int] = {}
        self.urls: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.ids: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        for name, value in attrs:
            if name in ("src", "href", "action", "data", "poster", "srcset") and value is not None:
                self.urls.append((tag, name, value))
            if name == "id":
                self.ids.append(value)
            if tag == "a" and name == "href":
                self.hrefs.append(value)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
        else:
            self.stack.pop()


def check_html(path: Path) -> _Checker:
    """Parse the file; assert it is well-formed, self-contained, and that its links resolve. Returns the parser."""
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    c = _Checker()
    c.feed(text)
    c.close()
    assert not c.errors, c.errors[:5]
    assert not c.stack, f"unclosed: {c.stack}"
    assert len(c.ids) == len(set(c.ids)), "duplicate ids"
    # self-contained: no URL that leaves the file, other than links to the exports next to it
    images = r"data:image/(?:png|svg\+xml);base64,[A-Za-z0-9+/=]+"
    assert not re.search(r"(?i)(https?:|ftp:)?//[a-z0-9]", re.sub(images, "", text))
    assert "@import" not in text and "url(" not in text
    for tag, attr, value in c.urls:
        if tag == "img":
            assert re.fullmatch(images, value), value[:40]
            if value.startswith("data:image/svg+xml"):  # an SVG that refers to nothing outside itself
                svg = base64.b64decode(value.split(",", 1)[1]).decode("utf-8")
                assert svg.startswith("<?xml") and "<svg" in svg
                assert not re.search(r'(?:xlink:)?href="(?!#)', svg), "an SVG refers outside itself"
        elif tag == "a":
            assert value.startswith("#") or (path.parent / value).exists(), value  # an export: file or folder
        else:
            raise AssertionError(f"<{tag} {attr}=...> refers to something outside the file: {value[:60]}")
    for href in c.hrefs:
        if href.startswith("#"):
            assert href[1:] in c.ids, href
    return c
