"""
The spoken line: generated from a prefilled prompt, streamed, cut at a stop, checked.

On a violation the policy is fixed: generate again from the same point with the
offending words banned (the KV row is rewound, not recomputed), then cut the offending
sentences, then say one of the character's authored fallback lines. No violating line
is ever returned.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Generator, Sequence

import numpy as np
import structlog

from npc_runtime.constraints.bans import ban_words
from npc_runtime.constraints.checker import (
    CheckAction,
    CheckReport,
    LineChecker,
    Violation,
    offending_words,
)
from npc_runtime.dialogue.actions import Reply
from npc_runtime.dialogue.events import TokenEvent
from npc_runtime.dialogue.scheduler import Decode, Rewind
from npc_runtime.dialogue.sessions import Session
from npc_runtime.lore.knowledge import KnowledgeView
from npc_runtime.model.generate import Generation, LogitsProcessor, SamplingParams, StopReason
from npc_runtime.model.loader import LoadedModel
from npc_runtime.model.runner import KVCache
from npc_runtime.model.tokenizer import StreamDecoder

log = structlog.get_logger(__name__)

MAX_REGENERATIONS = 2  # lines generated again (offending words banned) before repairing
MAX_SENTENCES = 3  # a line ends after this many sentences ("one to three", the card says)
_SENTENCE_END = re.compile(r"[.!?]+(?=[\s\"')]|$)")
GENERIC_FALLBACK = "Hm. I couldn't say."  # for characters with no authored fallback_lines


@dataclasses.dataclass(frozen=True)
class Line:
    """A phase's spoken line once checked."""

    text: str
    reason: StopReason
    streamed: str  # what went out as tokens
    first_at: float  # when its first token came (0: none)
    tokens: int  # generated, over all attempts
    ids: list[int]  # prompt and the last attempt's tokens: what the KV holds
    check: CheckReport


class LineWriter:
    """Writes checked lines with one model; an NPC line is one paragraph."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model
        self._stops = [*model.manifest.stop_strings, "\n"]  # a newline after text ends it
        # Brackets and braces are the syntax of calls (kept in the history as "[tool] {...}"):
        # a spoken line never contains them, so it can never read like a call.
        self._markup = np.array(model.tokenizer.ids_containing("[]{}"), dtype=np.int64)

    def checked_line(self, session: Session, known: KnowledgeView, checker: LineChecker,
                     reply: Reply, *, start: list[int], player_line: str,
                     params: SamplingParams, hold: bool, cancelled: threading.Event
                     ) -> Generator[object, object, Line | None]:
        """
        The spoken line, from ``start`` (prompt and action tag) on, checked; None if the
        turn was cancelled. The policy on a violation: generate again with the
        offending words banned, then repair, then an authored fallback line.
        """
        tokenizer = self.model.tokenizer
        found: list[Violation] = []
        banned: list[str] = []
        first_at, count, streamed = 0.0, 0, ""
        for attempt in range(1, MAX_REGENERATIONS + 2):
            generation = Generation(
                self.model.runner, start, params, tokenizer.eos_token_ids,
                logits_processor=self._speech(banned))
            text, reason, first = yield from self._generate(
                generation, reply.logits, reply.cache, stream=not hold and attempt == 1,
                cancelled=cancelled)
            first_at, count = first_at or first, count + len(generation.tokens)
            streamed = streamed or ("" if hold else text)
            if reason is StopReason.CANCELLED:  # its KV is not put back: freed now
                log.info("turn_cancelled", session=session.id, generated_tokens=count)
                return None
            violations = checker.check(text, player_line)
            if not violations:
                action = CheckAction.PASSED if attempt == 1 else CheckAction.REGENERATED
                break
            found += violations
            more = [w for w in offending_words(violations) if w not in banned]
            if attempt <= MAX_REGENERATIONS and more:  # nothing new to ban: same line again
                banned += more
                yield Rewind(len(start))
            else:
                break
        if violations:
            text, action = self._repair_or_fall_back(checker, text, player_line, known, session)
        return Line(text, reason, streamed, first_at, count, generation.ids,
                    CheckReport(tuple(found), action, attempt))

    def _speech(self, banned: list[str]) -> LogitsProcessor:
        """Masks what a spoken line may not contain: markup, and ``banned`` words."""
        ban = ban_words(self.model.tokenizer, banned) if banned else None
        markup = self._markup

        def process(logits: np.ndarray, reply: Sequence[int]) -> np.ndarray:
            logits = logits.copy()
            logits[markup] = -np.inf
            return ban(logits, reply) if ban else logits

        return process

    def _generate(self, generation: Generation, logits: np.ndarray, cache: KVCache, *,
                  stream: bool, cancelled: threading.Event
                  ) -> Generator[object, object, tuple[str, StopReason, float]]:
        """
        One line from the prefilled prompt: returns its text (up to a stop), why it
        ended and when its first token came (0 if none). Streams tokens if ``stream``.
        """
        decoder = StreamDecoder(self.model.tokenizer)
        shown, first_at = "", 0.0
        reason: StopReason | None = None
        while (token := generation.choose(logits)) is not None:
            if cancelled.is_set():
                break
            first_at = first_at or time.perf_counter()
            decoder.push(token)
            visible = _cut_at_stop(decoder.text.lstrip(), self._stops)
            if len(visible) > len(shown):
                if stream:
                    yield TokenEvent(visible[len(shown):], len(generation.tokens) - 1)
                shown = visible
            if len(visible) < len(decoder.text.lstrip()):
                reason = StopReason.STOP_SEQUENCE
                break
            if enough_sentences(visible):
                reason = StopReason.STOP_SEQUENCE  # talk less: a line is a few sentences
                break
            if len(generation.tokens) == generation.max_new_tokens:
                break  # no need to run the last token
            received = yield Decode(token, cache)
            assert isinstance(received, np.ndarray)
            logits = received
            generation.ids.append(token)
        if cancelled.is_set():
            reason = StopReason.CANCELLED
        return shown, reason or generation.reason or StopReason.MAX_TOKENS, first_at

    @staticmethod
    def _repair_or_fall_back(checker: LineChecker, text: str, line: str, known: KnowledgeView,
                             session: Session) -> tuple[str, CheckAction]:
        """The last policy steps: cut the offending sentences, else an authored line."""
        if repaired := checker.repair(text, line):
            action, text = CheckAction.REPAIRED, repaired
        else:  # rotate the authored lines so repeats are rarer
            lines = known.npc.fallback_lines
            action = CheckAction.FALLBACK
            text = lines[len(session.history) // 2 % len(lines)] if lines else GENERIC_FALLBACK
        log.info("line_rejected", session=session.id, npc=session.npc_id, action=action.value)
        return text, action


def enough_sentences(text: str) -> bool:
    """Whether ``text`` ends a sentence that is its MAX_SENTENCES-th (or later)."""
    return (len(_SENTENCE_END.findall(text)) >= MAX_SENTENCES
            and text.rstrip("\"' )").endswith((".", "!", "?")))


def _cut_at_stop(text: str, stops: list[str]) -> str:
    cut = min((i for s in stops if (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]
