"""Everyday Japanese to the documents' words, through the English glosses JMdict gives both.

Discord users write 撃つ, 捕まえる, 値上がり where articles write 発砲, 拘束, 高騰. JMdict has
no Japanese-to-Japanese thesaurus, but it glosses both sides in English: 撃つ is "shoot",
and "shoot" is 発砲 / 射撃 / 銃撃. So a question word the documents never use is read as the
English keys it is a main translation of, and those keys are translated back exactly as an
English question word would be (`index.language.english`), with the same corpus-aware sense choice.
The table is the one already shipped for English questions; reversing it takes ~0.3 s once.
"""

from __future__ import annotations

import threading

from index import errors

MAX_SCORE = 100  # the word must be among a key's leading translations (table score x 100)
MAX_KEYS = 4  # English keys a word is read as
MAX_BRIDGE = 0.25  # the documents' word must be among those keys' leading translations
_lock = threading.Lock()
_reverse: dict[str, list[tuple[int, str]]] | None = None


def _table() -> dict[str, list[tuple[int, str]]]:
    """Headword -> [(score, English key)], best first; empty without the table."""
    global _reverse
    if _reverse is None:
        with _lock:
            if _reverse is None:
                _reverse = _build()
    return _reverse


def _build() -> dict[str, list[tuple[int, str]]]:
    from index.language import jmdict

    try:
        table = jmdict.load()
    except errors.TableMissing:
        return {}
    reverse: dict[str, list[tuple[int, str]]] = {}
    for line in table.lines():
        key, _, rest = line.partition("\t")
        if key.count(" ") > 1:  # long phrases gloss a sense, they do not name it
            continue
        for cell in rest.split("\t"):
            form, _, score = cell.rpartition(":")
            if form and score.isdigit() and int(score) <= MAX_SCORE:
                reverse.setdefault(form, []).append((int(score), key))
    for keys in reverse.values():
        keys.sort()
    return reverse


def english_keys(*forms: str) -> list[str]:
    """The English keys the first of `forms` JMdict knows is a leading translation of."""
    table = _table()
    for form in forms:
        found = table.get(form)
        if found:
            return [key for _, key in found[:MAX_KEYS]]
    return []


def warm_up() -> None:
    """Reverse the table now rather than on the first colloquial question."""
    _table()
