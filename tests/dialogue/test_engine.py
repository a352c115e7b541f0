"""The turn pipeline's use of the KV pool: warm prefixes, session reuse, reload, and
sessions that another server (on one PostgreSQL database) served meanwhile."""

from __future__ import annotations

import asyncio
import dataclasses

from npc_runtime.config import Settings
from npc_runtime.dialogue.engine import DialogueEngine
from npc_runtime.dialogue.events import LineDoneEvent, ReplyEvent, ToolCallEvent
from npc_runtime.dialogue.plan import Act
from npc_runtime.dialogue.prompt import NOTE, build_messages, spoken
from npc_runtime.lore.model import World, WorldState
from npc_runtime.model.loader import LoadedModel
from npc_runtime.tools.acts import Embed
from tests.postgres import PostgresServer


def _say(engine: DialogueEngine, session: str, text: str) -> LineDoneEvent:
    async def run() -> LineDoneEvent:
        events = [e async for e in engine.say(session, text, engine.sampling())]
        assert isinstance(events[-1], LineDoneEvent)
        return events[-1]

    return asyncio.run(run())


def test_warm_prefix_is_hit_by_a_new_sessions_first_turn(tiny_model: LoadedModel,
                                                         world: World, embed: Embed) -> None:
    """--warm prefills each NPC's card; the first turn then reuses it."""
    engine = DialogueEngine(world, tiny_model, Settings(max_new_tokens=4), embed=embed)
    try:
        assert engine.warm() == 1  # maren; tobin is a background character
        session = engine.open_session("maren", "Ada").id
        _say(engine, session, "Nice weather today.")  # a remark: the model speaks
        assert (engine.kv.stats.prefix_hits, engine.kv.stats.prefix_misses) == (1, 1)
        before = engine.kv.stats.prefilled_tokens
        done = _say(engine, session, "The gulls are loud this morning.")
        # The second turn prefilled only its own new tokens, not the whole prompt.
        assert engine.kv.stats.prefilled_tokens - before < done.timings.prompt_tokens / 2
        assert engine.kv.stats.session_hits == 1
    finally:
        engine.shutdown()


def test_a_line_said_as_written_runs_no_prompt(tiny_model: LoadedModel, world: World,
                                              embed: Embed) -> None:
    """A greeting is the NPC's own line, said as written: the model runs nothing for it,
    and the line is in the session's history for the next turn."""
    engine = DialogueEngine(world, tiny_model, Settings(max_new_tokens=4), embed=embed)
    try:
        session = engine.open_session("maren", "Ada").id
        done = _say(engine, session, "Hello there.")
        maren = world.characters["maren"]
        assert done.text == maren.persona.sample_lines[0]
        assert (done.timings.prompt_tokens, done.timings.generated_tokens) == (0, 0)
        assert engine.kv.stats.prefilled_tokens == 0
        _say(engine, session, "Nice weather today.")
        assert ("assistant", done.text) in engine.sessions.get(session).history
    finally:
        engine.shutdown()


def test_world_reload_drops_shared_prefixes(tiny_model: LoadedModel, world: World,
                                            embed: Embed) -> None:
    """Replacing the world frees prefixes (their text may have changed)."""
    engine = DialogueEngine(world, tiny_model, Settings(max_new_tokens=4), embed=embed)
    try:
        engine.warm()
        assert engine.kv.nbytes > 0
        engine.replace_world(world)
        assert engine.kv.nbytes == 0
    finally:
        engine.shutdown()


