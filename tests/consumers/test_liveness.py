"""The idle / outage / assignment clocks of a Kafka source, on a fake clock."""

from __future__ import annotations

import pytest

from consumers.errors import BrokerUnavailableError
from consumers.liveness import Liveness, LivenessState


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make(idle: float | None = 5.0, broker: float = 10.0):
    clock = Clock()
    return Liveness("t", "g", idle_timeout=idle, broker_timeout=broker, clock=clock), clock


def test_no_assignment_for_the_broker_timeout_gives_up_naming_topic_and_group():
    live, clock = make()
    clock.now = 10.0
    live.nothing_assigned()  # at the deadline: still waiting
    clock.now = 10.5
    with pytest.raises(BrokerUnavailableError, match="topic 't' was assigned to group 'g'"):
        live.nothing_assigned()


def test_idle_after_the_idle_timeout_without_messages():
    live, clock = make()
    clock.now = 1.0
    live.received()
    clock.now = 5.9
    assert live.probe_due() and not live.idle()  # first probe: never probed yet
    live.probed(None)
    clock.now = 6.0
    assert live.probe_due() and live.idle()


def test_an_outage_is_waited_out_then_restarts_the_idle_clock():
    live, clock = make(idle=5.0, broker=10.0)
    clock.now = 1.0
    live.received()
    clock.now = 3.0
    live.probe_due()
    live.probed("down")  # the outage began at the last answer, t=1
    clock.now = 8.0
    live.probed("down")
    assert not live.idle()  # 7 s quiet, but the broker is away: not idle
    clock.now = 10.0
    live.probed(None)
    clock.now = 14.9
    live.probe_due()
    assert not live.idle()  # the idle clock restarted at t=10
    clock.now = 15.0
    assert live.idle()


def test_an_outage_past_the_broker_timeout_gives_up():
    live, clock = make(idle=None, broker=10.0)
    clock.now = 2.0
    live.received()
    clock.now = 12.0
    live.probed("down")  # 10 s after the last answer: not yet past it
    clock.now = 12.5
    with pytest.raises(BrokerUnavailableError, match="unreachable for 10s.*: down"):
        live.probed("down")
    assert not live.idle()


def test_the_states_and_their_transitions_are_named():
    live, clock = make(idle=5.0, broker=10.0)
    assert live.state is LivenessState.JOINING and live.since == 0.0
    clock.now = 1.0
    live.probe_due()  # partitions assigned
    assert (live.state, live.since) == (LivenessState.RECEIVING, 1.0)
    clock.now = 2.0
    live.probed("down")
    assert (live.state, live.since) == (LivenessState.OUTAGE, 0.0)  # since the last answer
    live.nothing_assigned()  # a rebalance during the outage
    assert (live.state, live.since) == (LivenessState.JOINING, 2.0)
    clock.now = 3.0
    live.received()
    assert (live.state, live.since) == (LivenessState.RECEIVING, 3.0)
    clock.now = 8.0
    assert live.idle() and live.state is LivenessState.IDLE
    clock.now = 9.0
    live.received()  # a late message: no longer idle
    assert live.state is LivenessState.RECEIVING and not live.idle()


def test_an_outage_during_a_rejoin_is_measured_from_the_last_answer():
    live, clock = make(idle=None, broker=10.0)
    clock.now = 1.0
    live.received()
    clock.now = 2.0
    live.nothing_assigned()
    clock.now = 5.0
    live.probe_due()
    clock.now = 11.0
    live.probed("down")  # 10 s after the last answer, t=1
    clock.now = 11.5
    with pytest.raises(BrokerUnavailableError, match="unreachable for 10s"):
        live.probed("down")


def test_an_outage_that_ends_in_a_rejoin_is_a_recovery(caplog):
    """A restarted broker takes the partitions away: the outage goes on while the group
    rejoins, its clock from the last answer, and the new assignment ends it."""
    def outage_then_rejoin():
        live, clock = make(idle=4.0, broker=10.0)
        clock.now = 1.0
        live.received()
        clock.now = 3.0
        live.probed("down")
        clock.now = 6.0
        live.nothing_assigned()  # the group lost its partitions in the outage
        return live, clock

    live, clock = outage_then_rejoin()
    clock.now = 11.5
    with pytest.raises(BrokerUnavailableError):  # 10.5 s since the last answer, at t=1
        live.nothing_assigned()
    live, clock = outage_then_rejoin()
    clock.now = 7.0
    with caplog.at_level("WARNING", logger="consumers.liveness"):
        live.probe_due()  # assigned again
    assert "reachable again after 6.0s" in caplog.text
    assert live.state is LivenessState.RECEIVING and live.since == 7.0
    clock.now = 10.9
    assert not live.idle()  # the idle clock starts at the recovery
    clock.now = 11.0
    assert live.idle()


def test_nothing_received_waits_probes_and_names_why_the_source_is_done():
    live, clock = make(idle=5.0, broker=10.0)
    probes: list[float] = []

    def probe(error=None):
        probes.append(clock.now)
        live.probed(error)

    assert live.nothing_received(False, probe) is None and probes == []  # joining: no probe
    clock.now = 1.0
    assert live.nothing_received(True, probe) is None and probes == [1.0]
    clock.now = 1.5
    assert live.nothing_received(True, probe, at_end=lambda: False) is None
    assert probes == [1.0]  # at most one probe a second
    assert live.nothing_received(True, probe, at_end=lambda: True) == "end of partitions"
    clock.now = 6.0
    assert live.nothing_received(True, probe) == "idle" and probes == [1.0, 6.0]


def test_an_outage_is_never_the_end_of_the_partitions():
    live, clock = make(idle=None, broker=10.0)
    clock.now = 1.0
    assert live.nothing_received(True, lambda: live.probed("down"), at_end=lambda: True) is None
    assert live.state is LivenessState.OUTAGE
