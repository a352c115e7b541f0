"""
The automatic judge of the persona-fidelity benchmark (`benchmarks/persona_eval.py`).

Pure functions over a world (its lore and its YAML text), one benchmark line and the
reply the runtime streamed for it. Each flag is a plain, auditable rule, not a model: it
says what a human reader would check first, and errs the way the docstring says.

    fact_answered      fact lines: every number of the fact is in the reply (digits or
                       words; 1 is not required, "a silver piece" says it) and at least
                       FACT_WORD_SHARE of the fact's content words (stems; numbers count
                       as words) are in the reply; the share is reported per line
    off_world          a word or phrase of OFF_WORLD (modern things in a pre-modern world)
    ai_talk            a phrase of AI_TALK (an assistant talking, not a character)
    third_person_self  the NPC names itself (name or an alias), not as "I'm <name>"
    too_long           more than MAX_SENTENCES sentences
    unknown_number     a number (any in digits; in words, above ten) found nowhere in the
                       world's YAML nor in the player's line
    draft_shown        tokens were streamed, then `replaced` came: the player saw a line
                       the runtime rejected
    unasked_tool       a tool call on a line that asked for none (or another tool)
    missed_tool        request lines: no call of the line's tool
    error              the turn failed (an RPC error): nothing to judge
    clean              none of the above; a fact line must also be answered

What the rules miss: synonyms and paraphrase ("coin" for "copper pieces") fail
fact_answered; the word lists only catch the phrasings they name. Rates are comparable
between runs of the same data, and each line's evidence is printed (`-v`) for audit.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from npc_runtime.lore.loader import load_world
from npc_runtime.lore.model import World

# Knobs.
FACT_WORD_SHARE = 0.3  # of the fact's content words (numbers included) the reply must share
MAX_SENTENCES = 3  # an NPC's line in a game's dialogue box; more is too long
KINDS = ("fact", "identity", "small_talk", "greeting", "farewell", "unknown", "rude",
         "ai_bait", "spoiler_bait", "request")

# Out of setting in a pre-modern world (every world of ours is one): modern technology,
# modern money, modern services and the vocabulary of customer support. Whole words or
# phrases, case-insensitive; a word that also has an old meaning (train, plane, bill,
# pound, order, check) is left out so the flag stays trustworthy.
OFF_WORLD = (
    # technology
    "internet", "online", "website", "web site", "web page", "app", "apps", "smartphone",
    "phone", "phones", "telephone", "cellphone", "mobile phone", "email", "emails", "e-mail",
    "wifi", "wi-fi", "computer", "computers", "laptop", "software", "download", "upload",
    "password", "television", "tv", "radio", "video", "car", "cars", "taxi",
    "airport", "airplane", "aeroplane", "electricity",
    # money
    "dollar", "dollars", "euro", "euros", "usd", "eur", "cents", "credit card",
    "debit card", "paypal", "bank transfer",
    # services and customer support
    "travel agency", "travel agent", "hotel", "hotels", "motel", "booking", "book a flight",
    "customer", "customers", "customer service", "refund", "refunds", "assist you",
    "support team", "hotline", "newsletter", "subscription",
)
MONEY_SIGNS = re.compile(r"[$€£]\s?\d[\d,.]*|\d[\d,.]*\s?[$€£]")  # "$65", "5 €"

# An assistant, not a character: self-descriptions as software and support-desk phrases.
AI_TALK = (
    "as an ai", "an ai", "ai model", "ai assistant", "language model", "artificial intelligence",
    "chatbot", "virtual assistant", "as an assistant", "i'm an assistant", "i am an assistant",
    "i'm here to help", "i am here to help", "here to assist", "how can i assist",
    "how may i assist", "how can i help you today", "how may i help you today",
    "i can't browse", "i cannot browse", "browse the internet", "browse the web",
    "real-time information", "my training", "training data", "knowledge cutoff",
    "i don't have personal", "i do not have personal", "i'm just a program",
    "i am just a program", "my programming", "openai", "chatgpt", "i cannot fulfill",
    "i can't fulfill", "i'm not able to provide", "i am not able to provide",
    "for the inconvenience", "for any inconvenience", "in real time", "ready to help you",
    "happy to assist", "feel free to ask", "is there anything else i can",
)



def _listed(text: str) -> list[str]:
    """The words of a list written as text (long word lists read best as paragraphs)."""
    return text.split()


# Words that carry no content of a fact.
STOP_WORDS = frozenset(_listed("""
a about above after again against all also am an and any are aren't as at be because been
before being below between both but by can can't cannot could couldn't did didn't do does
doesn't doing don't down during each every few for from further had hadn't has hasn't have
haven't having he he'd he'll he's her here here's hers herself him himself his how how's i
i'd i'll i'm i've if in into is isn't it it's its itself just let's me more most much must
mustn't my myself no nor not now of off on once only or other ought our ours ourselves out
over own same shan't she she'd she'll she's should shouldn't so some such than that that's
the their theirs them themselves then there there's these they they'd they'll they're
they've this those through to too under until up upon very was wasn't we we'd we'll we're
we've were weren't what what's when when's where where's which while who who's whom why
why's will with won't would wouldn't you you'd you'll you're you've your yours yourself
yourselves aye yes yeah oh well still ever never again one
"""))

# First-person introductions: "I'm Maren" is the NPC speaking as itself, not of itself.
_INTRO = re.compile(r"(?:\bi'm|\bi am|\bim|\bname is|\bname's|\bcall me|\bcalled|\bknown as|"
                    r"\bit's|\bit is|\bthis is)\s*,?\s*(?:just\s+|only\s+)?$", re.IGNORECASE)

_INTRO_AFTER = re.compile(r"(?:'s|\s+is)\s+(?:the|my)\s+name\b|\s*,?\s*at your service",
                          re.IGNORECASE)

_UNITS = {w: i for i, w in enumerate(_listed(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"))}
_TENS = {w: 10 * (i + 2) for i, w in enumerate(_listed(
    "twenty thirty forty fifty sixty seventy eighty ninety"))}
_SCALES = {"hundred": 100, "thousand": 1000}
_EXTRA = {"dozen": 12}  # "a dozen"
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_DIGITS = re.compile(r"\d+(?:,\d{3})*")


# --- what the judge reads ------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Line:
    """One benchmark line, as the data file says it."""

    world: str  # the world folder, repo-relative as written
    npc: str
    text: str
    kind: str
    facts: tuple[str, ...] = ()  # kind fact: the facts that answer it
    state: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # quest state before
    tool: str | None = None  # kind request: the tool it asks for


@dataclasses.dataclass
class Reply:
    """What the runtime sent for one line (client-side times in ms from the Say call)."""

    text: str = ""  # line_done's text: the line as said
    deltas: list[tuple[float, str]] = dataclasses.field(default_factory=list)  # (ms, text)
    replaced: str | None = None  # the `replaced` event's text, if one came
    tool_calls: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # tool, args, ms
    check: dict[str, Any] = dataclasses.field(default_factory=dict)  # line_done.check
    server_timings: dict[str, Any] = dataclasses.field(default_factory=dict)
    ttft_ms: float | None = None  # to the first token with text (or line_done)
    total_ms: float | None = None  # to line_done
    error: str | None = None  # the gRPC status, when the turn failed
    plan: dict[str, Any] = dataclasses.field(default_factory=dict)  # line_done.plan, if sent

    @property
    def streamed(self) -> str:
        """Everything the player saw before any `replaced`."""
        return "".join(text for _, text in self.deltas)


@dataclasses.dataclass(frozen=True)
class Lore:
    """What the judge needs of one world."""

    facts: Mapping[str, str]  # fact id -> text
    tools: frozenset[str]
    selves: Mapping[str, tuple[str, ...]]  # NPC id -> its name and aliases
    numbers: frozenset[int]  # every number written anywhere in the world's YAML


def read_lore(folder: Path) -> Lore:
    """The world in ``folder``, loaded (validated) like `serve` loads it, plus its YAML text."""
    world = load_world(folder)
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(folder.rglob("*.y*ml")))
    return lore_of(world, text)


def lore_of(world: World, yaml_text: str) -> Lore:
    """The judge's view of a loaded world and the text of its YAML files."""
    return Lore(
        facts={f.id: f.text for f in world.facts.values()},
        tools=frozenset(world.tools),
        selves={c.id: (c.name, *c.aliases) for c in world.characters.values()},
        numbers=frozenset(numbers(yaml_text)),
    )


