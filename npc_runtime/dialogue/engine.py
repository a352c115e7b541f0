"""
The turn pipeline: validate the player's line, assemble the prompt, generate, stream,
check the line against the lore (generate again, repair or fall back until it passes).

Generation is blocking CPU work; the scheduler runs it on one thread and batches the
decode steps of concurrent turns. The async side streams a turn's events and tells it to
stop when the caller goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import secrets
import threading
import time
from collections.abc import AsyncIterator, Mapping, Sequence

import structlog

from npc_runtime.config import Settings
from npc_runtime.constraints.checker import LineChecker
from npc_runtime.constraints.copying import CopyBan
from npc_runtime.dialogue.actions import SAY, Reply, decide, feed, write_arguments
from npc_runtime.dialogue.admission import Load, TurnGate, turn_room
from npc_runtime.dialogue.drafts import Choice
from npc_runtime.dialogue.events import (
    CallOutcome,
    LineDoneEvent,
    LineReplacedEvent,
    ReplyEvent,
    Timings,
    TokenEvent,
    ToolCallEvent,
)
from npc_runtime.dialogue.plan import Act, Plan, Planner
from npc_runtime.dialogue.prompt import NOTE, build_messages, fit_prompt, spoken
from npc_runtime.dialogue.question_map import learn_question_map
from npc_runtime.dialogue.realise import gist, note
from npc_runtime.dialogue.scheduler import (
    DONE,
    Release,
    Reserve,
    Rewind,
    TurnScheduler,
    TurnSteps,
)
from npc_runtime.dialogue.score import judge, stand_in
from npc_runtime.dialogue.sessions import Session, SessionRegistry
from npc_runtime.dialogue.speech import Line, LineWriter
from npc_runtime.dialogue.story import StoryPoint, StoryPoints
from npc_runtime.dialogue.tool_trace import trace
from npc_runtime.dialogue.tool_waits import ToolWaits
from npc_runtime.errors import InterruptedTurnError, InvalidInputError
from npc_runtime.lore.knowledge import KnowledgeView, state_problems, view
from npc_runtime.lore.model import Character, Fact, Tool, World, WorldState
from npc_runtime.model.generate import SamplingParams
from npc_runtime.model.kv_pool import KVPool
from npc_runtime.model.loader import LoadedModel
from npc_runtime.model.runner import KVCache
from npc_runtime.model.tokenizer import Message
from npc_runtime.store.base import StateStore
from npc_runtime.store.factory import open_store
from npc_runtime.tools.acts import Embed, SpeechActs, acting_at
from npc_runtime.tools.calls import ToolCall, problems, with_count
from npc_runtime.tools.choice import evidence, offer, stock_limit, wanted
from npc_runtime.tools.confirm import ask_first, thing
from npc_runtime.tools.intents import examples, learn
from npc_runtime.tools.progress import apply, choose, options, reveal
from npc_runtime.tools.proposal import Proposal, proposed

log = structlog.get_logger(__name__)

RESERVE_SLACK = 64  # tokens a turn reserves beyond prompt and reply (action tag, arguments)
MAX_CALLS = 2  # tool calls in one turn before the NPC must speak ("talk less, call right")
RECENT_LINES = 4  # the NPC's own lines a draft may not repeat


@dataclasses.dataclass(frozen=True)
class _Called:
    """A phase's end when the NPC called a tool: the call and its text in the reply."""

    event: ToolCallEvent
    text: str
    rejected: tuple[str, ...]  # problems found when validating again


@dataclasses.dataclass(frozen=True)
class Spoken:
    """What a phase that speaks hands on to the end of its turn (``_spoken``)."""

    started: float  # when the turn began (perf_counter)
    prompt_tokens: int  # 0: said as written, no prompt was run
    outcomes: tuple[CallOutcome, ...]
    chosen: tuple[str, ...]  # quest moves the player's option made
    checker: LineChecker
    known: KnowledgeView  # what the NPC knows and may do this turn
    hold: bool = False
    note: str = ""  # the plan's note the prompt gave the model ("": none, or no prompt)


