"""Counters of a soak run, and the record of every error a well-behaved client saw."""
import collections
import time


class Stats:
    def __init__(self):
        self.counts = collections.Counter()  # what happened, by name
        self.errors = []                     # (seconds into the run, client, message)
        self.checks = []                     # (seconds, check, message): a hostile case the server got wrong
        self.started = time.monotonic()

    def add(self, name: str, n: int = 1):
        self.counts[name] += n

    def error(self, client: str, message: str):
        """A well-behaved client saw something wrong: the soak fails."""
        self.counts["errors"] += 1
        if len(self.errors) < 200:
            self.errors.append((round(time.monotonic() - self.started, 1), client, message))

    def check_failed(self, check: str, message: str):
        """The server handled a hostile client other than it promises: the soak fails."""
        self.counts["check_failures"] += 1
        if len(self.checks) < 200:
            self.checks.append((round(time.monotonic() - self.started, 1), check, message))
