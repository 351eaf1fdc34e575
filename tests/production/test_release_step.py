"""The Procfile's release step with DEBUG off: collectstatic into the manifest storage succeeds,
pages render with hashed static URLs, and /healthz says 503 (naming why) when they cannot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

MANIFEST_STORAGE = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}


@pytest.fixture
def production_static(settings, tmp_path: Path) -> Path:
    """The static settings DEBUG off gives (manifest storage, no finders), into an empty STATIC_ROOT."""
    settings.STORAGES = MANIFEST_STORAGE
    settings.STATIC_ROOT = tmp_path / "static"
    settings.WHITENOISE_USE_FINDERS = False
    settings.WHITENOISE_AUTOREFRESH = False
    return settings.STATIC_ROOT


def test_collectstatic_with_the_manifest_storage_succeeds(production_static: Path) -> None:
    call_command("collectstatic", "--noinput", verbosity=0)

    manifest = json.loads((production_static / "staticfiles.json").read_text())
    assert "vendor/hls.min.js" in manifest["paths"]
    assert "css/prism.css" in manifest["paths"]


def test_no_vendored_file_names_a_source_map_that_is_not_shipped() -> None:
    static = Path(__file__).resolve().parents[2] / "static"
    for path in static.rglob("*.js"):
        for line in path.read_text(errors="replace").splitlines():
            if "sourceMappingURL=" in line:
                target = line.split("sourceMappingURL=", 1)[1].strip().rstrip("*/ ").strip()
                assert (path.parent / target).exists(), f"{path.name} names {target}, which is not shipped"


@pytest.mark.django_db
def test_a_page_renders_with_hashed_static_urls_after_the_release_step(
    production_static: Path, client: Client
) -> None:
    call_command("collectstatic", "--noinput", verbosity=0)

    page = client.get("/")

    assert page.status_code == 200
    body = page.content.decode()
    assert "/static/css/prism.css" not in body
    assert "/static/css/prism." in body  # prism.<hash>.css


@pytest.mark.django_db
def test_healthz_is_503_naming_the_static_manifest_when_pages_cannot_render(
    production_static: Path, client: Client
) -> None:
    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["pages"] == "down"
    assert "staticfiles manifest" in body["pages_error"]


@pytest.mark.django_db
def test_healthz_is_ok_once_the_release_step_has_run(production_static: Path, client: Client) -> None:
    call_command("collectstatic", "--noinput", verbosity=0)

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["pages"] == "ok"
