"""The user-facing strings in English and Japanese, and which of the two a reply uses."""

from __future__ import annotations

import re
from typing import Literal

import discord

from index.models import Answer

Lang = Literal["en", "ja"]

TEXT: dict[str, dict[Lang, str]] = {
    "nothing_found": {
        "en": "Nothing relevant was found in the corpus.",
        "ja": "コーパスに関連する記述は見つかりませんでした。",
    },
    "searched": {"en": "searched", "ja": "検索語"},
    "not_found": {"en": "not found", "ja": "該当なし"},
    "answer_lead": {"en": "Answer", "ja": "回答"},
    "related_lead": {
        "en": "No passage states this directly ({reason}); the closest passages:",
        "ja": "この問いに直接答える記述はありません({reason})。近い記述:",
    },
    "no_terms": {"en": "(no search terms)", "ja": "(検索語なし)"},
    "empty": {
        "en": "Please ask a question in Japanese or English, e.g. “CSTOの議長は誰?”.",
        "ja": "質問を入力してください(例:「CSTOの議長は誰?」)。",
    },
    "no_words": {
        "en": "That question has no words to search for.",
        "ja": "検索できる語が含まれていません。",
    },
    "too_long": {
        "en": "Questions can be at most {limit} characters (this one has {length}).",
        "ja": "質問は{limit}文字までです(この質問は{length}文字です)。",
    },
    "cooldown": {
        "en": "You are asking quickly — please try again in {seconds} s.",
        "ja": "少し時間をおいて、{seconds}秒後にもう一度どうぞ。",
    },
    "error": {
        "en": "Sorry, something went wrong while answering. The error has been logged.",
        "ja": "申し訳ありません、処理中にエラーが発生しました(ログに記録しました)。",
    },
    "unknown_command": {
        "en": "Sorry, this command is not available (commands may still be updating).",
        "ja": "申し訳ありません、このコマンドは現在使えません(更新中の可能性があります)。",
    },
    "reindex_refused": {
        "en": "Only members with the Manage Server permission or configured bot admins can run "
        "/reindex.",
        "ja": "/reindex はサーバー管理権限を持つメンバーか、設定された管理者だけが実行できます。",
    },
    "reindex_running": {
        "en": "A reindex is already running; please try again when it has finished.",
        "ja": "再インデックスはすでに実行中です。終わってからもう一度どうぞ。",
    },
    "reindex_done": {"en": "Reindex finished", "ja": "再インデックス完了"},
    "reindex_failed": {
        "en": "The reindex failed: {reason}",
        "ja": "再インデックスに失敗しました: {reason}",
    },
    "late_reply": {
        "en": "{command} by {user} has finished:",
        "ja": "{user} さんの {command} が完了しました:",
    },
    "reindex_kept": {"en": "Index kept unchanged", "ja": "インデックスは変更されませんでした"},
    "passage_gone": {
        "en": "That passage is no longer in the index (its document changed); ask again.",
        "ja": "この段落は索引にありません(文書が更新されました)。もう一度質問してください。",
    },
    "no_passage": {
        "en": "“{name}” has no passage {number} (it has {count}).",
        "ja": "「{name}」に段落{number}はありません(全{count}段落)。",
    },
    "passage_heading": {
        "en": "§{number} (lines {first}–{last})",
        "ja": "§{number}({first}–{last}行)",
    },
    "no_document": {
        "en": "No document named “{name}”.",
        "ja": "「{name}」という文書は見つかりません。",
    },
    "search_title": {"en": "Search: {query}", "ja": "検索: {query}"},
    "results": {"en": "results {first}–{last}", "ja": "{first}–{last}件目"},
    "of_total": {"en": " of {total}", "ja": "(全{total}件)"},
    "no_more": {"en": "No more results.", "ja": "これ以上の結果はありません。"},
    "previous": {"en": "◀ Previous", "ja": "◀ 前へ"},
    "next": {"en": "Next ▶", "ja": "次へ ▶"},
    "stats_title": {"en": "Index statistics", "ja": "インデックスの統計"},
    "documents": {"en": "Documents", "ja": "文書"},
    "passages": {"en": "Passages", "ja": "段落"},
    "generation": {"en": "Generation", "ja": "世代"},
    "last_reindex": {"en": "Last reindex", "ja": "最終再インデックス"},
    "never": {"en": "never", "ja": "なし"},
    "questions": {"en": "Questions answered", "ja": "回答した質問"},
    "file": {"en": "File", "ja": "ファイル"},
    "added": {"en": "Added", "ja": "追加"},
    "changed": {"en": "Changed", "ja": "変更"},
    "removed": {"en": "Removed", "ja": "削除"},
    "skipped": {"en": "Skipped", "ja": "スキップ"},
    "unchanged": {"en": "Unchanged", "ja": "変更なし"},
    "seconds": {"en": "Seconds", "ja": "秒"},
    "warnings": {"en": "Warnings", "ja": "警告"},
    "vote_up": {"en": "Thanks — noted 👍.", "ja": "ありがとうございます(👍を記録しました)。"},
    "vote_down": {
        "en": "Thanks — noted 👎. The admins see such answers in /unanswered.",
        "ja": "ありがとうございます(👎を記録しました)。管理者が /unanswered で確認します。",
    },
    "vote_unknown": {
        "en": "This answer is no longer in the question log, so the vote was not recorded.",
        "ja": "この回答は質問ログにないため、評価は記録されませんでした。",
    },
    "delete_refused": {
        "en": "Only the person who asked can delete this answer.",
        "ja": "この回答を削除できるのは質問した人だけです。",
    },
    "unanswered_refused": {
        "en": "Only members with the Manage Server permission or configured bot admins can run "
        "/unanswered.",
        "ja": "/unanswered はサーバー管理権限を持つメンバーか、設定された管理者だけが"
        "実行できます。",
    },
    "unanswered_title": {
        "en": "Unanswered questions, last {days} days",
        "ja": "答えられなかった質問(過去{days}日間)",
    },
    "unanswered_none": {
        "en": "No question went unanswered or got a 👎 in the last {days} days.",
        "ja": "過去{days}日間に、答えられなかった質問や👎の付いた回答はありません。",
    },
    "unanswered_counts": {
        "en": "nothing found {nothing} · related only {related} · 👎 {down}",
        "ja": "該当なし {nothing}・関連のみ {related}・👎 {down}",
    },
    "unanswered_footer": {
        "en": "Grouped by wording, most asked first: the to-do list for the documents.",
        "ja": "言い回しごとにまとめ、多い順に表示(文書に足すべき内容の一覧)。",
    },
    "thread_name": {"en": "Question", "ja": "質問"},
}


def text(key: str, lang: Lang = "en", **values: object) -> str:
    """A user-facing string in `lang`, formatted with `values`."""
    return TEXT[key][lang].format(**values)


_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f]")


def searched_parts(answer: Answer, lang: Lang = "en") -> list[str]:
    """What the question was searched as, in the question's order: a Japanese term as it is,
    an English word once, beside the Japanese terms it was searched as (`議長 (chairs)`), and
    a word the documents have nothing for marked so (`today (not found)`)."""
    parts = []
    for label in answer.query_terms:
        alternatives = answer.translations.get(label)
        if label in answer.unsearched:
            parts.append(f"{label} ({text('not_found', lang)})")
        elif alternatives:
            parts.append(f"{'/'.join(alternatives)} ({label})")
        else:
            parts.append(label)
    return parts


def lang_for_locale(locale: discord.Locale | None) -> Lang:
    """Japanese for users whose Discord client is in Japanese, English otherwise."""
    return "ja" if locale == discord.Locale.japanese else "en"


def lang_for_text(question: str) -> Lang:
    """Channel messages carry no locale, so answer in the script the question was asked in."""
    return "ja" if _JAPANESE.search(question) else "en"