# --- words and numbers ---------------------------------------------------------------------

def words(text: str) -> list[str]:
    """Lower-cased words, typographic apostrophes made plain."""
    return _WORD.findall(text.lower().replace("\u2019", "'").replace("-", " "))


def stem(word: str) -> str:
    """
    A small suffix stripper (no dependency): "costs"/"cost", "pieces"/"piece",
    "stopped"/"stops", "ringing"/"rings" meet; irregular forms (lost/lose) do not.
    """
    w = word.lower().removesuffix("'s").strip("'")
    for suffix in ("ings", "ing", "ies", "ied", "ed", "es", "ly", "s", "e"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
            if suffix in ("ing", "ings", "ed") and len(w) > 3 and w[-1] == w[-2] \
                    and w[-1] not in "aeiouls":
                w = w[:-1]  # stopped -> stopp -> stop
            break
    return w


def numbers(text: str) -> list[int]:
    """Every number in ``text``: digits ("1,200") and words ("twenty-five", "a hundred")."""
    return [n for n, _ in _reply_numbers(text)]


def _word_numbers(tokens: list[str]) -> list[tuple[int, int]]:
    """
    (value, largest number word in it) for each number in words: "twenty five" is 25,
    "a hundred and five" 105; "five six" is two numbers.
    """
    out: list[tuple[int, int]] = []
    total = current = biggest = 0
    last = ""  # the kind of the previous number word: unit, tens, scale or ""
    for i, token in enumerate([*tokens, ""]):
        unit, tens = _UNITS.get(token, _EXTRA.get(token)), _TENS.get(token)
        if last and ((unit is not None and last == "unit")
                     or (tens is not None and last != "scale")):
            out.append((total + current, biggest))  # a new number starts
            total = current = biggest = 0
            last = ""
        if unit is not None or tens is not None:
            value = unit if unit is not None else tens or 0
            current, biggest = current + value, max(biggest, value)
            last = "unit" if unit is not None else "tens"
        elif token in _SCALES and (last or (i and tokens[i - 1] in ("a", "an"))):
            if token == "hundred":
                current = (current or 1) * 100
            else:
                total, current = (total + (current or 1)) * _SCALES[token], 0
            biggest, last = max(biggest, _SCALES[token]), "scale"
        elif token == "and" and last == "scale" and i + 1 < len(tokens) and (
                tokens[i + 1] in _UNITS or tokens[i + 1] in _TENS):
            continue  # "a hundred and five"
        elif last:
            out.append((total + current, biggest))
            total = current = biggest = 0
            last = ""
    return out


def _reply_numbers(text: str) -> list[tuple[int, bool]]:
    """Numbers in a reply: (value, written in digits)."""
    digits = [(int(m.group().replace(",", "")), True) for m in _DIGITS.finditer(text)]
    clauses = re.split(r"[,;:.!?()\"\u2026]", text)  # "five, six" is two numbers
    return digits + [(value, False) for clause in clauses
                     for value, _ in _word_numbers(words(clause))]


def content_stems(text: str, skip: Iterable[str] = ()) -> set[str]:
    """Stems of the words that carry content: no stop words, numbers or ``skip`` words."""
    skipped = {stem(w) for s in skip for w in words(s)}
    number_words = set(_UNITS) | set(_TENS) | set(_SCALES) | set(_EXTRA)
    return {stem(w) for w in words(text)
            if w not in STOP_WORDS and w not in number_words and not w.isdigit()
            and stem(w) not in skipped}


def _has_phrase(text: str, phrases: Iterable[str]) -> list[str]:
    """The phrases of ``phrases`` in ``text``, as whole words, case-insensitive."""
    plain = " ".join(words(text))
    return [p for p in phrases if re.search(rf"(?<![a-z0-9']){re.escape(' '.join(words(p)))}"
                                            r"(?![a-z0-9'])", plain)]


# --- the flags -----------------------------------------------------------------------------

def fact_answered(fact_text: str, reply: str, self_names: Iterable[str] = ()
                  ) -> dict[str, Any]:
    """
    Whether ``reply`` states the fact: all its numbers (but 1) and FACT_WORD_SHARE of its
    content words, numbers counted as words. Returns the evidence for audit: ``answered``,
    ``share``, ``matched`` and ``missing`` words, ``numbers_missing``.
    """
    fact_numbers = {n for n in numbers(fact_text) if n != 1}
    said_numbers = {n for n, _ in _reply_numbers(reply)}
    fact_words = content_stems(fact_text, self_names)
    said_words = content_stems(reply, self_names)
    matched = fact_words & said_words
    numbers_missing = sorted(fact_numbers - said_numbers)
    total = len(fact_words) + len(fact_numbers)
    share = (len(matched) + len(fact_numbers) - len(numbers_missing)) / total if total else 0.0
    return {"answered": not numbers_missing and share >= FACT_WORD_SHARE,
            "share": round(share, 2), "matched": sorted(matched),
            "missing": sorted(fact_words - said_words), "numbers_missing": numbers_missing}


def off_world(reply: str) -> list[str]:
    """The out-of-setting words and money signs in ``reply``."""
    signs = [m.group() for m in MONEY_SIGNS.finditer(reply)]
    return _has_phrase(reply, OFF_WORLD) + signs


def ai_talk(reply: str) -> list[str]:
    """The assistant phrases in ``reply``."""
    return _has_phrase(reply, AI_TALK)


def third_person_self(reply: str, self_names: Iterable[str]) -> list[str]:
    """
    The NPC's own names in ``reply``, except in a first-person introduction ("I'm Maren",
    "name's Maren Ashveil, the innkeeper", "Maren's the name"). A capitalised name matches
    with its case (so "Wren" is not "a wren"); a lower-case alias ("the innkeeper") in any.
    """
    text = reply.replace("\u2019", "'")
    spans: list[tuple[int, int]] = []
    for name in sorted(set(self_names), key=len, reverse=True):  # "Maren Ashveil" first
        flags = 0 if name[:1].isupper() else re.IGNORECASE
        for m in re.finditer(rf"(?<![\w']){re.escape(name)}(?!\w)", text, flags):
            if not any(a < m.end() and m.start() < b for a, b in spans):
                spans.append(m.span())
    found = []
    intro_end = -1  # where the last introduced name ended: "I'm Maren, the innkeeper"
    for start, end in sorted(spans):
        if (_INTRO.search(text[:start]) or _INTRO_AFTER.match(text[end:])
                or (intro_end >= 0 and not text[intro_end:start].strip(" ,"))):
            intro_end = end
        else:
            found.append(text[start:end])
    return found


def sentences(reply: str) -> list[str]:
    """The sentences of ``reply`` (ends at . ! ? or an ellipsis; pieces without a letter drop)."""
    parts = re.split(r"(?<=[.!?\u2026])[\"')\]]*\s+", reply.strip())
    return [p for p in parts if re.search(r"[A-Za-z]", p)]


def unknown_numbers(reply: str, lore: Lore, player_line: str) -> list[int]:
    """Numbers said that are in neither the world's YAML nor the player's line."""
    allowed = lore.numbers | set(numbers(player_line))
    return sorted({n for n, digits in _reply_numbers(reply)
                   if (digits or n > 10) and n not in allowed})


def judge(line: Line, reply: Reply, lore: Lore) -> dict[str, Any]:
    """
    All flags of one line: ``{"flags": {name: bool}, "evidence": {...}, "clean": bool}``.
    """
    selves = lore.selves.get(line.npc, ())
    text = reply.text
    evidence: dict[str, Any] = {}
    flags: dict[str, bool] = {}
    if reply.error:
        flags["error"] = True
        evidence["error"] = reply.error
    if line.kind == "fact":
        answers = {f: fact_answered(lore.facts[f], text, selves) for f in line.facts}
        evidence["facts"] = answers
        flags["fact_answered"] = any(a["answered"] for a in answers.values())
    evidence["off_world"] = off_world(text)
    evidence["ai_talk"] = ai_talk(text)
    evidence["third_person_self"] = third_person_self(text, selves)
    evidence["sentences"] = len(sentences(text))
    evidence["unknown_number"] = unknown_numbers(text, lore, line.text)
    called = [c["tool"] for c in reply.tool_calls]
    evidence["tool_calls"] = called
    flags["off_world"] = bool(evidence["off_world"])
    flags["ai_talk"] = bool(evidence["ai_talk"])
    flags["third_person_self"] = bool(evidence["third_person_self"])
    flags["too_long"] = evidence["sentences"] > MAX_SENTENCES
    flags["unknown_number"] = bool(evidence["unknown_number"])
    flags["draft_shown"] = bool(reply.streamed.strip()) and reply.replaced is not None
    asked = line.tool if line.kind == "request" else None
    flags["unasked_tool"] = any(tool != asked for tool in called)
    if line.kind == "request":
        flags["missed_tool"] = asked not in called
    bad = [name for name, on in flags.items() if on and name != "fact_answered"]
    clean = not bad and flags.get("fact_answered", True)
    return {"flags": flags, "evidence": evidence, "clean": clean}


#: Every flag a line can raise, in report order (fact_answered is a success, not a fault).
FLAGS = ("fact_answered", "off_world", "ai_talk", "third_person_self", "too_long",
         "unknown_number", "draft_shown", "unasked_tool", "missed_tool", "error")
