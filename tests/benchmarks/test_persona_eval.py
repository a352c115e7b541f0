"""
The persona benchmark: its judge on crafted replies, its data (lines and conversations),
its report, and its harness against a real server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from benchmarks import persona_eval
from benchmarks.persona_data import check_line, read_data, read_lines
from benchmarks.persona_eval import Record, evaluate, print_record, report
from benchmarks.persona_judge import (
    Line,
    Lore,
    Reply,
    ai_talk,
    content_stems,
    fact_answered,
    judge,
    numbers,
    off_world,
    read_lore,
    sentences,
    third_person_self,
    unknown_numbers,
)

DATA = Path(__file__).parent / "data"
CONVERSATIONS = DATA / "persona_conversations.yaml"
WORLD = "tests/benchmarks/data/persona_world"
HEDDA = ("Hedda Thorne", "Hedda", "the miller")
FLOUR = "A sack of flour costs three silver pennies at the mill."


@pytest.fixture(scope="module")
def lore() -> Lore:
    """The crafted world's lore, as the judge reads it."""
    return read_lore(DATA / "persona_world")


def _line(kind: str, text: str = "Hello.", **more: object) -> Line:
    return Line(world=WORLD, npc="hedda", text=text, kind=kind, **more)  # type: ignore[arg-type]


def _flags(lore: Lore, line: Line, text: str, **reply: object) -> dict[str, bool]:
    flags: dict[str, bool] = judge(line, Reply(text=text, **reply),  # type: ignore[arg-type]
                                   lore)["flags"]
    return flags


# --- words and numbers ---------------------------------------------------------------------

def test_numbers_are_read_in_digits_and_words() -> None:
    """Digits with separators, compound number words and scales all become integers."""
    assert numbers(
        "1,200 crowns and 3 pigs; twenty-five, a hundred and five, two thousand five hundred, "
        "five, six") == [1200, 3, 25, 105, 2500, 5, 6]


def test_content_words_leave_out_stop_words_numbers_and_the_npcs_name() -> None:
    """What a fact says, stemmed: no 'the', no 'forty', no 'Hedda'."""
    assert {"grandfather", "built", "mill", "wheel", "year", "ago"} == content_stems(
        "Hedda's grandfather built the mill wheel forty years ago.", HEDDA)


# --- fact_answered -------------------------------------------------------------------------

def test_a_paraphrase_with_the_number_in_words_answers_the_fact() -> None:
    """'Three silver a sack' states the price: the number and enough of the words."""
    answer = fact_answered(FLOUR, "Three silver pennies a sack, friend.", HEDDA)
    assert answer["answered"]
    assert answer["numbers_missing"] == []
    assert answer["share"] >= 0.3


def test_the_number_in_digits_answers_too() -> None:
    """'3' is three."""
    assert fact_answered(FLOUR, "3 silver for a sack of flour.", HEDDA)["answered"]


def test_a_reply_without_the_number_does_not_answer() -> None:
    """Every word but the price is not the price."""
    answer = fact_answered(FLOUR, "A sack of flour costs silver pennies at the mill.", HEDDA)
    assert not answer["answered"]
    assert answer["numbers_missing"] == [3]


def test_the_number_alone_does_not_answer() -> None:
    """'Three.' shares too few of the fact's words."""
    answer = fact_answered(FLOUR, "Three, I think.", HEDDA)
    assert not answer["answered"]
    assert answer["share"] < 0.3


def test_a_fact_line_is_clean_only_when_answered(lore: Lore) -> None:
    """Unanswered, a fact line with no other fault is still not clean."""
    line = _line("fact", "How much is flour?", facts=("flour_price",))
    assert judge(line, Reply(text="Three silver pennies a sack."), lore)["clean"]
    verdict = judge(line, Reply(text="Ask at the mill."), lore)
    assert not verdict["flags"]["fact_answered"]
    assert not verdict["clean"]


# --- words out of place --------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "That's five dollars.", "Try the hotel by the river.", "Send me an email.",
    "It costs $5.", "No refunds, customer.", "I can assist you with that.",
    "Check our website.", "Call me on my phone."])
def test_off_world_words_are_flagged(lore: Lore, text: str) -> None:
    """Modern money, services and technology in a river village."""
    assert _flags(lore, _line("small_talk"), text)["off_world"]


def test_an_in_setting_line_is_not_off_world() -> None:
    """Pennies, sacks and ferries belong; 'the flight of the heron' is no air travel."""
    assert off_world("Three silver pennies, and the ferry runs till dusk. "
                     "Watch the flight of the heron.") == []


