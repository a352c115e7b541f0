"""
The spoken line: generated from a prefilled prompt, checked, streamed sentence by
sentence, cut at a stop.

Streaming releases a sentence only once the line up to its end has passed the checker,
so no text the runtime rejects ever reaches the player (before, tokens went out as
generated and a ``replaced`` event followed a rejected line: the player had seen it).
On a violation the policy is fixed: generate again from the end of what was released
with the offending words banned (the KV row is rewound, not recomputed), then end the
line at what was released (or cut the offending sentences, when nothing was), then say
one of the character's authored fallback lines. No violating line is ever returned.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Callable, Generator, Sequence

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


@dataclasses.dataclass
class _Pass:
    """One generation pass over a line: what it wrote and what of it the player got."""

    text: str = ""  # the line so far: released text, then this pass's draft
    reason: StopReason | None = None
    released: str = ""  # passed the check and went out, from the line's start
    released_tokens: int = 0  # this pass's tokens in ``released``
    released_at: float = 0.0  # when the first sentence went out (0: none)
    next_logits: np.ndarray | None = None  # after the last released token, to go on from
    violated: bool = False  # stopped at a sentence that failed the check


@dataclasses.dataclass(frozen=True)
class Line:
    """A phase's spoken line once checked."""

    text: str
    reason: StopReason
    streamed: str  # what went out as tokens (checked, sentence by sentence)
    first_at: float  # when its first text went out (streaming), or its first token came
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
        first_at, count = 0.0, 0
        released, logits = "", reply.logits  # the text the player has; where it ends
        released_ids: list[int] = []

        def line_passes(text: str) -> bool:
            return not checker.check(text, player_line)

        passes = None if hold else line_passes
        for attempt in range(1, MAX_REGENERATIONS + 2):
            budget = max(1, params.max_new_tokens - len(released_ids))
            generation = Generation(
                self.model.runner, [*start, *released_ids],
                dataclasses.replace(params, max_new_tokens=budget), tokenizer.eos_token_ids,
                logits_processor=self._speech(banned))
            done = yield from self._generate(generation, logits, reply.cache, released,
                                             passes=passes, cancelled=cancelled)
            first_at = first_at or done.released_at
            count += len(generation.tokens)
            if done.reason is StopReason.CANCELLED:  # its KV is not put back: freed now
                log.info("turn_cancelled", session=session.id, generated_tokens=count)
                return None
            if done.released_tokens:  # a later pass goes on after this pass's sentences
                released_ids += generation.tokens[:done.released_tokens]
                released = done.released
                if done.next_logits is not None:
                    logits = done.next_logits
            text = done.text
            violations = checker.check(text, player_line)
            if not violations:
                action = CheckAction.PASSED if attempt == 1 else CheckAction.REGENERATED
                break
            found += violations
            more = [w for w in offending_words(violations) if w not in banned]
            # Going on from the end of what was released needs the logits after it: this
            # pass's, or (if it released nothing) the ones it started from.
            can_go_on = done.next_logits is not None or not done.released_tokens
            if attempt <= MAX_REGENERATIONS and more and can_go_on:
                banned += more  # nothing new to ban: it would write the same line again
                yield Rewind(len(start) + len(released_ids))
            else:
                break
        if violations:
            if released:  # what went out passed: the line ends there
                text, action = released, CheckAction.REPAIRED
            else:
                text, action = self._repair_or_fall_back(checker, text, player_line, known,
                                                         session)
        return Line(text, done.reason or StopReason.MAX_TOKENS, released, first_at, count,
                    generation.ids, CheckReport(tuple(found), action, attempt))

    def _speech(self, banned: list[str]) -> LogitsProcessor:
        """Masks what a spoken line may not contain: markup, and ``banned`` words."""
        ban = ban_words(self.model.tokenizer, banned) if banned else None
        markup = self._markup

        def process(logits: np.ndarray, reply: Sequence[int]) -> np.ndarray:
            logits = logits.copy()
            logits[markup] = -np.inf
            return ban(logits, reply) if ban else logits

        return process

    def _generate(self, generation: Generation, logits: np.ndarray, cache: KVCache,
                  released: str, *, passes: Callable[[str], bool] | None,
                  cancelled: threading.Event) -> Generator[object, object, _Pass]:
        """
        One pass: the line goes on after ``released`` (text the player has) until a stop.
        With ``passes`` (streaming), each sentence goes out as soon as the line up to its
        end passes; the pass stops at the first sentence that does not.
        """
        decoder = StreamDecoder(self.model.tokenizer)
        done = _Pass(text=released, released=released)
        keep_next = False  # the next logits follow the last released token
        while (token := generation.choose(logits)) is not None:
            if cancelled.is_set():
                break
            decoder.push(token)
            raw = decoder.text if released else decoder.text.lstrip()  # a line starts at text
            drafted = _cut_at_stop(raw, self._stops)
            visible = released + drafted
            done.text = visible
            stopped = len(drafted) < len(raw)
            if passes is not None and (stopped or (_ends_sentence(visible)
                                       and _has_words(visible[len(done.released):]))):
                if not (yield from self._release(done, visible, len(generation.tokens),
                                                 passes)):
                    break
                keep_next = True
            if stopped:
                done.reason = StopReason.STOP_SEQUENCE
                break
            if enough_sentences(visible):
                done.reason = StopReason.STOP_SEQUENCE  # talk less: a line is a few sentences
                break
            if len(generation.tokens) == generation.max_new_tokens:
                break  # no need to run the last token
            received = yield Decode(token, cache)
            assert isinstance(received, np.ndarray)
            logits = received
            generation.ids.append(token)
            if keep_next:
                done.next_logits, keep_next = logits, False
        if passes is not None and not done.violated and not cancelled.is_set():
            yield from self._release(done, done.text, len(generation.tokens), passes)  # the rest
        if cancelled.is_set():
            done.reason = StopReason.CANCELLED
        done.reason = done.reason or generation.reason or StopReason.MAX_TOKENS
        return done

    @staticmethod
    def _release(done: _Pass, text: str, tokens: int, passes: Callable[[str], bool]
                 ) -> Generator[object, object, bool]:
        """Send the player what ``text`` adds to what they have, if the line up to there
        passes; False (and the pass is marked violated) if it does not."""
        if len(text.rstrip()) <= len(done.released.rstrip()):
            return True
        if not passes(text):
            done.violated = True
            return False
        yield TokenEvent(text[len(done.released):], tokens - 1)
        done.released, done.released_tokens = text, tokens
        done.released_at = done.released_at or time.perf_counter()
        done.next_logits = None  # until the next step brings them
        return True

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


def _has_words(text: str) -> bool:
    """Whether ``text`` holds a letter: a lone "?" is no sentence to send."""
    return any(c.isalpha() for c in text)


def _ends_sentence(text: str) -> bool:
    """Whether ``text`` ends with a sentence's end (a stop mark, maybe a closing quote)."""
    return text.rstrip("\"' )").endswith((".", "!", "?")) and not text.endswith(" ")


def _cut_at_stop(text: str, stops: list[str]) -> str:
    cut = min((i for s in stops if (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]
