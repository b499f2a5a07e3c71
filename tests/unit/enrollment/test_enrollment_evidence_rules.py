"""Evidence rules: content-type allowlist, word limits, links, the completeness check; and the
local evidence store (streaming, SHA-256, nothing left behind when too large)."""

from __future__ import annotations

import hashlib

import pytest

from enrollment.adapters.object_store import LocalObjectStore, TooLarge
from enrollment.domain.evidence import (
    EvidenceRejected,
    PresentArtifact,
    Requirement,
    check_file,
    check_link,
    check_reflection,
    completeness,
    word_count,
)
from mc_events.contracts.common import EvidenceKind
from mc_events.contracts.enrollment import CompletenessProblemKind as P

VIDEO = Requirement("r-video", EvidenceKind.VIDEO, required=True)
REFLECTION = Requirement("r-text", EvidenceKind.REFLECTION, True, min_words=3, max_words=5)
LINK = Requirement("r-link", EvidenceKind.LINK, required=False)


def test_a_video_in_an_allowed_format_is_accepted_with_its_media_type_normalised():
    assert check_file(VIDEO, "Video/MP4; codecs=avc1") == "video/mp4"


@pytest.mark.parametrize("content_type", ["text/html", "application/x-msdownload", None, ""])
def test_a_file_of_a_type_not_on_the_allowlist_is_415(content_type):
    with pytest.raises(EvidenceRejected) as refused:
        check_file(VIDEO, content_type)
    assert refused.value.status == 415


def test_a_file_for_a_reflection_requirement_is_422():
    with pytest.raises(EvidenceRejected) as refused:
        check_file(REFLECTION, "text/plain")
    assert refused.value.status == 422


def test_words_are_counted_by_whitespace():
    assert word_count("  one two\nthree\tfour ") == 4


def test_a_reflection_within_its_word_limits_is_accepted():
    assert check_reflection(REFLECTION, "I waited five seconds") == 4


@pytest.mark.parametrize("text", ["too short", "one two three four five six"])
def test_a_reflection_outside_its_word_limits_is_422(text):
    with pytest.raises(EvidenceRejected) as refused:
        check_reflection(REFLECTION, text)
    assert refused.value.status == 422


@pytest.mark.parametrize("url", ["http://plain.example/x", "javascript:alert(1)", "https:// x"])
def test_only_https_links_are_accepted(url):
    with pytest.raises(EvidenceRejected):
        check_link(LINK, url)
    assert check_link(LINK, " https://video.example/v/1 ") == "https://video.example/v/1"


def test_all_required_present_is_complete_and_optional_may_be_missing():
    present = [PresentArtifact("r-video", None), PresentArtifact("r-text", 4)]
    assert completeness([VIDEO, REFLECTION, LINK], present) == []


def test_a_missing_required_artifact_is_named():
    problems = completeness([VIDEO, REFLECTION, LINK], [PresentArtifact("r-text", 4)])
    assert [(p.requirement_id, p.problem) for p in problems] == [("r-video", P.MISSING)]


def test_texts_outside_word_limits_make_a_submission_incomplete():
    present = [PresentArtifact("r-video", None), PresentArtifact("r-text", 9)]
    problems = completeness([VIDEO, REFLECTION], present)
    assert [(p.requirement_id, p.problem) for p in problems] == [("r-text", P.TOO_LONG)]


async def test_the_store_streams_and_checksums_an_upload(tmp_path):
    store = LocalObjectStore(tmp_path)

    async def chunks():
        yield b"hello "
        yield b"world"

    stored = await store.put("en-1/a-1", chunks(), max_bytes=100)
    assert stored.size_bytes == 11
    assert stored.sha256 == hashlib.sha256(b"hello world").hexdigest()
    assert (tmp_path / "en-1" / "a-1").read_bytes() == b"hello world"


async def test_an_upload_past_the_limit_leaves_nothing_behind(tmp_path):
    store = LocalObjectStore(tmp_path)

    async def chunks():
        for _ in range(10):
            yield b"x" * 10

    with pytest.raises(TooLarge):
        await store.put("en-1/a-2", chunks(), max_bytes=50)
    assert not await store.exists("en-1/a-2")
    assert list((tmp_path / ".incoming").iterdir()) == []


async def test_keys_cannot_escape_the_store(tmp_path):
    with pytest.raises(ValueError, match="escapes"):
        await LocalObjectStore(tmp_path / "store").put_bytes("../outside", b"x")
