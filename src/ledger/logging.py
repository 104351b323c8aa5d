"""Structured logs: key=value in development, JSON in production; never personal data."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import MutableMapping
from types import TracebackType
from typing import Any

import structlog

from ledger.settings import Settings


class _StandardError:
    """Writes each line to the standard error of the moment: a logger holding on to the
    stream it was configured with would write into a closed one once that was swapped out
    (as an in-process CLI run or a test capture does)."""

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def stack_of(error: BaseException) -> list[str]:
    """Where an exception went, frame by frame; never its message, which may quote input
    (pydantic's errors carry the offending value)."""
    every = traceback.extract_tb(error.__traceback__)
    # The ledger's own frames tell where; the libraries' between them are noise.
    own = [frame for frame in every if "site-packages" not in frame.filename] or every[-1:]
    frames = [f"{frame.filename}:{frame.lineno} {frame.name}" for frame in own]
    cause = error.__cause__ or error.__context__
    if cause is not None:
        frames.append(f"caused by {type(cause).__name__}")
    return frames


ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def _exception_of(exc_info: bool | BaseException | ExcInfo) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple):
        return exc_info[1]
    return sys.exc_info()[1] if exc_info else None


def exception_without_text(_: Any, __: str, event: MutableMapping[str, Any]
                           ) -> MutableMapping[str, Any]:
    """A logged exception becomes its type and stack: its text, the part that may quote
    personal data, is never written."""
    error = _exception_of(event.pop("exc_info", False))
    if error is not None:
        event["error"] = type(error).__name__
        event["frames"] = stack_of(error)
    return event


def configure_logging(settings: Settings) -> None:
    use_json = settings.log_format == "json" or (
        settings.log_format == "auto" and settings.environment == "production"
    )
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if use_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    level = getattr(logging, settings.log_level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            exception_without_text,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=lambda *_: _StandardError(),
        cache_logger_on_first_use=False,
    )
