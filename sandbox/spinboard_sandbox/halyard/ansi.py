"""ANSI output as halyard-cli prints it.

Paths are in spinnaker/halyard at 23e66d69 as abbreviated in ``docs/fidelity.md``:
``cli/ui/v1/AnsiCode.java``, ``AnsiSnippet.java``, ``AnsiParagraphBuilder.java``,
``AnsiPrinter.java``, ``AnsiUi.java``; the global flags they read from
``cli/command/v1/GlobalOptions.java``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from spinboard_sandbox.halyard.java import java_split_lines, word_wrap

# --- ANSI output (AnsiCode, AnsiSnippet, AnsiParagraphBuilder, AnsiPrinter, AnsiUi) -------

RESET = "\033[0m"
BOLD = "\033[1m"
UNDERLINE = "\033[4m"
RED = "\033[31m"
GREEN = "\033[32m"
YELLOW = "\033[33m"
BLUE = "\033[34m"
MAGENTA = "\033[35m"
ERASE_LINE = "\033[2K"


@dataclass
class GlobalOptions:
    """``GlobalOptions`` and ``GlobalConfigOptions``: one per JVM, set while parsing."""

    color: bool = True
    debug: bool = False
    quiet: bool = False
    alpha: bool = False
    daemon_endpoint: str = "http://localhost:8064"
    log: str | None = None
    output: str | None = None
    deployment: str | None = None


class Ansi:
    """Snippets and paragraphs; an escape code is printed only while colour is on."""

    def __init__(self, options: GlobalOptions) -> None:
        self.options = options

    def code(self, code: str) -> str:
        return code if self.options.color else ""

    def snippet(
        self,
        message: str,
        color: str | None = None,
        styles: Sequence[str] = (),
        erase: str | None = None,
        move_up: int | None = None,
    ) -> str:
        parts = [self.code(erase) if erase else "", self.code(color) if color else ""]
        parts += [self.code(style) for style in styles]
        parts.append(self.code(f"\033[{move_up}A") if move_up is not None else "")
        return "".join(parts) + message + self.code(RESET)

    def paragraph(
        self, snippets: Sequence[str], indent: int = 0, indent_first: bool = True, width: int = 80
    ) -> str:
        body = "".join(snippets)
        if width < 0:
            return body
        pad = " " * indent
        lines = []
        for line in java_split_lines(body):
            wrapped = word_wrap(line, width, "\n" + pad)
            lines.append(pad + wrapped if indent_first else wrapped)
        return "\n".join(lines)

    def story(self, paragraphs: Sequence[str]) -> str:
        return "".join(paragraph + "\n" for paragraph in paragraphs)

    def newline(self) -> str:
        return self.paragraph([self.snippet("")])


class Printer:
    """``AnsiPrinter.out``/``err``: println adds a reset code before the newline."""

    def __init__(self, stream: TextIO, ansi: Ansi) -> None:
        self.stream = stream
        self.ansi = ansi

    def println(self, text: str) -> None:
        self.stream.write(text + self.ansi.code(RESET) + "\n")
        self.stream.flush()

    def print(self, text: str) -> None:
        self.stream.write(text + self.ansi.code(RESET))
        self.stream.flush()


class AnsiUi:
    def __init__(self, ansi: Ansi, out: Printer, err: Printer) -> None:
        self.ansi, self.out, self.err = ansi, out, err

    def _line(self, head: str, color: str | None, message: str, indent: int = 2) -> str:
        a = self.ansi
        styles = [BOLD]
        return a.paragraph(
            [a.snippet(head, color, styles), a.snippet(message)], indent, indent_first=False
        )

    def raw(self, message: str) -> None:
        self.out.println(self.ansi.snippet(message))

    def list_item(self, message: str) -> None:
        self.out.println(self._line("  - ", None, message, indent=4))

    def problem_location(self, location: str) -> None:
        a = self.ansi
        text = a.paragraph(
            [a.snippet("Validation in "), a.snippet(location, styles=[BOLD]), a.snippet(":")],
            2,
            indent_first=False,
        )
        self.err.println(text)

    def info(self, message: str) -> None:
        self.out.println(self._line("- INFO ", GREEN, message))

    def warning(self, message: str) -> None:
        self.err.println(self._line("- WARNING ", YELLOW, message))

    def error(self, message: str) -> None:
        self.err.println(self._line("! ERROR ", RED, message))

    def remediation(self, message: str) -> None:
        self.err.println(self._line("? ", MAGENTA, message))

    def list_remediation(self, message: str) -> None:
        self.err.println(self._line("  - ", None, message, indent=4))

    def success(self, message: str) -> None:
        self.out.println(self._line("+ ", GREEN, message))

    def failure(self, message: str) -> None:
        self.err.println(self._line("- ", RED, message))
