"""Settings for the test suite: real PostgreSQL and Redis on loopback, isolated per checkout.

The test database and the Redis key prefixes are named after this checkout's path, its
migrations and the pytest-xdist worker (`make test` runs two), so two checkouts, a CI clone or
two workers never share a schema, a cache, a channel group or a media queue, and `--reuse-db`
rebuilds the database whenever a migration changes.
"""

import hashlib
import os
from pathlib import Path

os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("ENV_FILE", "/dev/null")
os.environ.setdefault("DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/prism")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
# No relays connect in most tests: answer on_publish at once. The engine fixture turns it on.
os.environ.setdefault("STREAM_PUBLISH_HOLD_SECONDS", "0")

from config.settings import *  # noqa: F403
from config.settings import CACHES, CHANNEL_LAYERS, DATABASES

_root = Path(__file__).resolve().parent.parent
_digest = hashlib.sha256(str(_root).encode())
_digest.update(os.environ.get("PYTEST_XDIST_WORKER", "").encode())
for _migration in sorted(_root.glob("*/migrations/0*.py")):
    _digest.update(_migration.read_bytes())
TEST_RUN_ID = _digest.hexdigest()[:10]

DATABASES["default"]["TEST"] = {"NAME": f"test_prism_{TEST_RUN_ID}"}
CACHES["default"]["KEY_PREFIX"] = f"test-{TEST_RUN_ID}"
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"test-{TEST_RUN_ID}"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed: hashing is not under test
