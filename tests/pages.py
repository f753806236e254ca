"""An HTML page as the tests read it: its tags, attributes and text (Python's own parser,
so no script can hide in what it parses)."""

from __future__ import annotations

from html.parser import HTMLParser


class Page(HTMLParser):
    """Tags, attributes (tag, name, value) and text of an HTML page."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []
        self.texts: list[str] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(tag, name, value or "") for name, value in attrs]

    def handle_data(self, data: str) -> None:
        self.texts.append(data)

    @property
    def text(self) -> str:
        """The text exactly as written (entities decoded)."""
        return "".join(self.texts)

    @property
    def words(self) -> str:
        """The text as read: runs of white space as one space."""
        return " ".join(self.text.split())

    def values(self, name: str) -> list[str]:
        """The values of every attribute called ``name``."""
        return [value for _, key, value in self.attributes if key == name]