@pytest.mark.parametrize("text", [
    "As an AI, I have no flour.", "I'm a language model.", "I'm here to help!",
    "How can I assist you today?", "I can't browse the internet."])
def test_assistant_talk_is_flagged(lore: Lore, text: str) -> None:
    """An assistant's phrases, not a miller's."""
    assert _flags(lore, _line("ai_bait"), text)["ai_talk"]


def test_a_character_line_is_not_ai_talk() -> None:
    """Plain in-character refusal."""
    assert ai_talk("I don't know what that is. I grind grain, nothing more.") == []


# --- speaking as oneself -------------------------------------------------------------------

@pytest.mark.parametrize("text", ["Hedda says no.", "Ask the miller.",
                                  "Hedda's grandfather built it."])
def test_naming_oneself_in_the_third_person_is_flagged(lore: Lore, text: str) -> None:
    """The NPC's name or alias, not in an introduction."""
    assert _flags(lore, _line("identity"), text)["third_person_self"]


@pytest.mark.parametrize("text", ["I'm Hedda, the miller.", "Name's Hedda Thorne.",
                                  "Hedda's the name.", "My grandfather built it."])
def test_introducing_oneself_is_not_third_person(text: str) -> None:
    """'I'm Hedda' is the NPC speaking as itself."""
    assert third_person_self(text, HEDDA) == []


def test_a_capitalised_name_matches_with_its_case() -> None:
    """'Wren' the chandler is not 'a wren' the bird."""
    assert third_person_self("A wren sang.", ("Wren",)) == []
    assert third_person_self("Wren sells rope.", ("Wren",)) == ["Wren"]


# --- length and numbers --------------------------------------------------------------------

def test_more_than_three_sentences_is_too_long(lore: Lore) -> None:
    """Four sentences are one too many; three are fine."""
    three = "Flour's three. Ferry runs at dawn. Mind the wheel!"
    assert len(sentences(three)) == 3
    assert not _flags(lore, _line("small_talk"), three)["too_long"]
    assert _flags(lore, _line("small_talk"), three + " Off you go?")["too_long"]


def test_numbers_from_nowhere_are_flagged(lore: Lore) -> None:
    """7 and twelve are in neither the world nor the line; forty and small words pass."""
    assert unknown_numbers("That's 7 pennies, or twelve for two sacks.", lore, "") == [7, 12]
    assert unknown_numbers("Forty years, and seven sacks a day.", lore, "") == []
    assert unknown_numbers("Fifty-five, as you say.", lore, "Is it 55?") == []


# --- what the player saw and what the NPC did ----------------------------------------------

def test_a_streamed_then_replaced_line_shows_a_draft(lore: Lore) -> None:
    """Tokens then `replaced`: the player saw a rejected line."""
    line = _line("small_talk")
    assert _flags(lore, line, "Fine.", deltas=[(10.0, "Bad")], replaced="Fine.")["draft_shown"]
    assert not _flags(lore, line, "Fine.", deltas=[], replaced="Fine.")["draft_shown"]
    assert not _flags(lore, line, "Fine.", deltas=[(10.0, "Fine.")])["draft_shown"]


def test_tool_calls_are_judged_against_the_line(lore: Lore) -> None:
    """The asked tool is neither unasked nor missed; anything else is one or both."""
    give = [{"tool": "give_item", "args": {"item": "flour_sack"}}]
    request = _line("request", tool="give_item")
    assert not _flags(lore, request, "Here.", tool_calls=give)["unasked_tool"]
    assert not _flags(lore, request, "Here.", tool_calls=give)["missed_tool"]
    assert _flags(lore, request, "No.")["missed_tool"]
    other = [{"tool": "open_shop", "args": {}}]
    assert _flags(lore, request, "Look.", tool_calls=other)["unasked_tool"]
    assert _flags(lore, request, "Look.", tool_calls=other)["missed_tool"]
    flags = _flags(lore, _line("greeting"), "Here.", tool_calls=give)
    assert flags["unasked_tool"]
    assert "missed_tool" not in flags


def test_a_plain_greeting_is_clean_and_an_error_is_not(lore: Lore) -> None:
    """No flag, clean; a failed turn is never clean."""
    assert judge(_line("greeting"), Reply(text="Morning."), lore)["clean"]
    failed = judge(_line("greeting"), Reply(error="UNAVAILABLE: gone"), lore)
    assert failed["flags"]["error"]
    assert not failed["clean"]


# --- the data ------------------------------------------------------------------------------

def test_a_line_naming_what_its_world_lacks_is_refused(lore: Lore) -> None:
    """Unknown kind, fact or tool: SystemExit naming the line."""
    with pytest.raises(SystemExit, match=r"f.yaml: lines\[2\].*no fact 'nope'"):
        check_line(_line("fact", facts=("nope",)), lore, "f.yaml: lines[2]")
    with pytest.raises(SystemExit, match="kind 'chat'"):
        check_line(_line("chat"), lore, "f.yaml: lines[0]")
    with pytest.raises(SystemExit, match="only request lines"):
        check_line(_line("greeting", tool="give_item"), lore, "f.yaml: lines[0]")


def test_a_lines_state_is_read_as_quest_state() -> None:
    """`has` and `revealed`, as `lore show` names them, become QuestState's fields."""
    state = read_lines(DATA / "persona_lines.yaml")[2].state
    assert state == {"stages": {"wet_grain": "asked"}, "player_items": ["flour_sack"]}


# --- the harness ---------------------------------------------------------------------------

def test_the_harness_says_every_line_to_a_real_server(tiny_model_dir: Path) -> None:
    """Three lines through `npc-runtime serve` with the tiny model: recorded, judged, reported."""
    path = DATA / "persona_lines.yaml"
    lines = read_lines(path)
    records = asyncio.run(evaluate([path], tiny_model_dir))
    assert [r.line for r in records] == lines
    for record in records:
        assert record.reply.error is None
        assert record.reply.text
        assert record.reply.check["action"]
        assert record.reply.ttft_ms is not None
        assert record.reply.total_ms is not None
        assert record.reply.ttft_ms <= record.reply.total_ms
    request = records[1]
    assert [c["tool"] for c in request.reply.tool_calls] == ["give_item"]
    assert request.reply.tool_calls[0]["status"] == "ok"  # the harness answered as a game
    assert not request.verdict["flags"]["missed_tool"]
    figures = report(records)
    assert figures["all"]["lines"] == 3
    assert set(figures["files"][str(path)]["by_kind"]) == {"fact", "request", "greeting"}


# --- conversations -------------------------------------------------------------------------

def test_a_conversations_turns_are_lines_of_its_world_and_npc() -> None:
    """Each turn gets the conversation's world and NPC; only the first gets its state."""
    lines, conversations = read_data(CONVERSATIONS)
    assert lines == []
    assert [c.id for c in conversations] == ["c0", "dues"]  # the index unless `id` names it
    dues = conversations[1]
    assert [t.line.npc for t in dues.turns] == ["oskar"] * 3
    assert [t.line.world for t in dues.turns] == ["examples/worlds/saltmere"] * 3
    assert [dict(t.line.state) for t in dues.turns] == [
        {"stages": {"harbour_dues": "owed"}}, {}, {}]
    assert conversations[0].turns[2].note.startswith("follow-up")


@pytest.mark.parametrize(("text", "message"), [
    ("conversations:\n  - {world: w, npc: n, turns: [{text: Hi, kind: greeting, npc: x}]}",
     r"conversations\[0\]\.turns\[0\]: world, npc and state belong to the conversation"),
    ("conversations:\n  - {world: w, npc: n, turns: []}", r"conversations\[0\]: needs a non"),
    ("conversations:\n  - {npc: n, turns: [{text: Hi, kind: greeting}]}",
     r"conversations\[0\]: needs world and npc"),
    ("other: []", "a `lines:` or `conversations:` list")])
def test_a_malformed_conversation_file_is_refused(tmp_path: Path, text: str,
                                                  message: str) -> None:
    """SystemExit naming the conversation or turn at fault."""
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SystemExit, match=message):
        read_data(path)


def test_a_turn_naming_what_its_world_lacks_is_refused_before_a_server_starts(
        tmp_path: Path) -> None:
    """The checks of a line apply to every turn, named by conversation and turn."""
    path = tmp_path / "bad.yaml"
    path.write_text(CONVERSATIONS.read_text(encoding="utf-8").replace(
        "facts: [eel_stew_price]", "facts: [nope]"), encoding="utf-8")
    with pytest.raises(SystemExit, match=r"conversations\[0\]\.turns\[2\]: no fact 'nope'"):
        asyncio.run(evaluate([path], tmp_path / "no-model"))


def _turn(lore: Lore, turn: int, text: str, ttft_ms: float, note: str = "") -> Record:
    """A judged fact turn about flour with the given reply and TTFT."""
    line = _line("fact", "How much is flour?", facts=("flour_price",))
    reply = Reply(text=text, ttft_ms=ttft_ms, total_ms=ttft_ms + 100)
    return Record("c.yaml", 0, line, reply, judge(line, reply, lore), conversation="c0",
                  turn=turn, note=note, context=("Hi.", "Morning.") if turn else None)


def test_the_report_gives_first_later_and_follow_up_turns(lore: Lore) -> None:
    """Clean %, fact % and TTFT per place in the conversation; the kind tables as for lines."""
    answered, unanswered = "Three silver pennies a sack.", "Ask at the mill."
    records = [_turn(lore, 0, answered, 900.0), _turn(lore, 1, unanswered, 200.0),
               _turn(lore, 2, answered, 100.0, "Follow-up: and what else")]
    figures = report(records)
    places = figures["by_position"]
    groups = ("first", "later", "follow_up")
    assert [places[g]["lines"] for g in groups] == [1, 2, 1]
    assert [places[g]["fact_answered_pct"] for g in groups] == [100.0, 50.0, 100.0]
    assert [places[g]["ttft_ms_p50"] for g in groups] == [900, 100, 100]
    assert figures["all"]["lines"] == 3  # the kind tables count every turn
    assert set(figures["files"]["c.yaml"]) == {"all", "by_kind", "by_position"}


def test_a_report_of_lines_keeps_its_shape(lore: Lore) -> None:
    """No conversation rows where there are no turns."""
    line = _line("greeting")
    records = [Record("l.yaml", 0, line, Reply(text="Morning."),
                      judge(line, Reply(text="Morning."), lore))]
    figures = report(records)
    assert set(figures) == {"files", "all"}
    assert set(figures["files"]["l.yaml"]) == {"all", "by_kind"}


def test_a_bad_turn_is_printed_with_the_turn_before(lore: Lore,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """-v shows what the player and the NPC said just before a turn that went wrong."""
    print_record(_turn(lore, 1, "Ask at the mill.", 200.0))
    assert "[c.yaml#c0 turn 2] fact hedda" in capsys.readouterr().err
    print_record(_turn(lore, 1, "Ask at the mill.", 200.0))
    assert "after: player 'Hi.' / npc 'Morning.'" in capsys.readouterr().err
    print_record(_turn(lore, 1, "Three silver pennies a sack.", 200.0))
    assert "after:" not in capsys.readouterr().err  # a clean turn needs no context


def test_the_harness_plays_each_conversation_in_one_session(
        tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two conversations, three turns each: two sessions, six judged turns in order."""
    sessions: list[tuple[int, str]] = []
    play = persona_eval.play

    async def counted(channel: object, lines: Sequence[Line], player_id: str) -> list[Reply]:
        sessions.append((len(lines), player_id))
        return await play(channel, lines, player_id)

    monkeypatch.setattr(persona_eval, "play", counted)
    records = asyncio.run(evaluate([CONVERSATIONS], tiny_model_dir))
    assert [n for n, _ in sessions] == [3, 3]
    assert sessions[0][1] != sessions[1][1]  # a player of its own each
    places = [(r.conversation, r.turn) for r in records]
    assert places == [("c0", 0), ("c0", 1), ("c0", 2), ("dues", 0), ("dues", 1), ("dues", 2)]
    for record in records:
        assert record.reply.error is None
        assert record.reply.ttft_ms is not None
    assert records[4].context == (records[3].line.text, records[3].reply.text)
    # The fee is taken in turn 2: the stage set before turn 1 still held in the session.
    paid = records[4].reply.tool_calls
    assert [(c["tool"], c["status"]) for c in paid] == [("collect_harbour_fee", "ok")]
    assert report(records)["by_position"]["later"]["lines"] == 4


def test_who_wrote_a_line_is_read_from_its_check_and_tokens() -> None:
    """A stand-in is as clean as a good draft to the judge; the report tells them apart."""
    drafted = Reply(text="Five coppers, love.", check={"action": "passed"},
                    server_timings={"generated_tokens": 9})
    stood_in = Reply(text="A room is five copper pieces a night.",
                     check={"action": "fallback"}, server_timings={"generated_tokens": 30})
    written = Reply(text="Well met.", check={"action": "passed"},
                    server_timings={"generated_tokens": 0})
    assert [persona_eval.written_by(r) for r in (drafted, stood_in, written)] == [
        "model", "stand_in", "as_written"]
    assert persona_eval.written_by(Reply(error="UNAVAILABLE: gone")) == "error"
