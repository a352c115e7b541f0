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

With drafts (``serve --candidates N``), the line's first sentence must also be one the
reply's scorer (``score.py``) finds no fault with before it goes out: else it is drafted
again, sampled, up to N times; then ``score.stand_in`` says what goes out (an authored
line, or the best draft). The drafts decode together where the decode batch has rows to
spare (``drafts.py``), else one after another (the best draft's tokens then decoded
again). A good first draft streams at once, so drafts cost time only when needed.
"""

from __future__ import annotations

import dataclasses
import itertools
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
from npc_runtime.constraints.copying import CopyBan
from npc_runtime.dialogue.actions import Reply
from npc_runtime.dialogue.drafts import (
    Choice,
    Drafted,
    Drafting,
    Drafts,
    after_drafts,
    together,
)
from npc_runtime.dialogue.events import TokenEvent
from npc_runtime.dialogue.scheduler import Decode, Rewind
from npc_runtime.dialogue.score import Verdict
from npc_runtime.dialogue.sessions import Session
from npc_runtime.lore.knowledge import KnowledgeView
from npc_runtime.model.generate import Generation, LogitsProcessor, SamplingParams, StopReason
from npc_runtime.model.loader import LoadedModel
from npc_runtime.model.runner import KVCache
from npc_runtime.model.tokenizer import StreamDecoder

log = structlog.get_logger(__name__)

MAX_REGENERATIONS = 2  # lines generated again (offending words banned) before repairing
MAX_SENTENCES = 3  # a line ends after this many sentences ("one to three", the card says)
DRAFT_TEMPERATURE = 0.7  # drafts after the first are sampled at least this warm
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
    draft: Verdict | None = None  # the first sentence, as the scorer judged it
    draft_tokens: int = 0  # this pass's tokens in that first sentence


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
    drafts: tuple[Verdict, ...] = ()  # first sentences drafted, in order; the last was said


class LineWriter:
    """Writes checked lines with one model; an NPC line is one paragraph."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model
        self._stops = [*model.manifest.stop_strings, "\n"]  # a newline after text ends it
        # Brackets and braces are the syntax of calls (kept in the history as "[tool] {...}"):
        # a spoken line never contains them, so it can never read like a call.
        self._markup = np.array(model.tokenizer.ids_containing("[]{}"), dtype=np.int64)

    # One policy read top to bottom (drafts decoded together, then passes in turn): long.
    def checked_line(self, session: Session, known: KnowledgeView,  # noqa: PLR0915
                     checker: LineChecker,
                     reply: Reply, *, start: list[int], player_line: str,
                     params: SamplingParams, hold: bool, cancelled: threading.Event,
                     choice: Choice | None = None, copy_ban: CopyBan | None = None,
                     opening: Sequence[int] = ()) -> Generator[object, object, Line | None]:
        """
        The spoken line, from ``start`` (prompt and action tag) on, checked; None if the
        turn was cancelled. The policy on a violation: generate again with the
        offending words banned, then repair, then an authored fallback line. With a
        ``choice``, a faulty first sentence is drafted again (see the module doc) and a
        later sentence with a severe fault ends the line before it. ``copy_ban``: what
        the line must put in its own words (``constraints/copying.py``), in every pass.
        ``opening``: the tokens every draft of the line starts with.
        """
        found: list[Violation] = []
        banned: list[str] = []
        first_at, count = 0.0, 0
        released, logits = "", reply.logits  # the text the player has; where it ends
        released_ids: list[int] = []
        drafts = Drafts()
        violations: Sequence[Violation] = ()

        def speech(forced: Sequence[int]) -> LogitsProcessor:
            return self._speech(banned, forced, copy_ban.processor(
                self.model.tokenizer, released) if copy_ban else None)

        passes = None if hold else _passer(checker, player_line, choice)
        drafted: tuple[Generation, _Pass] | None = None  # the chosen draft, drafted together
        first = 1  # the loop's first attempt (drafts decoded together count as attempts)
        if choice is not None and choice.drafts > 1:  # decoded together, where rows allow
            def draft(row: int) -> tuple[list[int], Drafting[tuple[Generation, _Pass]]]:
                generation = Generation(
                    self.model.runner, start,
                    _pass_params(params, row + 1, redraft=row > 0, used=0),
                    self.model.tokenizer.eos_token_ids, logits_processor=speech(opening))
                return generation.tokens, self._draft(generation, reply, passes=passes,
                                                      cancelled=cancelled, judge=choice.judge)

            both = yield from together(choice, draft, cache=reply.cache, length=len(start),
                                       cancelled=cancelled)
            if both is None:
                log.info("turn_cancelled", session=session.id)
                return None
            count, drafted, first = both.spent, both.said, len(both.faulty) + 1
            found += _pass_over(drafts, both.faulty, checker, player_line)
            if both.instead is not None:
                return self._said_instead(both.instead, known, session, start=start,
                                          count=count, report=CheckReport(
                                              tuple(found), CheckAction.FALLBACK, first - 1),
                                          drafts=drafts)
        for attempt in range(first, MAX_REGENERATIONS + (choice.drafts if choice else 0) + 2):
            if drafted is not None:  # drafted together: its pass has run
                (generation, done), drafted = drafted, None
            else:
                generation = Generation(
                    self.model.runner, [*start, *released_ids],
                    _pass_params(params, attempt, redraft=bool(drafts.faulty),
                                 used=len(released_ids)),
                    self.model.tokenizer.eos_token_ids,
                    logits_processor=speech(drafts.forced or (() if released_ids else opening)))
                choosing = choice is not None and not released and not drafts.forced
                done = yield from self._generate(
                    generation, logits, reply.cache, released, passes=passes,
                    cancelled=cancelled, judge=choice.judge if choice and choosing else None)
            first_at = first_at or done.released_at
            count += len(generation.tokens)
            if done.reason is StopReason.CANCELLED:  # its KV is not put back: freed now
                log.info("turn_cancelled", session=session.id, generated_tokens=count)
                return None
            if done.draft is not None and done.draft.faults:  # nothing of it went out
                found += _pass_over(drafts, [(done.draft, generation.tokens[:done.draft_tokens])],
                                    checker, player_line)
                yield Rewind(len(start))
                if choice is None or len(drafts.faulty) < choice.drafts:
                    continue  # drafted again, sampled
                drafts.forced, instead = self._after_drafts(choice, drafts.faulty)
                if instead is not None:
                    return self._said_instead(instead, known, session, start=start, count=count,
                                              report=CheckReport(tuple(found),
                                                                 CheckAction.FALLBACK, attempt),
                                              drafts=drafts)
                continue  # the best draft is decoded again and goes on
            drafts.accepted = done.draft or drafts.accepted
            if done.released_tokens:  # a later pass goes on after this pass's sentences
                released_ids += generation.tokens[:done.released_tokens]
                released = done.released
                if done.next_logits is not None:
                    logits = done.next_logits
            text = done.text
            violations = checker.check(text, player_line)
            if not violations:
                action = CheckAction.REGENERATED if found else CheckAction.PASSED
                if choice is not None:  # a later sentence with a severe fault: cut there
                    text = released if done.violated else _good_part(text, choice.judge)
                break
            found += violations
            more = [w for w in offending_words(violations) if w not in banned]
            # Going on from the end of what was released needs the logits after it: this
            # pass's, or (if it released nothing) the ones it started from.
            can_go_on = done.next_logits is not None or not done.released_tokens
            if attempt - len(drafts.faulty) <= MAX_REGENERATIONS and more and can_go_on:
                banned += more  # nothing new to ban: it would write the same line again
                drafts.forced = []  # a chosen draft the checker rejects is not forced again
                yield Rewind(len(start) + len(released_ids))
            else:
                break
        if violations:  # what went out passed: the line ends there; else repair or fall back
            text, action = ((released, CheckAction.REPAIRED) if released else
                            self._repair_or_fall_back(checker, text, player_line, known,
                                                      session))
        return Line(text, done.reason or StopReason.MAX_TOKENS, released, first_at, count,
                    generation.ids, CheckReport(tuple(found), action, attempt),
                    drafts.trace())

    def _speech(self, banned: list[str], forced: Sequence[int] = (),
                copying: LogitsProcessor | None = None) -> LogitsProcessor:
        """Masks what a spoken line may not contain: markup, ``banned`` words and what
        ``copying`` bans; and makes it start with the ``forced`` tokens (a chosen draft)."""
        ban = ban_words(self.model.tokenizer, banned) if banned else None
        markup = self._markup

        def process(logits: np.ndarray, reply: Sequence[int]) -> np.ndarray:
            if len(reply) < len(forced):
                only = np.full_like(logits, -np.inf)
                only[..., forced[len(reply)]] = 0.0
                return only
            logits = logits.copy()
            logits[markup] = -np.inf
            logits = copying(logits, reply) if copying else logits
            return ban(logits, reply) if ban else logits

        return process

    def _draft(self, generation: Generation, reply: Reply, *,
               passes: Callable[[str], bool] | None, cancelled: threading.Event,
               judge: Callable[[str], Verdict]
               ) -> Generator[object, object, tuple[Generation, _Pass]]:
        """A draft of the line decoded with others (``drafts.together``): a pass from the
        prompt that waits to be chosen once its first sentence is judged."""
        done = yield from self._generate(generation, reply.logits, reply.cache, "",
                                         passes=passes, cancelled=cancelled, judge=judge,
                                         wait=True)
        if done.draft is not None and done.draft.faults:  # said as the best of faulty drafts:
            done.draft = None  # in their trace already, not drafted again
        return generation, done

    def _generate(self, generation: Generation, logits: np.ndarray, cache: KVCache,
                  released: str, *, passes: Callable[[str], bool] | None,
                  cancelled: threading.Event, judge: Callable[[str], Verdict] | None = None,
                  wait: bool = False) -> Generator[object, object, _Pass]:
        """
        One pass: the line goes on after ``released`` (text the player has) until a stop.
        With ``passes`` (streaming), each sentence goes out as soon as the line up to its
        end passes; the pass stops at the first sentence that does not. ``judge``: the
        first sentence is judged (kept in ``draft``); a faulty one ends the pass before
        anything of it goes out. ``wait``: it yields ``Drafted`` instead and goes on (or is
        closed there) as the choice among drafts decoded together says.
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
            at_end = stopped or (_ends_sentence(visible)
                                 and _has_words(visible[len(done.released):]))
            if at_end and judge is not None and done.draft is None:
                done.draft, done.draft_tokens = judge(visible), len(generation.tokens)
                if wait:  # goes on only if chosen
                    yield Drafted(done.draft, generation.tokens[:done.draft_tokens])
                elif done.draft.faults:
                    break  # drafted again: nothing of it goes out
            if passes is not None and at_end:
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
        ending = done.draft is None  # not judged (nor paused) in the loop: judged whole
        if judge is not None and ending and _has_words(done.text):
            done.draft, done.draft_tokens = judge(done.text), len(generation.tokens)
        if wait and ending:  # drafted together: waits to be chosen (else closed here)
            yield Drafted(done.draft, generation.tokens[:done.draft_tokens])
        if done.draft is not None and done.draft.faults and not wait:
            pass  # drafted again (see checked_line)
        elif passes is not None and not done.violated and not cancelled.is_set():
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
        else:
            action, text = CheckAction.FALLBACK, LineWriter._fallback(known, session)
        log.info("line_rejected", session=session.id, npc=session.npc_id, action=action.value)
        return text, action

    @staticmethod
    def _after_drafts(choice: Choice, drafted: list[tuple[Verdict, list[int]]],
                      ) -> tuple[list[int], str | None]:
        """Every draft had faults: the best draft's tokens to decode again, or the line to
        say instead (the choice's stand-in; "": an authored fallback line)."""
        pick = after_drafts(choice, [v for v, _ in drafted])
        return (drafted[pick][1], None) if isinstance(pick, int) else ([], pick)

    @staticmethod
    def _said_instead(text: str, known: KnowledgeView, session: Session, *, start: list[int],
                      count: int, report: CheckReport, drafts: Drafts) -> Line:
        """Every draft had faults: ``text`` is said instead ("": an authored fallback)."""
        return Line(text or LineWriter._fallback(known, session), StopReason.STOP_SEQUENCE, "",
                    0.0, count, list(start), report, drafts.trace())

    @staticmethod
    def as_written(text: str, checker: LineChecker, player_line: str, known: KnowledgeView,
                   session: Session, *, start: list[int]) -> Line:
        """``text`` said as written (a reply that tells no fact: its gist,
        ``realise.gist``), without the model, if it passes the checker; else an authored
        fallback. ``start``: the tokens the turn's KV holds (none if it ran no prompt)."""
        found = checker.check(text, player_line)
        if found:
            text = LineWriter._fallback(known, session)
        return Line(text, StopReason.STOP_SEQUENCE, "", 0.0, 0, list(start),
                    CheckReport(tuple(found), CheckAction.FALLBACK if found
                                else CheckAction.PASSED, 1))

    @staticmethod
    def _fallback(known: KnowledgeView, session: Session) -> str:
        """One of the character's authored fallback lines, rotated so repeats are rarer."""
        lines = known.npc.fallback_lines
        return lines[len(session.history) // 2 % len(lines)] if lines else GENERIC_FALLBACK


def _pass_params(params: SamplingParams, attempt: int, *, redraft: bool, used: int
                 ) -> SamplingParams:
    """A pass's sampling: the request's; a new draft's, sampled (seeded from the request's
    seed, so a seeded reply stays reproducible); the token budget less what was said."""
    budget = max(1, params.max_new_tokens - used)
    if attempt == 1 or not redraft:
        return dataclasses.replace(params, max_new_tokens=budget)
    return dataclasses.replace(
        params, max_new_tokens=budget,
        temperature=max(params.temperature, DRAFT_TEMPERATURE),
        seed=None if params.seed is None else params.seed + attempt)


def _pass_over(drafts: Drafts, faulty: list[tuple[Verdict, list[int]]], checker: LineChecker,
               player_line: str) -> list[Violation]:
    """Record drafts with faults (nothing of them went out); returns what the checker finds
    in them, reported as any violation is."""
    drafts.faulty += faulty
    return [v for verdict, _ in faulty for v in checker.check(verdict.text, player_line)]


def _passer(checker: LineChecker, player_line: str, choice: Choice | None
            ) -> Callable[[str], bool]:
    """Whether the line up to a sentence's end may go out: it passes the checker, and
    (with a choice) brings no severe fault."""
    def passes(text: str) -> bool:
        if choice is not None:  # the judge's faults hold the checker's violations too
            return not choice.judge(text).severe
        return not checker.check(text, player_line)
    return passes


def _good_part(text: str, judge: Callable[[str], Verdict]) -> str:
    """``text`` up to its first sentence that brings a severe fault (a held line is judged
    whole at its end: nothing of it went out before). The first sentence stays: the
    choice of drafts has accepted it."""
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    for before, end in itertools.pairwise(ends):
        if judge(text[:end]).severe:
            return text[:before]
    return text


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
