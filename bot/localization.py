"""Japanese descriptions for the slash commands, through discord.py's app-command Translator.

Command and option *descriptions* are written in English in the cogs (`locale_str`) and
translated here; Discord shows each user the description in their client's language. Command
and option names stay English so they are the same for everyone in a server.
"""

from __future__ import annotations

from discord import Locale, app_commands

JAPANESE: dict[str, str] = {
    "Answer a question from the documents, with cited excerpts":
        "文書から質問に答え、出典付きの抜粋を示します",
    "Your question, in Japanese or English":
        "質問(日本語または英語)",
    "Only you see the answer (default: no)":
        "自分だけに回答を表示する(既定: いいえ)",
    "List the passages that match a query, best first":
        "検索語に合う段落を関連度順に一覧表示します",
    "Words to look for, in Japanese or English":
        "検索する語(日本語または英語)",
    "Show a document of the corpus":
        "コーパスの文書を表示します",
    "Document title or file name (start typing to search)":
        "文書のタイトルまたはファイル名(入力すると候補が出ます)",
    "Open this passage (the § number of a citation), with its neighbours":
        "この段落(引用の§番号)を前後の文と一緒に開きます",
    "Update the index from the corpus folder (admins only)":
        "コーパスのフォルダからインデックスを更新します(管理者のみ)",
    "Index size, last reindex and questions answered":
        "インデックスの規模、最終更新、回答した質問数",
    "Questions the documents could not answer, most asked first (admins only)":
        "文書で答えられなかった質問を多い順に表示します(管理者のみ)",
    "How many days back to look (default 7)":
        "何日前までさかのぼるか(既定: 7)",
}

TRANSLATED_CONTEXTS = {
    app_commands.TranslationContextLocation.command_description,
    app_commands.TranslationContextLocation.parameter_description,
}


class ShirabeTranslator(app_commands.Translator):
    """Japanese for `ja` clients; None (keep the English) for everything else."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        if locale is not Locale.japanese or context.location not in TRANSLATED_CONTEXTS:
            return None
        return JAPANESE.get(string.message)