class DialogueEngine:
    """Owns the world, the model and the open sessions; runs turns."""

    def __init__(self, world: World, model: LoadedModel, settings: Settings,
                 store: StateStore | None = None, *, embed: Embed) -> None:
        """``embed``: the sentence encoder the reply planner reads lines with
        (``npc_runtime.model.encoder``)."""
        self.world = world
        self.model = model
        self._planner = Planner(embed, learn_question_map(embed, settings.cache_dir)
                                if settings.question_map else None)
        # What a line does (may it set off a tool?), and whether the NPC offered something.
        self.acts = SpeechActs(embed, settings.cache_dir)
        self.settings = settings
        self.store = store or open_store(settings)
        self.sessions = SessionRegistry(settings.max_sessions, self.store)
        self.turn_tokens = turn_room(model.manifest.context_length,
                                     model.runner.kv_bytes_per_token, settings.kv_cache_mb,
                                     settings.max_active_turns)
        self._scheduler = TurnScheduler(model.runner, rows=settings.max_active_turns,
                                        tokens=self.turn_tokens)
        self._gate = TurnGate(settings.max_active_turns, settings.max_queued_turns,
                              settings.queue_timeout_s)
        self.kv = KVPool(settings.kv_cache_mb << 20, held_elsewhere=self._scheduler.kv_bytes)
        self._writer = LineWriter(model)
        self._points = StoryPoints(model.tokenizer)
        # Engine tool calls waiting for the game (answered through any replica).
        self._calls = ToolWaits(self.store, settings.tool_timeout_s)

    def open_session(self, npc_id: str, player_name: str = "", player_id: str = "",
                     owner: str = "") -> Session:
        """
        Start talking to an NPC. ``player_id`` names whose quest state the conversation
        uses (the game's save or account id); without it the session has its own.
        ``owner``: the caller's identity; only it may use the session (see ``say``).

        Raises:
            UnknownNpcError: No such NPC.
            InvalidInputError: An oversized player id, or the server is full.
        """
        npc = self.world.character(npc_id)
        name = _neutralise(player_name.strip()[:64]) or "a traveller"
        return self.sessions.open(npc.id, name, _player_id(player_id), owner)

    def options(self, session: Session) -> tuple[str, ...]:
        """What the player may say in ``session`` now to move a quest on (for buttons)."""
        world = self.world
        return options(world, self.store.state(world.name, session.player_id), session.npc_id)

    def quest_state(self, player_id: str) -> WorldState:
        """A player's quest stages, revealed facts and items in the served world."""
        return self.store.state(self.world.name, _player_id(player_id))

    def set_quest_state(self, player_id: str, state: WorldState) -> WorldState:
        """
        Replace a player's quest state (the game is the source of truth when it wants to
        be); the next turn of each of their sessions sees it.

        Raises:
            InvalidInputError: A quest, stage, fact or item the world does not have.
        """
        if problems := state_problems(self.world, state):
            raise InvalidInputError("invalid quest state: " + "; ".join(problems))
        self.store.set_state(self.world.name, _player_id(player_id), state)
        return state

    def replace_world(self, world: World) -> None:
        """Serve ``world`` from the next turn on; open sessions carry on (hot reload)."""
        self.world = world
        self.kv.drop_prefixes()  # their keys can no longer match; free the memory now

    def load(self) -> Load:
        """What this server carries now: turns running, waiting and refused, KV, sessions."""
        return Load(self._gate.inside, self._gate.waiting, self._gate.refused,
                    self.kv.nbytes + self._scheduler.kv_bytes(), len(self.sessions))

    def warm(self) -> int:
        """
        Prefill every NPC's opening prefix (no quest started), learn its tools' examples
        (the intents and the act reader's per-NPC model) and let the planner read its facts
        (their vectors are kept: the first turn then embeds only the player's line);
        returns how many NPCs.
        """
        world = self.world
        speakers = [c.id for c in world.characters.values() if c.knows or c.tools]
        for npc in speakers:
            point = self._points.get(world, npc, WorldState())
            self.kv.shared_prefix(self.model.runner, point.card_ids)
            learn(point.known.tools, self.acts.embed)
            # The act reader learns this NPC's tools' examples (seconds, once, kept on disk)
            # here rather than in a player's first turn.
            self.acts.read(world, "Hello.", tools=point.known.tools)
            self._planner.plan(world, point.known, "Hello.")
        return len(speakers)

    def close_session(self, session_id: str, owner: str | None = None) -> None:
        """Forget a session and its KV cache; raises UnknownSessionError (also when
        ``owner`` is given and did not open it)."""
        self.sessions.close(session_id, owner)
        self.kv.drop(("session", session_id))

    def sampling(self, max_new_tokens: int = 0, temperature: float | None = None,
                 top_p: float | None = None, seed: int | None = None,
                 repetition_penalty: float | None = None) -> SamplingParams:
        """Request options with server defaults and caps applied; raises InvalidInputError."""
        s = self.settings
        try:
            return SamplingParams(
                max_new_tokens=min(max_new_tokens or s.max_new_tokens, s.max_new_tokens),
                temperature=s.temperature if temperature is None else temperature,
                top_p=s.top_p if top_p is None else top_p,
                seed=seed,
                repetition_penalty=(s.repetition_penalty if repetition_penalty is None
                                    else repetition_penalty),
            )
        except ValueError as exc:
            raise InvalidInputError(f"invalid generation options: {exc}") from exc

    async def say(
        self, session_id: str, text: str, params: SamplingParams, *, hold: bool = False,
        tool_choice: str = "", tell: Sequence[str] = (), opening: str = "",
        owner: str | None = None,
    ) -> AsyncIterator[ReplyEvent]:
        """
        Stream the NPC's reply to ``text``; closing the iterator stops generation.

        An NPC with tools may act first: each call is a ``ToolCallEvent``; a server tool
        runs at once, an engine tool waits for ``submit_tool_result`` (or the timeout),
        and the reply goes on with the result. Every line is checked before it counts
        as said: streaming (the default), tokens go out as generated and a
        ``LineReplacedEvent`` follows if the line had to change; with ``hold``, the line
        goes out as one token event once it has passed.

        ``tool_choice``: "" lets the NPC decide; "none" makes it only speak; a tool id
        makes it call that tool first (the game knows the player clicked "Buy", say),
        with arguments still chosen from the lore and grounded in the player's words.
        ``tell``: fact ids the answer should tell (tree generation); each must be one the
        NPC may tell now. ``opening``: words the spoken line starts with (tree generation:
        the first words of the fact keep a small model on it). ``owner``: the caller's
        identity; a session it did not open reads as unknown (None: in-process callers, no
        check).

        A new line in a session whose reply is still running cuts that reply short (the
        player spoke again): its stream ends with ``InterruptedTurnError``, nothing of it
        is kept, and this turn starts once it has stopped.

        Raises:
            UnknownSessionError: No such session.
            InterruptedTurnError: This reply was cut short by the player's next line.
            InvalidInputError: Empty or oversized text; a tool_choice the NPC cannot call
                now (unknown, not yet available, or nothing the player said grounds it).
        """
        session = self.sessions.get(session_id, owner)
        line = self._check_text(text)
        started = time.perf_counter()
        if session.turn_lock.locked():
            self._interrupt(session)
        async with session.turn_lock, self._gate.turn():
            session.interrupted = False
            self._catch_up(session)  # first: another server may have moved it on
            # The NPC's offer waits for this line only: taken now, whatever the turn does.
            proposal, session.proposal = session.proposal, None
            pending: list[Message] = [("user", line)]  # this turn's messages so far
            self._check_tool_choice(session, pending, tool_choice)
            told = self._check_tell(session, tell)
            chosen = self._choose(session, pending)  # a player option moves its quest first
            # Off the event loop and the decode thread: the encoder takes a few ms.
            plan = await asyncio.to_thread(self._plan, session, line, told, proposal,
                                           not (tool_choice or chosen))
            plan = dataclasses.replace(plan, opening=opening)
            outcomes: list[CallOutcome] = []
            while True:
                called: _Called | None = None
                cancelled = session.stop_pass = threading.Event()
                said = False
                choice = tool_choice if not outcomes or tool_choice == "none" else ""
                phase = self._run_phase(session, pending, params, hold=hold, started=started,
                                        calls_left=MAX_CALLS - len(outcomes),
                                        outcomes=tuple(outcomes), cancelled=cancelled,
                                        tool_choice=choice, plan=plan, chosen=chosen,
                                        proposal=proposal)
                async for item in self._on_scheduler(phase, cancelled):
                    if isinstance(item, _Called):
                        called = item
                    else:
                        said = said or isinstance(item, LineDoneEvent)
                        yield item  # type: ignore[misc]
                if session.interrupted and not said:
                    raise _cut_short()
                if called is None:
                    return
                if not called.rejected:
                    if called.event.executes == "engine":  # before the game can answer
                        self._calls.open(called.event.call_id, session.id)
                    yield called.event
                outcome, state = await self._carry_out(session, called)
                pending += [("assistant", called.text), ("tool", outcome.result)]
                # The call happened (the game may have handed an item over): stored with
                # its effect, even if the player has spoken again meanwhile.
                self.sessions.commit(session, self.world.name, state, pending)
                if session.interrupted:
                    raise _cut_short()
                outcomes.append(outcome)
                plan = dataclasses.replace(
                    plan, act=Act.ACT, tool=outcome.tool, tool_status=outcome.status,
                    thing=thing(self.world, outcome.args),
                    why=f"{plan.why}; the NPC called {outcome.tool} ({outcome.status})")

    def submit_tool_result(self, session_id: str, call_id: str, result: str,
                           error: str = "", owner: str | None = None) -> None:
        """
        The game's answer to an engine tool call; the waiting turn goes on with it, on
        this server or on the one whose turn made the call (a shared store).
        ``owner`` is checked against the stored session, so it holds across replicas.

        Raises:
            UnknownSessionError: No such session.
            NotFoundError: No call with this id is waiting (never made, already
                answered, or timed out).
            InvalidInputError: An oversized result, or one that is not JSON.
        """
        self.sessions.get(session_id, owner)
        if len(result) + len(error) > 4000:
            raise InvalidInputError("a tool result is limited to 4000 characters")
        if result:  # the NPC reads it back as JSON; garbage would reach its prompt
            try:
                json.loads(result)
            except ValueError as exc:
                raise InvalidInputError(
                    f"result_json is not JSON ({exc}); send an object such as "
                    '{"ok": true}, or an empty string with the error field for a failure'
                ) from exc
        self._calls.answer(session_id, call_id, result, error)

    async def _on_scheduler(self, steps: TurnSteps, cancelled: threading.Event
                            ) -> AsyncIterator[object]:
        """Run a turn's steps on the scheduler thread, relaying what they emit."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()

        def emit(item: object) -> None:  # called on the scheduler's thread
            # The caller's loop may be gone (it raised the turn's error and returned): what
            # the turn says after that has no one to go to, and must not stop the thread.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(queue.put_nowait, item)

        self._scheduler.submit(steps, emit)
        try:
            while (item := await queue.get()) is not DONE:
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            # Client gone or stream closed: the turn stops at its next step.
            cancelled.set()

    async def _carry_out(self, session: Session, called: _Called
                         ) -> tuple[CallOutcome, WorldState | None]:
        """Run a server tool now or wait for the game's answer; returns the outcome and the
        quest state it leads to (None: unchanged), for the caller to store."""
        event = called.event
        if called.rejected:
            return CallOutcome(event.call_id, event.tool, event.args, "rejected",
                               json.dumps({"error": "; ".join(called.rejected)})), None
        result, error = "{}", ""
        if event.executes == "engine":
            try:
                result, error = await self._calls.wait(event.call_id)
            except TimeoutError:
                log.warning("tool_call_timed_out", session=session.id, tool=event.tool,
                            call_id=event.call_id, timeout_s=self.settings.tool_timeout_s)
                return CallOutcome(event.call_id, event.tool, event.args, "timed_out",
                                   json.dumps({"error": "the game did not answer"})), None
        if error:
            return CallOutcome(event.call_id, event.tool, event.args, "failed",
                               json.dumps({"error": error})), None
        world = self.world
        tool = world.tools[event.tool]
        state = self.store.state(world.name, session.player_id)
        new_state, changes = apply(world, state, ToolCall(event.tool, event.args), tool)
        log.info("tool_call_done", session=session.id, tool=event.tool, changes=changes)
        return (CallOutcome(event.call_id, event.tool, event.args, "ok", result or "{}",
                            tuple(changes)),
                new_state if new_state != state else None)

    def offered(self, known: KnowledgeView, calls: Sequence[tuple[str, Mapping[str, object]]],
                said: str, asked: str = "") -> Proposal | None:
        """What an NPC's turn left waiting for the player's answer: the call its ``calls``
        (made this turn) ask to confirm or that follows them, or what ``said`` offered in
        answer to the player's line ``asked`` (``tools/proposal.py`` ``proposed``)."""
        return proposed(self.world, known, calls, said, self.acts, asked=asked)

    def shutdown(self) -> None:
        """Finish running turns, stop the generation thread, close the state database."""
        self._scheduler.shutdown()
        self.store.close()

    def _plan(self, session: Session, line: str, tell: Sequence[Fact],
              proposal: Proposal | None, may_ask: bool = True) -> Plan:
        """What the reply to ``line`` should do (see ``plan.py``); ``may_ask``: the NPC
        may offer a call the line may ask for instead of acting (the game chose none)."""
        world = self.world
        point = self._points.get(world, session.npc_id,
                                 self.store.state(world.name, session.player_id))
        previous = next((text for role, text in reversed(session.history) if role == "user"), "")
        plan = self._planner.plan(world, point.known, line, tell, previous)
        confirm = self.settings.confirm and may_ask and not tell
        if point.known.tools:  # may this line set one off?
            speech = self.acts.read(world, line, tools=point.known.tools,
                                    answering=proposal is not None)
            giving = [t for t in point.known.tools if speech.waits(t)]
            gate = bool(giving) and not any(
                speech.acts_for(acting_at(world, point.known.npc, t)) for t in giving)
            first = (ask_first(world, point.known, session.history, line, speech,
                               proposal=proposal) if confirm else None)
            plan = dataclasses.replace(plan, speech=speech, why=(
                f"{plan.why}; as a speech act, {speech.act} ({speech.p:.2f})"
                + (": it asks no tool to act" if gate else "")),
                tool_trace=tuple(trace(world, point.known, self.acts, session.history, line,
                                       proposal=proposal, reading=speech, first=first)))
            if first is not None:  # the NPC offers the call instead (tools/confirm.py)
                plan = dataclasses.replace(plan, act=Act.CONFIRM, facts=(), offer=first,
                                           thing=thing(world, first.args),
                                           why=f"{plan.why}; {first.why}")
        log.info("reply_planned", session=session.id, act=plan.act.value, kind=plan.kind,
                 facts=[f.id for f in plan.facts], why=plan.why)
        return plan

    def _check_text(self, text: str) -> str:
        line = text.strip()
        if not line:
            raise InvalidInputError("text is empty: send the player's line (1 or more characters)")
        if len(line) > self.settings.max_text_chars:
            raise InvalidInputError(
                f"text is {len(line)} characters; the limit is {self.settings.max_text_chars}"
            )
        return _neutralise(line)

    def _run_phase(self, session: Session, pending: list[Message], params: SamplingParams, *,
                   hold: bool, started: float, calls_left: int,
                   outcomes: tuple[CallOutcome, ...], cancelled: threading.Event,
                   tool_choice: str = "", plan: Plan, chosen: tuple[str, ...] = (),
                   proposal: Proposal | None = None) -> TurnSteps:
        """
        One model pass over the conversation: decide, then call a tool or speak.

        Runs under the scheduler: the first step prefills; each ``yield Decode`` hands a
        token to the batched decode step and receives the next logits. An NPC with tools
        starts with an action tag; a call ends the phase (``_Called``), the caller runs
        it and starts another phase with the result. A line the checker rejects is
        generated again from the same point (its row rewound, the offending words
        banned), then repaired, then replaced by an authored fallback.
        """
        model, world, tokenizer = self.model, self.world, self.model.tokenizer
        point = self._points.get(world, session.npc_id,
                                 self.store.state(world.name, session.player_id))
        known, shared, checker = point.known, point.card_ids, point.checker
        plan_note, plan_gist, plan = _told(plan, known.npc, session)
        prompt = fit_prompt(
            tokenizer, session.history,
            lambda history: build_messages(point.card, session.player_name, [*history, *pending],
                                           plan_note, point.examples),
            self.turn_tokens - params.max_new_tokens - RESERVE_SLACK)
        prefix_len = len(shared) if prompt[:len(shared)] == shared else 0
        offered = (offer(world, known, [*session.history, *pending], pending[0][1],
                         {o.tool for o in outcomes}, chosen=bool(tool_choice),
                         reading=plan.speech, proposal=proposal)
                   if known.tools and calls_left > 0 and tool_choice != "none"
                   and plan.act is not Act.CONFIRM else {})
        written = "" if plan.facts else plan_gist  # said as written (see realise.gist)
        if written and not offered:  # nothing for the model to do: no prefill either
            yield from self._spoken(session, self._writer.as_written(
                written, checker, pending[0][1], known, session, start=[]), plan, pending,
                Spoken(started, 0, outcomes, chosen, checker, known))
            return
        # Our decode batch row: the prompt, the reply, and the action tag and call arguments.
        row = yield Reserve(len(prompt) + params.max_new_tokens + RESERVE_SLACK)
        assert isinstance(row, KVCache)
        logits, cache = self.kv.prefill(model.runner, prompt, prefix_len=prefix_len,
                                        session=session.id, into=row)
        reply = Reply(logits, cache)
        if offered:  # act or speak? An action tag, written under the grammar
            if tool_choice in offered:  # the game chose: only the arguments are decoded
                offered = {tool_choice: offered[tool_choice]}
                yield from feed(reply, tokenizer.encode(f"[{tool_choice}]"))
                action = tool_choice
            elif plan.speech and (asked := wanted(
                    world, known, session.history, pending[0][1], offered, reading=plan.speech,
                    proposal=proposal, again=bool(outcomes))):
                action = asked[0]  # the writers' examples say what the line asks for
                yield from feed(reply, tokenizer.encode(f"[{action}]"))
            else:  # tools without examples: the model decides, the player's words bias it
                asking = {t.confirm_with for t in known.tools}  # reached by their tool only
                unexampled = {t: offered[t] for t in offered
                              if not examples(world.tools[t]) and t not in asking}
                action = SAY
                if unexampled:
                    action = yield from decide(reply, tokenizer, list(unexampled),
                                               evidence(known, pending[0][1], unexampled))
            if action != SAY:
                tool = world.tools[action]
                args = yield from write_arguments(reply, tokenizer, offered[action],
                                                  stock_limit(tool, known))
                yield from self._release(session, cache, [*prompt, *reply.ids], prefix_len)
                yield self._called(known, tool, args, tokenizer.decode(reply.ids))
                return
            # Speak: forget the tag, so the line starts as any other NPC's would.
            yield Rewind(len(prompt))
            reply = Reply(logits, cache)
        said = (self._writer.as_written(written, checker, pending[0][1], known, session,
                                        start=[*prompt, *reply.ids]) if written else
                (yield from self._writer.checked_line(
                    session, known, checker, reply, start=[*prompt, *reply.ids],
                    player_line=pending[0][1], params=params, hold=hold, cancelled=cancelled,
                    choice=self._choice(session, point, plan, (plan_note, plan_gist),
                                        pending),
                    copy_ban=self._copy_ban(plan, plan_gist),
                    opening=tokenizer.encode(plan.opening) if plan.opening else ())))
        if said is None:
            return
        yield from self._release(session, cache, said.ids, prefix_len)
        yield from self._spoken(session, said, plan, pending,
                                Spoken(started, len(prompt), outcomes, chosen, checker, known,
                                       hold, plan_note))

    def _spoken(self, session: Session, said: Line, plan: Plan, pending: list[Message],
                turn: Spoken) -> TurnSteps:
        """The line is said: what it revealed is stored, it goes out (whole, unless it
        streamed), and the turn's ``LineDoneEvent`` ends the phase."""
        done = time.perf_counter()
        plan = dataclasses.replace(plan, drafts=tuple((d.text, d.faults) for d in said.drafts))
        reply_text, first_at, count = said.text.strip(), said.first_at, said.tokens
        revealed, changes, state = self._reveal(session, turn.checker.told(reply_text))
        called = [c for outcome in turn.outcomes for c in outcome.changes]  # its calls' moves
        # The note stays where the model read it, after the line, so the next turn's
        # prompt extends this turn's KV (build_messages).
        noted = [(NOTE, turn.note)] if turn.note else []
        session.history += [*pending[:1], *noted, *pending[1:], ("assistant", reply_text)]
        session.proposal = plan.offer or self.offered(turn.known, [
            (o.tool, o.args) for o in turn.outcomes if o.status == "ok"], reply_text,
            pending[0][1])
        self.sessions.commit(session, self.world.name, state)  # the line, what it revealed
        rebuilt, session.from_store = session.from_store, False  # said here, kept here
        if turn.hold or not said.streamed:  # nothing went out yet: the line goes out whole
            yield TokenEvent(reply_text, 0)
        elif reply_text != said.streamed.strip():  # only when it passed but was trimmed
            yield LineReplacedEvent(reply_text)
        timings = Timings(
            ttft_ms=((first_at or done) - turn.started) * 1000,
            total_ms=(done - turn.started) * 1000,
            prompt_tokens=turn.prompt_tokens,
            generated_tokens=count,
            decode_tokens_per_s=(count - 1) / (done - first_at) if count > 1 else 0.0,
            rebuilt_from_store=rebuilt,
        )
        log.info("turn_done", session=session.id, npc=session.npc_id, stop=said.reason.value,
                 check=said.check.action.value, calls=len(turn.outcomes),
                 **dataclasses.asdict(timings))
        yield LineDoneEvent(reply_text, said.reason, timings, said.check, turn.outcomes,
                            revealed, (*turn.chosen, *called, *changes), self.options(session),
                            plan)

    def _choice(self, session: Session, point: StoryPoint, plan: Plan, told: tuple[str, str],
                pending: list[Message]) -> Choice | None:
        """How the line's first sentence is chosen (``score.py``); None when drafting is
        off. ``told``: the reply's note and gist."""
        drafts = self._drafts()
        if not drafts:
            return None
        note_text, gist_text = told
        heard = " ".join(text for _, text in spoken([*session.history, *pending]))
        find = judge(plan, point.known, point.checker, note=note_text, gist=gist_text,
                     recent=_recent(session), player_line=pending[0][1],
                     context=f"{point.card} {heard}")
        return Choice(find, drafts, functools.partial(stand_in, gist_text))

    def _copy_ban(self, plan: Plan, gist_text: str) -> CopyBan | None:
        """What the line must put in its own words: the facts it tells, as the NPC says
        them (its gist) and as written; None when it tells none or the ban is off."""
        if not plan.facts or not gist_text or not self.settings.copy_limit:
            return None
        return CopyBan.of([gist_text, *(f.text for f in plan.facts)], self.settings.copy_limit)

    def _drafts(self) -> int:
        """How many drafts of the line's first sentence the scorer may see (0: no scorer):
        the setting, but one while more than half the turn places are taken (a redraft
        under load holds a decode row longer and delays every turn in the batch). One
        draft is still judged: a faulty one gives way to the stand-in, which costs no
        decoding."""
        wanted = self.settings.candidates
        if wanted > 1 and self._gate.inside > max(1, self.settings.max_active_turns // 2):
            return 1
        return wanted

    def _interrupt(self, session: Session) -> None:
        """Stop the session's turn in flight: its model pass, or its wait for the game."""
        log.info("turn_interrupted", session=session.id)
        session.interrupt()
        self._calls.interrupt(session.id, "the player spoke again before the game answered")

    def _catch_up(self, session: Session) -> None:
        """
        Bring the session's copy up to the store's before a turn (``SessionRegistry.
        catch_up``). The KV this server kept for the session stays: reuse goes by the
        longest common prefix of token ids (``KVPool.prefill``), so the turn reuses it up to
        where the stored conversation left what this server last saw (its own turns, as a
        rule) and prefills the rest, the other servers' turns. The turn's timings say that
        it read the conversation from the store (``rebuilt_from_store``).
        """
        if self.sessions.catch_up(session):
            log.info("session_from_store", session=session.id, version=session.version,
                     messages=len(session.history))

    def _choose(self, session: Session, pending: list[Message]) -> tuple[str, ...]:
        """Fire the quest transition the player's line (``pending[0]``) picks, if it is one
        of their options, stored with the line; returns the changes."""
        world = self.world
        state = self.store.state(world.name, session.player_id)
        new_state, changes = choose(world, state, session.npc_id, pending[0][1])
        if new_state != state:
            self.sessions.commit(session, world.name, new_state, pending)
            log.info("option_chosen", session=session.id, changes=changes)
        return tuple(changes)

    def _reveal(self, session: Session, facts: list[str]
                ) -> tuple[tuple[str, ...], tuple[str, ...], WorldState | None]:
        """The facts a said line told: those new to the player, the quest changes that
        followed (transitions waiting for them) and the state to store (None: unchanged)."""
        world = self.world
        state = self.store.state(world.name, session.player_id)
        new_state, changes = reveal(world, state, facts)
        if new_state == state:
            return (), (), None
        told = tuple(sorted(new_state.revealed - state.revealed))
        log.info("facts_revealed", session=session.id, facts=told, changes=changes)
        return told, tuple(c for c in changes if not c.startswith("revealed: ")), new_state

    def _check_tell(self, session: Session, tell: Sequence[str]) -> tuple[Fact, ...]:
        if not tell:
            return ()
        world = self.world
        known = view(world, session.npc_id, self.store.state(world.name, session.player_id))
        allowed = {f.id: f for f in known.facts}
        if missing := [f for f in tell if f not in allowed]:
            raise InvalidInputError(f"{session.npc_id} may not tell {', '.join(missing)} now")
        return tuple(allowed[f] for f in tell)

    def _check_tool_choice(self, session: Session, pending: list[Message],
                           tool_choice: str) -> None:
        if tool_choice in {"", "none"}:
            return
        world = self.world
        known = view(world, session.npc_id, self.store.state(world.name, session.player_id))
        if tool_choice not in {t.id for t in known.tools}:
            raise InvalidInputError(
                f"tool_choice {tool_choice!r}: {session.npc_id} cannot call it now; it can "
                f"call: {', '.join(t.id for t in known.tools) or 'nothing'} (or use '' or "
                "'none')")
        if tool_choice not in offer(self.world, known, [*session.history, *pending],
                                    pending[0][1], set(), chosen=True):
            raise InvalidInputError(
                f"tool_choice {tool_choice!r}: the player's words name no value for its "
                "arguments (e.g. an item the NPC has); let the NPC decide with ''")

    def _called(self, known: KnowledgeView, tool: Tool, args: dict[str, object], text: str
                ) -> _Called:
        """The decoded call (its count said outright), validated again against the lore
        before anything runs."""
        args = with_count(tool, args)
        found = problems(self.world, known, ToolCall(tool.id, args))
        if found:
            log.warning("tool_call_rejected", tool=tool.id, problems=found)
        event = ToolCallEvent(f"call-{secrets.token_urlsafe(8)}", tool.id, args, tool.executes)
        return _Called(event, text, tuple(found))

    def _release(self, session: Session, cache: KVCache, ids: list[int], shared: int
                 ) -> TurnSteps:
        """Take the phase's KV out of the decode batch and keep it for the session: all but
        its first ``shared`` tokens when they are a cached shared prefix."""
        skip = shared if 0 < shared < len(ids) and self.kv.has_prefix(ids[:shared]) else 0
        released = yield Release(cache, skip)
        assert isinstance(released, KVCache)
        if session.id in self.sessions:  # not closed meanwhile
            length = min(released.length + skip, len(ids))
            self.kv.keep_session(session.id, ids[:length], released.rewind(length - skip),
                                 skip)


def _cut_short() -> InterruptedTurnError:
    return InterruptedTurnError("the player spoke again in this session before this reply "
                                "ended; the reply was cut short and not kept")


def _player_id(player_id: str) -> str:
    if len(player_id) > 128:
        raise InvalidInputError(f"player_id is {len(player_id)} characters; the limit is 128")
    return player_id


def _neutralise(text: str) -> str:
    """Break special-token markup in user text, so a player cannot end the NPC's turn."""
    return text.replace("<|", "< |")


def _told(plan: Plan, npc: Character, session: Session) -> tuple[str, str, Plan]:
    """The reply's note to the model, its gist (``realise.py``), and the plan, whose
    ``why`` says where a line said as written comes from (the lore field to edit)."""
    said = gist(plan, npc, _recent(session))
    if said.text and said.source != "facts":
        plan = dataclasses.replace(plan, why=f"{plan.why}; said as written, from {said.source}")
    return note(plan, npc, said.text), said.text, plan


def _recent(session: Session) -> list[str]:
    """The NPC's last lines in ``session``: a draft may not repeat them."""
    return [text for role, text in session.history[-RECENT_LINES * 2:] if role == "assistant"]
