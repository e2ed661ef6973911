"""What Java does where halyard's output depends on it: ``String.hashCode`` and ``HashMap``/
``HashSet`` iteration order, ``String.split``/``trim``, and apache/commons-text 1.10.0
``src/main/java/org/apache/commons/text/WordUtils.java`` (``wrap``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


# --- what Java does, where the output depends on it ---------------------------------------


def java_string_hash(text: str) -> int:
    """``String.hashCode()``: over UTF-16 code units, as a signed 32-bit int."""
    data = text.encode("utf-16-le")
    value = 0
    for index in range(0, len(data), 2):
        value = (31 * value + int.from_bytes(data[index : index + 2], "little")) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def java_hash_order(items: Sequence[T], hash_of: Callable[[T], int]) -> list[T]:
    """The iteration order of a ``java.util.HashMap``/``HashSet`` holding ``items`` (inserted
    in this order): by bucket ``(h ^ h >>> 16) & (capacity - 1)``, then insertion order."""
    capacity = 16
    while len(items) > capacity * 0.75:
        capacity *= 2

    def bucket(item: T) -> int:
        value = hash_of(item) & 0xFFFFFFFF
        return (value ^ (value >> 16)) & (capacity - 1)

    ordered = sorted(enumerate(items), key=lambda pair: (bucket(pair[1]), pair[0]))
    return [item for _, item in ordered]


def java_split_lines(text: str) -> list[str]:
    """``text.split("\\n")``: trailing empty strings removed, no match -> the whole text."""
    if "\n" not in text:
        return [text]
    parts = text.split("\n")
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def java_split_commas(text: str) -> list[str]:
    """``value.split(",")`` of JCommander's ``CommaParameterSplitter``."""
    if "," not in text:
        return [text]
    parts = text.split(",")
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def java_trim(text: str) -> str:
    """``String.trim()``: strips every character up to U+0020 at both ends."""
    start, end = 0, len(text)
    while start < end and text[start] <= " ":
        start += 1
    while end > start and text[end - 1] <= " ":
        end -= 1
    return text[start:end]


def word_wrap(text: str, width: int, newline: str) -> str:
    """commons-text 1.10.0 ``WordUtils.wrap(str, width, newline, false)`` (wrapOn " ").

    Character counts include ANSI escape codes, as they do in halyard. A word longer than the
    width is not broken; leading spaces of a wrapped line are dropped."""
    width = max(width, 1)
    length = len(text)
    offset = 0
    wrapped: list[str] = []
    while offset < length:
        space = -1
        window = text[offset : min(offset + width + 1, length)]
        first = window.find(" ")
        if first == 0:
            offset += 1
            continue
        if first > 0:
            space = first + offset
        if length - offset <= width:
            break
        last = window.rfind(" ")
        if last > first:
            space = last + offset
        if space >= offset:
            wrapped.append(text[offset:space] + newline)
            offset = space + 1
            continue
        later = text.find(" ", offset + width)
        if later >= 0:
            wrapped.append(text[offset:later] + newline)
            offset = later + 1
        else:
            wrapped.append(text[offset:])
            offset = length
    wrapped.append(text[offset:])
    return "".join(wrapped)
