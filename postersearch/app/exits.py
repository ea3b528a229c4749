"""Exit codes of the command line, from the status table (postersearch.status)."""

from __future__ import annotations

import sys

from postersearch.status import Outcome, outcome_of

# Bad flags or arguments: the person's to fix, as a refused request is.
USAGE = Outcome.INVALID.exit_code


def say_error(message: object) -> None:
    """Prints one line saying what went wrong, on stderr."""
    print(f"error: {message}", file=sys.stderr)


def exit_code_of(exc: Exception) -> int:
    """Says exc on one line and returns its exit code; re-raises an error the table lacks.

    An unlisted error is a bug: its traceback is worth more than a line.
    """
    outcome = outcome_of(exc)
    if outcome is None:
        raise exc
    say_error(exc)
    return outcome.exit_code
