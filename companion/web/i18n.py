"""The page's two languages, from gettext catalogs (companion/web/locale/<lang>/LC_MESSAGES/messages.po).

The .po files are the source; they are compiled in memory at start (Babel), so no compiled .mo file is
kept beside them to go stale. Message ids are English; the English catalog is empty on purpose.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("da", "en")
DEFAULT_LANGUAGE = "da"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"


@cache
def translations(language: str) -> gettext.GNUTranslations:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalog = read_po(source, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def choose_language(cookie: str | None, account_language: str | None, accept_language: str) -> str:
    """The user's own choice first (the switch on the page), then their account's, then the browser's."""
    for wanted in (cookie, account_language):
        if wanted in LANGUAGES:
            return wanted
    for part in accept_language.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE
