"""What every store does alike, run against SQLite and a real PostgreSQL (``backend``)."""

from __future__ import annotations

import pytest

from npc_runtime.errors import ConfigError, StaleSessionError, UnknownSessionError
from npc_runtime.lore.model import WorldState
from tests.store.conftest import Backend
from tests.store.samples import STATE, record

STARTED = WorldState(stages={"silent_bell": "start"})

# A trigger that makes every update of a session fail, as a full disk would.
_REFUSE_SESSION_UPDATES = {
    "sqlite": ["CREATE TRIGGER refuse BEFORE UPDATE ON session "
               "BEGIN SELECT RAISE(ABORT, 'disk says no'); END"],
    "postgres": ["CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql "
                 "AS $$ BEGIN RAISE EXCEPTION 'disk says no'; END $$",
                 "CREATE TRIGGER refuse BEFORE UPDATE ON session "
                 "FOR EACH ROW EXECUTE FUNCTION refuse()"],
}


def test_states_and_sessions_round_trip_and_survive_a_reopen(backend: Backend) -> None:
    """What is stored is read back equal, by the same store and by a new one."""
    store = backend.open()
    store.set_state("Saltmere", "p1", STATE)
    store.save_session(record("s1", turns=6, owner="digest", proposal='{"tool": "x"}'))
    assert store.state("Saltmere", "p1") == STATE
    stored = record("s1", turns=6, version=1, owner="digest", proposal='{"tool": "x"}')
    assert store.session("s1") == stored
    store.close()
    again = backend.open()
    assert again.state("Saltmere", "p1") == STATE
    assert again.session("s1") == stored
    again.close()


def test_what_was_never_stored_reads_as_nothing(backend: Backend) -> None:
    """An unknown player has started nothing; an unknown session is None."""
    store = backend.open()
    assert store.state("Saltmere", "nobody") == WorldState()
    assert store.session("nope") is None
    store.close()


def test_quest_state_is_per_world_and_player(backend: Backend) -> None:
    """The same player in another world, or another player, has a state of their own."""
    store = backend.open()
    store.set_state("Saltmere", "p1", STATE)
    assert store.state("Harbor", "p1") == WorldState()
    assert store.state("Saltmere", "p2") == WorldState()
    store.close()


def test_a_session_keeps_its_owner_when_it_is_saved_again(backend: Backend) -> None:
    """The owner is set when the session opens; later saves change history and proposal."""
    store = backend.open()
    store.save_session(record("s1", owner="opener"))
    store.save_session(record("s1", turns=4, version=1, owner="someone else", proposal="{}"))
    assert store.session("s1") == record("s1", turns=4, version=2, owner="opener",
                                         proposal="{}")
    store.close()


def test_forget_drops_only_that_players_state(backend: Backend) -> None:
    """A forgotten player starts again; others and the sessions stay."""
    store = backend.open()
    store.set_state("Saltmere", "p1", STATE)
    store.set_state("Saltmere", "p2", STATE)
    store.save_session(record("s1"))
    store.forget("Saltmere", "p1")
    assert store.state("Saltmere", "p1") == WorldState()
    assert store.state("Saltmere", "p2") == STATE
    assert store.session("s1") == record("s1", version=1)
    store.close()


def test_delete_session_keeps_the_players_state(backend: Backend) -> None:
    """Closing a session forgets its history, not what the player achieved."""
    store = backend.open()
    store.commit_turn("Saltmere", "p1", STATE, record("s1"))
    store.delete_session("s1")
    assert store.session("s1") is None
    assert store.state("Saltmere", "p1") == STATE
    store.close()


def test_commit_turn_writes_the_state_and_the_session(backend: Backend) -> None:
    """Both land, and both survive a reopen."""
    store = backend.open()
    store.commit_turn("Saltmere", "p1", STATE, record("s1"))
    assert store.state("Saltmere", "p1") == STATE
    store.close()
    again = backend.open()
    assert again.state("Saltmere", "p1") == STATE
    assert again.session("s1") == record("s1", version=1)
    again.close()


def test_commit_turn_without_a_state_keeps_the_stored_one(backend: Backend) -> None:
    """None means the turn changed no quest state: only the session is written."""
    store = backend.open()
    store.set_state("Saltmere", "p1", STATE)
    store.commit_turn("Saltmere", "p1", None, record("s1", turns=4))
    assert store.state("Saltmere", "p1") == STATE
    assert store.session("s1") == record("s1", turns=4, version=1)
    store.close()


def test_commit_turn_is_all_or_nothing(backend: Backend) -> None:
    """When the session write fails, the quest state is not stored either (nor cached)."""
    store = backend.open()
    store.commit_turn("Saltmere", "p1", STARTED, record("s1"))
    for statement in _REFUSE_SESSION_UPDATES[backend.name]:
        backend.sql(statement)
    with pytest.raises(ConfigError, match="disk says no"):
        store.commit_turn("Saltmere", "p1", STATE, record("s1", turns=4, version=1))
    assert store.state("Saltmere", "p1") == STARTED
    store.close()
    again = backend.open()
    assert again.state("Saltmere", "p1") == STARTED
    assert again.session("s1") == record("s1", version=1)
    again.close()


def test_each_write_of_a_session_counts_one_version(backend: Backend) -> None:
    """Opening stores version 1; each later write, by either method, adds one."""
    store = backend.open()
    assert store.save_session(record("s1")) == 1
    assert store.commit_turn("Saltmere", "p1", STATE, record("s1", turns=4, version=1)) == 2
    assert store.save_session(record("s1", turns=6, version=2)) == 3
    assert store.session_version("s1") == 3
    assert store.session("s1") == record("s1", turns=6, version=3)
    assert store.session_version("nope") is None
    store.close()


def test_a_write_based_on_an_old_version_is_refused_and_keeps_nothing(
        backend: Backend) -> None:
    """Two copies read at version 1; the first to write wins. The other's turn (history
    and quest state) is refused whole, with a message that says to send it again."""
    store = backend.open()
    store.commit_turn("Saltmere", "p1", STARTED, record("s1"))
    store.commit_turn("Saltmere", "p1", None, record("s1", turns=4, version=1))
    with pytest.raises(StaleSessionError, match=r"moved on on another server.*send it again"):
        store.commit_turn("Saltmere", "p1", STATE, record("s1", turns=6, version=1))
    with pytest.raises(StaleSessionError):
        store.save_session(record("s1", turns=6, version=1))
    assert store.state("Saltmere", "p1") == STARTED
    store.close()
    again = backend.open()
    assert again.session("s1") == record("s1", turns=4, version=2)
    assert again.state("Saltmere", "p1") == STARTED
    again.close()


def test_a_new_session_never_replaces_a_stored_one(backend: Backend) -> None:
    """Creating (version 0) where the id is taken is refused, not an overwrite."""
    store = backend.open()
    store.save_session(record("s1", turns=4))
    with pytest.raises(StaleSessionError):
        store.save_session(record("s1"))
    assert store.session("s1") == record("s1", turns=4, version=1)
    store.close()


def test_a_write_to_a_closed_session_is_refused_and_stores_nothing(backend: Backend) -> None:
    """Closed (on another server) while a turn ran: the turn's write does not bring the
    session back, nor store its quest state."""
    store = backend.open()
    store.save_session(record("s1"))
    store.delete_session("s1")
    with pytest.raises(UnknownSessionError, match="closed"):
        store.commit_turn("Saltmere", "p1", STATE, record("s1", turns=4, version=1))
    assert store.session("s1") is None
    assert store.state("Saltmere", "p1") == WorldState()
    store.close()


def test_only_postgres_is_shared(backend: Backend) -> None:
    """A SQLite file has one server; a PostgreSQL database may have several."""
    store = backend.open()
    assert store.shared == (backend.name == "postgres")
    store.close()


def test_a_damaged_state_row_raises(backend: Backend) -> None:
    """A quest state that is not JSON is damage, not an empty state."""
    first = backend.open()
    first.set_state("Saltmere", "p1", STATE)
    first.close()
    backend.sql("UPDATE player_state SET state = '{broken'")
    store = backend.open()
    with pytest.raises(ConfigError, match="damaged"):
        store.state("Saltmere", "p1")
    store.close()


def test_a_damaged_session_history_raises(backend: Backend) -> None:
    """A history that is not a list of pairs is damage, not an empty conversation."""
    first = backend.open()
    first.save_session(record("s1"))
    first.close()
    backend.sql("UPDATE session SET history = '[1, 2]'")
    store = backend.open()
    with pytest.raises(ConfigError, match="damaged"):
        store.session("s1")
    store.close()


def test_every_operation_on_the_database_is_timed_for_whoever_observes(
        backend: Backend) -> None:
    """``observe`` reports each operation that reaches the database (the server's metrics)."""
    store = backend.open()
    seen: list[tuple[str, float]] = []
    store.observe(lambda operation, seconds: seen.append((operation, seconds)))
    version = store.save_session(record("s1"))
    store.commit_turn("Saltmere", "p1", STATE, record("s1", turns=4, version=version))
    store.session("s1")
    store.delete_session("s1")
    assert [operation for operation, _ in seen] == [
        "save_session", "commit_turn", "session", "delete_session"]
    assert all(seconds >= 0 for _, seconds in seen)
    store.close()
