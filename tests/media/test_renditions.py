"""streaming.renditions: who copies, who reads which rendition, and how many encoders run."""

from __future__ import annotations

import json

import pytest

from core.quality import preset_named
from streaming.renditions import (
    DestinationNeed,
    Rendition,
    SourceInfo,
    fits,
    parse_probe_output,
    plan_renditions,
    rendition_for,
)

S720_30 = SourceInfo(1280, 720, 30.0, "h264", "aac")
S1080_60 = SourceInfo(1920, 1080, 60.0, "h264", "aac")
S1080_30 = SourceInfo(1920, 1080, 29.97, "h264", "aac")


def test_a_source_that_fits_and_needs_no_branding_is_copied() -> None:
    assert rendition_for(S720_30, "720p", branding=False) is None
    assert rendition_for(S720_30, "1080p60", branding=False) is None
    assert rendition_for(S1080_30, "1080p", branding=False) is None  # 29.97 counts as 30


def test_a_source_above_the_ceiling_gets_the_ceiling() -> None:
    assert rendition_for(S1080_60, "720p", branding=False) == Rendition("720p")
    assert rendition_for(S1080_60, "1080p", branding=False) == Rendition("1080p")


def test_branding_forces_a_rendition_even_when_the_source_fits() -> None:
    assert rendition_for(S720_30, "720p", branding=True) == Rendition("720p", branded=True)


def test_it_never_upscales() -> None:
    # FREE plan: ceiling 1080p60 but a 720p30 source is branded at 720p, not blown up.
    assert rendition_for(S720_30, "1080p60", branding=True) == Rendition("720p", branded=True)
    # A 1080p30 source is never turned into 60 fps.
    assert rendition_for(S1080_30, "1080p60", branding=True) == Rendition("1080p", branded=True)
    # 900p fits under 1080p but branding needs a preset: the highest one not above the source.
    assert rendition_for(SourceInfo(1600, 900, 30), "1080p", branding=True) == Rendition("720p", True)


def test_a_tiny_source_gets_the_lowest_preset() -> None:
    assert rendition_for(SourceInfo(320, 180, 30), "720p", branding=True) == Rendition("360p", True)


def test_portrait_sources_compare_by_their_sides() -> None:
    assert rendition_for(SourceInfo(720, 1280, 30, "h264", "aac"), "720p", branding=False) is None
    assert rendition_for(SourceInfo(1080, 1920, 30, "h264", "aac"), "720p", branding=False) == Rendition(
        "720p"
    )


def test_an_unknown_source_is_encoded_at_the_ceiling() -> None:
    assert rendition_for(None, "480p", branding=False) == Rendition("480p")


def test_a_codec_flv_cannot_carry_to_the_platforms_is_transcoded() -> None:
    hevc = SourceInfo(1280, 720, 30, "hevc", "aac")
    opus = SourceInfo(1280, 720, 30, "h264", "opus")
    assert not fits(hevc, preset_named("1080p"))
    assert rendition_for(hevc, "1080p", branding=False) == Rendition("720p")
    assert rendition_for(opus, "720p", branding=False) == Rendition("720p")


def test_destinations_needing_the_same_rendition_share_one_encoder() -> None:
    plan = plan_renditions(
        S1080_60,
        [
            DestinationNeed("yt", "1080p60"),
            DestinationNeed("twitch", "720p"),
            DestinationNeed("fb", "720p"),
            DestinationNeed("custom", "480p"),
            DestinationNeed("free", "720p", branding=True),
        ],
    )
    assert plan.reads == {
        "yt": None,
        "twitch": Rendition("720p"),
        "fb": Rendition("720p"),
        "custom": Rendition("480p"),
        "free": Rendition("720p", True),
    }
    assert plan.renditions == (Rendition("480p"), Rendition("720p"), Rendition("720p", True))
    assert plan.destinations_of(Rendition("720p")) == ["twitch", "fb"]
    assert plan.destinations_of(None) == ["yt"]


def test_all_copy_means_no_encoder() -> None:
    plan = plan_renditions(S720_30, [DestinationNeed(1, "720p"), DestinationNeed(2, "1080p")])
    assert plan.renditions == ()


def test_a_destination_listed_twice_is_an_error() -> None:
    with pytest.raises(ValueError, match="twice"):
        plan_renditions(S720_30, [DestinationNeed(1, "720p"), DestinationNeed(1, "1080p")])


def test_rendition_stream_names_are_secret_free_and_distinct() -> None:
    assert Rendition("720p").stream_name("s-ab12") == "s-ab12-720p"
    assert Rendition("720p", True).stream_name("s-ab12") == "s-ab12-720p-branded"


def test_it_reads_ffprobe_json() -> None:
    text = json.dumps(
        {
            "streams": [
                {"codec_type": "audio", "codec_name": "aac"},
                {
                    "codec_type": "video",
                    "codec_name": "h264",
                    "width": 1920,
                    "height": 1080,
                    "avg_frame_rate": "60000/1001",
                    "r_frame_rate": "60/1",
                },
            ]
        }
    )
    assert parse_probe_output(text) == SourceInfo(1920, 1080, 59.94, "h264", "aac")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        "[]",
        '{"streams": 3}',
        '{"streams": [{"codec_type": "audio"}]}',
        '{"streams": [{"codec_type": "video", "width": 0, "height": 2}]}',
    ],
)
def test_unusable_probe_output_is_none(text: str) -> None:
    assert parse_probe_output(text) is None


def test_an_unknown_frame_rate_falls_back_then_gives_up() -> None:
    def probe(avg: str, r: str) -> float | None:
        video = {"codec_type": "video", "width": 2, "height": 2, "avg_frame_rate": avg, "r_frame_rate": r}
        info = parse_probe_output(json.dumps({"streams": [video]}))
        assert info is not None
        return info.fps

    assert probe("0/0", "30/1") == 30.0
    assert probe("0/0", "0/0") is None
