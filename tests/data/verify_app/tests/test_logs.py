"""Tests reading the log records of the test process: the app's request handling logs there on
the monolith, in the services' processes on the split system (verify classifies them)."""

import logging
import unittest

from testfixtures import LogCapture


def test_greeting_is_logged_caplog(client, caplog):
    with caplog.at_level(logging.INFO, logger="vapp"):
        client.get("/greet/ada")
    assert "greeting ada" in caplog.text


def test_greeting_is_logged_assert_logs(client):
    with unittest.TestCase().assertLogs("vapp.words", "INFO") as seen:
        client.get("/greet/bob")
    assert seen.records[0].getMessage() == "greeting bob"


def test_greeting_is_logged_log_capture(client):
    with LogCapture("vapp.words") as capture:
        client.get("/greet/cy")
    capture.check(("vapp.words", "INFO", "greeting cy"))
