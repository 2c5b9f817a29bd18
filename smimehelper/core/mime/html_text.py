"""The readable text of an HTML part, for showing a message that has no plain-text part.

Only text is taken (no scripts, styles, links or images are followed): the HTML itself is kept
as the attachment message.html for whoever wants to see it as sent.
"""

from __future__ import annotations

import html.parser
import re

_BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "blockquote", "pre", "hr"}
_SKIP = {"script", "style", "head", "title", "template", "noscript"}


class _Text(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skipping += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(source: str) -> str:
    parser = _Text()
    try:
        parser.feed(source)
        parser.close()
    except Exception:  # noqa: BLE001 (hostile markup: show nothing rather than fail the message)
        return ""
    text = "".join(parser.parts)
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
