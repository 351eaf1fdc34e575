"""What the restream engine lets higher apps plug in (studio, recordings), without importing them.

Each higher app registers its listener from its ``AppConfig.ready()``; with none registered the
engine behaves as if the feature were absent (no preference, no recording).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.hooks import Hook

if TYPE_CHECKING:
    from streaming.models import StreamSession

# The quality the creator chose for their next stream ("" for the plan's highest): the studio.
preferred_quality: Hook[[int], str] = Hook("preferred_quality")

# The title the creator set for their next stream ("" for the default): the studio.
stream_title: Hook[[int], str] = Hook("stream_title")

# Does this session's recording read the branded rendition (so the planner keeps one)? recordings.
records_branded: Hook[[StreamSession], bool] = Hook("records_branded")

# A session was planned and its supervisors queued (called after the commit): recordings starts
# the session's recorder. Each listener returns the reader tags the publish should wait for.
session_planned: Hook[[int], tuple[str, ...]] = Hook("session_planned")

# The readers of a session's rendition that its encoder's publish should wait for, besides the
# destinations' relays (``d<pk>``): recordings returns its recorder's tag when the session records
# that rendition (a branded recording), so the recording starts with the rendition's first frame.
rendition_readers: Hook[[int, str], tuple[str, ...]] = Hook("rendition_readers")

# A publish that started this session was refused after all (inside the transaction that deletes
# the session): recordings removes the session's recording and its parts.
session_withdrawn: Hook[[int], object] = Hook("session_withdrawn")