def test_interleaved_turns_reply_exactly_as_alone(tiny_model: LoadedModel,
                                                  world: World, embed: Embed) -> None:
    """Three sessions talking at once get, token for token, their solo greedy replies."""
    lines = ["A room, please.", "Any stew tonight?", "What of the bell?"]
    engine = DialogueEngine(world, tiny_model, Settings(max_new_tokens=16), embed=embed)
    try:
        params = engine.sampling(temperature=1.0, seed=4)  # varied, reproducible tokens
        alone = []
        for line in lines:
            session = engine.open_session("maren").id
            alone.append(asyncio.run(_collect(engine, session, line, params)))

        async def together() -> list[str]:
            sessions = [engine.open_session("maren").id for _ in lines]
            return list(await asyncio.gather(*(
                _collect(engine, s, line, params) for s, line in zip(sessions, lines,
                                                                     strict=True))))

        assert all(alone), alone  # non-empty, or the comparison would prove nothing
        assert asyncio.run(together()) == alone
    finally:
        engine.shutdown()


async def _collect(engine: DialogueEngine, session: str, line: str, params: object) -> str:
    events = [e async for e in engine.say(session, line, params)]  # type: ignore[arg-type]
    done = events[-1]
    assert isinstance(done, LineDoneEvent)
    return done.text


def test_a_long_conversation_drops_to_half_its_room_then_grows_again(
        tiny_model: LoadedModel, world: World, embed: Embed) -> None:
    """When the history overflows a turn's room, the oldest exchanges go until it fills
    about half of it, so the next turns extend one cached prefix instead of each dropping
    an exchange (and prefilling the whole history again)."""
    # 20 MB of KV for 16 turns of the tiny model: 2560 tokens a turn.
    engine = DialogueEngine(world, tiny_model, Settings(max_new_tokens=4, kv_cache_mb=20),
                            embed=embed)
    session = engine.open_session("maren")
    filler = " ".join(f"w{i}" for i in range(20))
    session.history += [("user", f"Tell me {filler}"), ("assistant", f"I say {filler}")] * 12
    done = _say(engine, session.id, "And the bell?")
    kept = [text for role, text in session.history if role == "user"]
    assert 1 < len(kept) < 13  # some exchanges dropped, not all
    assert done.timings.prompt_tokens < 0.8 * (2560 - 4 - 64)  # well under the room
    _say(engine, session.id, "And the tide?")
    # Nothing dropped: the prefix stayed.
    assert [text for role, text in session.history if role == "user"] == [*kept, "And the tide?"]
    engine.shutdown()


def test_the_plans_note_stays_in_the_history_so_the_next_prompt_extends_the_last(
        tiny_model: LoadedModel, world: World, embed: Embed) -> None:
    """The note the model read after the player's line is kept there, so the next turn's
    prompt starts with the whole of this turn's: the session's KV (which holds the note)
    is reused up to the reply instead of prefilled again from the note on."""
    engine = DialogueEngine(world, tiny_model, Settings(max_new_tokens=4), embed=embed)
    try:
        session = engine.open_session("maren", "Ada")
        _say(engine, session.id, "How much is a room for the night?")  # a fact: a note
        roles = [role for role, _ in session.history]
        assert roles == ["user", NOTE, "assistant"]
        assert "five copper" in session.history[1][1].lower()
        point = engine._points.get(world, "maren", engine.quest_state(session.player_id))
        first = build_messages(point.card, "Ada", session.history[:1],
                               session.history[1][1], point.examples)
        second = build_messages(point.card, "Ada", [*session.history, ("user", "And food?")],
                                "a later note", point.examples)
        assert second[:len(first)] == first
        assert second[len(first)] == ("assistant", session.history[2][1])
        assert spoken(session.history) == [session.history[0], session.history[2]]
    finally:
        engine.shutdown()


