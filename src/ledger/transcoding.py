"""Stored events decoded with orjson, to exactly what the library's JSON transcoder gives.

Decoding the log is a sixth of a catch-up's CPU (issue 13's profile), and orjson parses
these ~1.2 KB events about 2.5x as fast as the standard library. Its answer is the
library's wherever they could differ, because those bytes go to the library instead:

- an integer literal of 19 digits or more (orjson turns one beyond 64 bits into a float);
- a ``\\u`` escape (a key spelled with escapes would hide a ``"_type_"`` from the count
  below; a lone surrogate is refused by orjson and kept by the library);
- anything orjson refuses (NaN, Infinity, bytes that are not UTF-8...): the library's
  decoder accepts it or raises its own error, as before.

The library marks a transcoded value (a datetime, a UUID, a Decimal) as an object of
exactly two keys, ``_type_`` and ``_data_``, and rebuilds it bottom-up with an object
hook. An event's only such value is usually its top-level ``timestamp``: when every
``"_type_"`` in the bytes belongs to a top-level value, only those are rebuilt; otherwise
the whole tree is walked bottom-up, as the hook would be called.

Encoding stays with the library's encoder: orjson writes a UUID as a plain string, never
through the registered transcoding, so its bytes would decode to something else.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from eventsourcing.persistence import JSONTranscoder

# Bytes on which orjson's answer could differ from the library's (see the module's text).
_LIBRARY_ONLY = re.compile(rb"\d{19}|\\u")
_TYPE_KEY = b'"_type_"'


class FastJSONTranscoder(JSONTranscoder):
    """The library's JSON transcoder, decoding with orjson where that gives the same."""

    def decode(self, data: bytes) -> Any:
        if _LIBRARY_ONLY.search(data):
            return super().decode(data)
        try:
            decoded = orjson.loads(data)
        except orjson.JSONDecodeError:
            return super().decode(data)
        marks = data.count(_TYPE_KEY)
        if not marks:
            return decoded
        if isinstance(decoded, dict):
            # The top-level values that carry a mark (the object itself is not counted: one
            # that carries a mark takes the full walk).
            typed = [key for key, value in decoded.items()
                     if type(value) is dict and "_type_" in value]
            if len(typed) == marks:
                for key in typed:
                    decoded[key] = self._decode_obj(decoded[key])
                return self._decode_obj(decoded)
        return self._rebuilt(decoded)

    def _rebuilt(self, value: Any) -> Any:
        """``value`` with every object passed through the library's hook, innermost first."""
        if type(value) is dict:
            return self._decode_obj({key: self._rebuilt(item) for key, item in value.items()})
        if type(value) is list:
            return [self._rebuilt(item) for item in value]
        return value

