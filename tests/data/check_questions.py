#!/usr/bin/env python3
"""Validate tests/data/questions.jsonl against the corpus.

Usage: python tests/data/check_questions.py [questions.jsonl] [corpus_dir]

Checks:
  * every line is a JSON object with exactly the keys
    question, evidence, kind, lang, qtype, split and valid values;
  * answerable kinds have 1-3 evidence strings of 8-30 characters,
    unanswerable kinds have none;
  * every evidence string occurs in the corpus after NFKC normalisation
    and whitespace removal, inside a single line of a single file
    (so it never spans a line break) and without a sentence end (。);
  * minimum counts per kind, a roughly even dev/test split per kind,
    no duplicate questions, the headline questions are present, and at
    least 6 unanswerable questions per language share words with the corpus.
Prints counts per kind/split and exits 1 on any problem.
"""
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_QUESTIONS = HERE / "questions.jsonl"
DEFAULT_CORPUS = HERE.parent.parent / "corpus"

KEYS = {"question", "evidence", "kind", "lang", "qtype", "split"}
KIND_LANG = {
    "ja-exact": "ja",
    "ja-paraphrase": "ja",
    "en": "en",
    "unanswerable-ja": "ja",
    "unanswerable-en": "en",
}
MIN_COUNTS = {
    "ja-exact": 20,
    "ja-paraphrase": 15,
    "en": 30,
    "unanswerable-ja": 12,
    "unanswerable-en": 12,
}
QTYPES = {"who", "how_many", "where", "when", "why", "what", None}
SPLITS = {"dev", "test"}
HEADLINES = ["CSTOの議長は誰?", "カザフスタンで拘束された人数は", "who chairs CSTO?"]
# Names the corpus mentions; used to count "near-miss" unanswerables.
EN_CORPUS_NAMES = [
    "kazakhstan", "tokayev", "pashinyan", "almaty", "armenia", "azerbaijan",
    "csto", "lake sev", "baikonur", "nazarbayev", "nur-sultan", "belarus",
    "kyrgyzstan", "tajikistan", "russia", "ukraine", "zelensky", "putin",
    "blinken", "wang yi", "aliyev", "lukashenko", "geneva",
]
JA_CORPUS_NAMES = [
    "カザフスタン", "トカエフ", "パシニャン", "アルマトイ", "アルメニア",
    "アゼルバイジャン", "CSTO", "セブ湖", "バイコヌール", "ナザルバエフ",
    "ヌルスルタン", "ベラルーシ", "キルギス", "タジキスタン", "ロシア",
    "ウクライナ", "ゼレンスキー", "プーチン", "ブリンケン", "王毅", "アリエフ",
    "ルカシェンコ", "ジュネーブ", "国防次官",
]
JA_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


def norm(s):
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s))


def main():
    qpath = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_QUESTIONS
    cdir = Path(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_CORPUS
    errors = []

    files = sorted(cdir.glob("*.txt"))
    if not files:
        print(f"no corpus files in {cdir}")
        return 1
    raw = {f.name: f.read_text(encoding="utf-8") for f in files}
    whole = "".join(norm(t) for t in raw.values())
    lines = [norm(line) for t in raw.values() for line in t.splitlines()]

    counts = Counter()
    seen = set()
    near_miss = Counter()
    records = []
    with qpath.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            where = f"line {n}"
            if not line.strip():
                errors.append(f"{where}: blank line")
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                errors.append(f"{where}: bad JSON ({e})")
                continue
            if not isinstance(r, dict) or set(r) != KEYS:
                errors.append(f"{where}: keys must be exactly {sorted(KEYS)}")
                continue
            records.append(r)
            q, ev, kind = r["question"], r["evidence"], r["kind"]
            lang, qtype, split = r["lang"], r["qtype"], r["split"]

            if not isinstance(q, str) or not q.strip():
                errors.append(f"{where}: empty question")
                continue
            where = f"line {n} ({q!r})"
            if q in seen:
                errors.append(f"{where}: duplicate question")
            seen.add(q)
            if kind not in KIND_LANG:
                errors.append(f"{where}: bad kind {kind!r}")
                continue
            if lang != KIND_LANG[kind]:
                errors.append(f"{where}: lang {lang!r} does not match kind {kind!r}")
            if lang == "ja" and not JA_CHAR.search(q):
                errors.append(f"{where}: ja question without Japanese characters")
            if lang == "en" and JA_CHAR.search(q):
                errors.append(f"{where}: en question contains Japanese characters")
            if qtype not in QTYPES:
                errors.append(f"{where}: bad qtype {qtype!r}")
            if split not in SPLITS:
                errors.append(f"{where}: bad split {split!r}")
            counts[(kind, split)] += 1

            if not isinstance(ev, list) or not all(isinstance(e, str) for e in ev):
                errors.append(f"{where}: evidence must be a list of strings")
                continue
            if kind.startswith("unanswerable"):
                if ev:
                    errors.append(f"{where}: unanswerable question has evidence")
                names = JA_CORPUS_NAMES if lang == "ja" else EN_CORPUS_NAMES
                if any(name.lower() in q.lower() for name in names):
                    near_miss[kind] += 1
                continue
            if not 1 <= len(ev) <= 3:
                errors.append(f"{where}: needs 1-3 evidence strings, has {len(ev)}")
            if len(set(ev)) != len(ev):
                errors.append(f"{where}: duplicate evidence strings")
            for e in ev:
                ne = norm(e)
                if not 8 <= len(e) <= 30 or not 8 <= len(ne) <= 30:
                    errors.append(f"{where}: evidence {e!r} length {len(e)} not in 8-30")
                if "\n" in e or "。" in ne[:-1]:
                    errors.append(f"{where}: evidence {e!r} spans a sentence/line")
                if ne not in whole:
                    errors.append(f"{where}: evidence {e!r} not found in corpus")
                elif not any(ne in line for line in lines):
                    errors.append(f"{where}: evidence {e!r} spans a line break")

    for kind, minimum in MIN_COUNTS.items():
        dev, test = counts[(kind, "dev")], counts[(kind, "test")]
        if dev + test < minimum:
            errors.append(f"kind {kind}: {dev + test} questions, need at least {minimum}")
        if abs(dev - test) > 1:
            errors.append(f"kind {kind}: unbalanced split dev={dev} test={test}")
    for kind in ("unanswerable-ja", "unanswerable-en"):
        if near_miss[kind] < 6:
            errors.append(
                f"kind {kind}: only {near_miss[kind]} questions share words with the corpus,"
                " need 6"
            )
    for h in HEADLINES:
        if h not in seen:
            errors.append(f"headline question {h!r} missing")

    print(f"{qpath}: {len(records)} questions, corpus {len(files)} files")
    print(f"{'kind':<18}{'dev':>5}{'test':>6}{'total':>7}")
    for kind in MIN_COUNTS:
        dev, test = counts[(kind, "dev")], counts[(kind, "test")]
        print(f"{kind:<18}{dev:>5}{test:>6}{dev + test:>7}")
    tot_dev = sum(v for (k, s), v in counts.items() if s == "dev")
    tot_test = sum(v for (k, s), v in counts.items() if s == "test")
    print(f"{'all':<18}{tot_dev:>5}{tot_test:>6}{tot_dev + tot_test:>7}")
    print("unanswerable sharing corpus words:", dict(near_miss))

    if errors:
        print(f"\n{len(errors)} problem(s):")
        for e in errors:
            print("  " + e)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