def test_an_unsure_request_is_offered_first_and_a_yes_takes_it(tiny_model: LoadedModel,
                                                              world: World,
                                                              embed: Embed) -> None:
    """Maren acts only on lines read as requests at 99 % (her ``acting_at``): a plain ask
    for the key reads less surely, so she offers it in so many words, calls nothing, and
    keeps the offer; the player's yes then calls it (tools/confirm.py)."""
    maren = dataclasses.replace(world.characters["maren"], acting_at=99)
    strict = dataclasses.replace(world, characters={**world.characters, "maren": maren})
    engine = DialogueEngine(strict, tiny_model, Settings(max_new_tokens=4), embed=embed)

    async def turn(session: str, text: str) -> list[object]:
        return [e async for e in engine.say(session, text, engine.sampling())]

    try:
        session = engine.open_session("maren", "Ada").id
        events = asyncio.run(turn(session, "Could I get the room key?"))
        done = events[-1]
        assert isinstance(done, LineDoneEvent)
        assert not any(isinstance(e, ToolCallEvent) for e in events)
        assert done.plan is not None
        assert done.plan.act is Act.CONFIRM
        assert done.text == "The room key, then? Say the word."
        assert engine.sessions.get(session).proposal == done.plan.offer
        calls = [e for e in asyncio.run(turn(session, "Yes please."))
                 if isinstance(e, ToolCallEvent)]
        assert [(c.tool, c.args.get("item")) for c in calls] == [("give_item", "room_key")]
    finally:
        engine.shutdown()


def test_asking_first_can_be_switched_off(tiny_model: LoadedModel, world: World,
                                          embed: Embed) -> None:
    """NPC_CONFIRM=0: the same line gets no offer (the NPC just speaks)."""
    maren = dataclasses.replace(world.characters["maren"], acting_at=99)
    strict = dataclasses.replace(world, characters={**world.characters, "maren": maren})
    engine = DialogueEngine(strict, tiny_model, Settings(max_new_tokens=4, confirm=False),
                            embed=embed)
    try:
        session = engine.open_session("maren", "Ada").id
        done = _say(engine, session, "Could I get the room key?")
        assert done.plan is not None
        assert done.plan.act is not Act.CONFIRM
        assert engine.sessions.get(session).proposal is None
    finally:
        engine.shutdown()


def test_every_draft_starts_with_the_opening(tiny_model: LoadedModel, world: World,
                                             embed: Embed) -> None:
    """Tree generation hands the first words of the fact as an opening: each draft of the
    line starts with them (the tiny model's own drafts start anywhere)."""
    engine = DialogueEngine(world, tiny_model, Settings(max_new_tokens=12), embed=embed)
    try:
        session = engine.open_session("maren", "Ada").id

        async def run(opening: str) -> LineDoneEvent:
            events = [e async for e in engine.say(
                session, "What's a room cost?", engine.sampling(seed=3), hold=True,
                tool_choice="none", tell=["room_price"], opening=opening)]
            assert isinstance(events[-1], LineDoneEvent)
            return events[-1]

        done = asyncio.run(run("A room"))
        assert done.plan is not None
        assert done.plan.opening == "A room"
        assert done.plan.drafts
        assert all(text.startswith("A room") for text, _ in done.plan.drafts)
    finally:
        engine.shutdown()


# ---- Two servers on one PostgreSQL database: any of them serves a session's next turn.

def _replicas(world: World, model: LoadedModel, embed: Embed, url: str
              ) -> tuple[DialogueEngine, DialogueEngine]:
    """Two engines, as two servers would run them, sharing the database at ``url``."""
    settings = Settings(max_new_tokens=4, state_url=url)
    return (DialogueEngine(world, model, settings, embed=embed),
            DialogueEngine(world, model, settings, embed=embed))


def _turn(engine: DialogueEngine, session: str, text: str) -> list[ReplyEvent]:
    """One turn, the game answering each engine tool call with ``{"ok": true}``."""
    async def run() -> list[ReplyEvent]:
        events = []
        async for event in engine.say(session, text, engine.sampling()):
            events.append(event)
            if isinstance(event, ToolCallEvent) and event.executes == "engine":
                engine.submit_tool_result(session, event.call_id, '{"ok": true}')
        assert isinstance(events[-1], LineDoneEvent)
        return events

    return asyncio.run(run())


