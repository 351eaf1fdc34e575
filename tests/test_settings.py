"""Settings refuse to start without secrets when DEBUG is off, and pass `check --deploy` when set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "k3Y-" + "x7Qm9" * 12,
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "prism.example.com",
    "SITE_URL": "https://prism.example.com",
    "DATABASE_URL": "postgres://postgres:postgres@127.0.0.1:5432/prism",
}


def run_django(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {
        "PATH": os.environ["PATH"],
        "ENV_FILE": "/dev/null",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def test_start_up_stops_without_a_secret_key_when_debug_is_off() -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}

    result = run_django(["check"], env)

    assert result.returncode != 0
    assert "SECRET_KEY is not set and DEBUG is off" in result.stderr


def test_start_up_stops_without_encryption_keys_when_debug_is_off() -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "FIELD_ENCRYPTION_KEYS"}

    result = run_django(["check"], env)

    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS is not set and DEBUG is off" in result.stderr


def test_start_up_stops_on_an_encryption_key_that_is_not_a_fernet_key() -> None:
    result = run_django(["check"], {**PRODUCTION_ENV, "FIELD_ENCRYPTION_KEYS": "not-a-key"})

    assert result.returncode != 0
    assert "not a Fernet key" in result.stderr


def test_debug_runs_without_any_secret_set() -> None:
    result = run_django(["check"], {"DEBUG": "1"})

    assert result.returncode == 0, result.stderr


def test_check_deploy_is_silent_with_production_settings() -> None:
    result = run_django(["check", "--deploy", "--fail-level", "WARNING"], PRODUCTION_ENV)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
