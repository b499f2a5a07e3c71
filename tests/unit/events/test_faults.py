"""Crash-point specifications for fault injection."""

from mc_events.faults import _parse


def test_a_bare_point_crashes_the_first_time():
    assert _parse("relay.after_publish") == {"relay.after_publish": (1, None)}


def test_a_count_and_a_probability_can_be_given_per_point():
    assert _parse("relay.after_publish@3, consumer.after_db_commit%0.25") == {
        "relay.after_publish": (3, None),
        "consumer.after_db_commit": (None, 0.25),
    }


def test_an_empty_specification_names_no_point():
    assert _parse("") == {}