def test_a_conversation_alternating_between_servers_keeps_history_offer_and_quests(
        tiny_model: LoadedModel, world: World, embed: Embed, postgres: PostgresServer) -> None:
    """Turns go one, two, one, one: each server goes on from the stored conversation
    (the other's lines in order, the offer the other's NPC made, the quest stages its
    call and option moved), and says when it read the session from the store."""
    maren = dataclasses.replace(world.characters["maren"], acting_at=99)  # she offers first
    strict = dataclasses.replace(world, characters={**world.characters, "maren": maren})
    one, two = _replicas(strict, tiny_model, embed, postgres.new_database())
    try:
        one.set_quest_state("p1", WorldState(stages={"noises_below": "asked"}))
        session = one.open_session("maren", "Ada", player_id="p1").id
        lines = ["Could I get the room key?", "Yes please.", "I'll bring the boy some stew.",
                 "Nice weather today."]
        offered = _turn(one, session, lines[0])[-1]
        taken = _turn(two, session, lines[1])  # the offer was made on the other server
        chosen = _turn(one, session, lines[2])[-1]
        again = _turn(one, session, lines[3])[-1]
        assert isinstance(offered, LineDoneEvent)
        assert offered.plan is not None
        assert offered.plan.act is Act.CONFIRM
        calls = [(e.tool, e.args.get("item")) for e in taken if isinstance(e, ToolCallEvent)]
        assert calls == [("give_item", "room_key")]
        assert isinstance(taken[-1], LineDoneEvent)
        assert "noises_below: asked -> trusted" in taken[-1].quest_changes
        assert isinstance(chosen, LineDoneEvent)
        assert "noises_below: trusted -> done" in chosen.quest_changes
        assert isinstance(again, LineDoneEvent)
        rebuilt = [e.timings.rebuilt_from_store for e in (offered, taken[-1], chosen, again)]
        assert rebuilt == [False, True, True, False]
        stored = one.store.session(session)
        assert stored is not None
        assert [text for role, text in stored.history if role == "user"] == lines
        assert list(stored.history) == one.sessions.get(session).history
        expected = WorldState(stages={"noises_below": "done"}, revealed=frozenset(),
                              player_items=frozenset({"room_key"}))
        assert two.quest_state("p1").stages == expected.stages
        assert "room_key" in two.quest_state("p1").player_items
    finally:
        one.shutdown()
        two.shutdown()


def test_a_session_back_from_another_server_reuses_its_kv_up_to_the_other_turns(
        tiny_model: LoadedModel, world: World, embed: Embed, postgres: PostgresServer) -> None:
    """A server picking a conversation back up from another keeps the KV of its own turns:
    the turn reuses it up to where the other server's turn starts (a session hit, fewer
    tokens prefilled than a server that never saw it) and says it read the store; the
    turn after, on the same server, extends its own KV as usual."""
    one, two = _replicas(world, tiny_model, embed, postgres.new_database())
    try:
        session = one.open_session("maren", "Ada").id
        _say(one, session, "Nice weather today.")
        _say(one, session, "The gulls are loud this morning.")
        assert one.kv.stats.session_hits == 1
        before = two.kv.stats.reused_tokens
        elsewhere = _say(two, session, "The sea is calm tonight.")
        reused_elsewhere = two.kv.stats.reused_tokens - before  # the NPC's card only
        before = one.kv.stats.reused_tokens
        back = _say(one, session, "Any news from the harbour?")
        assert one.kv.stats.session_hits == 2  # its own turns' KV, reused
        assert back.timings.prompt_tokens > elsewhere.timings.prompt_tokens
        # The card and its own two turns: more than two reused for a conversation that
        # already held those turns.
        assert one.kv.stats.reused_tokens - before > reused_elsewhere + 10
        following = _say(one, session, "Nice weather today.")
        assert one.kv.stats.session_hits == 3
        assert (elsewhere.timings.rebuilt_from_store, back.timings.rebuilt_from_store,
                following.timings.rebuilt_from_store) == (True, True, False)
    finally:
        one.shutdown()
        two.shutdown()
