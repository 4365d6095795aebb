"""The jobs table's pages (issues 18 and 22): which page a ``page`` query value means and the
links under the table. The table shows ``dashboard.JOBS_PAGE`` jobs at a time."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from ..services.dashboard import JOBS_PAGE
from .trends import Sorting


def page_number(value: str, total: int, size: int = JOBS_PAGE) -> int:
    """The 1-based page ``value`` asks for, clipped to the pages ``total`` jobs fill (at least
    one): anything but ASCII digits (empty, zero, negative, "2.5", "٢") is page 1, a page past
    the last is the last. Like the other filter values, never an error."""
    last = max(1, -(-total // size))
    text = value.strip()
    if not (text.isascii() and text.isdigit()):
        return 1
    if len(text.lstrip("0")) > len(str(last)):  # a huge number: no int() of 10,000 digits
        return last
    return min(max(int(text), 1), last)


@dataclass(frozen=True)
class Paging:
    """Page ``number`` of the ``total`` jobs the filters select, in the order ``order``."""

    number: int
    total: int
    order: Sorting
    size: int = JOBS_PAGE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def start(self) -> int:
        """Index of the page's first job in the selection (0-based)."""
        return (self.number - 1) * self.size

    @property
    def first(self) -> int:  # 1-based, for "Jobs 51-100 of 500"
        return min(self.start + 1, self.total)

    @property
    def last(self) -> int:
        return min(self.start + self.size, self.total)

    def href(self, number: int) -> str:
        """The jobs page at page ``number`` with the same filters and order (page 1: no
        ``page`` parameter, the address the filters alone give)."""
        base = self.order.page_href()
        if number <= 1:
            return base
        return base + ("&" if "?" in base else "?") + urlencode({"page": number})

    @property
    def previous(self) -> str | None:
        return self.href(self.number - 1) if self.number > 1 else None

    @property
    def next(self) -> str | None:
        return self.href(self.number + 1) if self.number < self.pages else None
