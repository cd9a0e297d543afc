"""One glob matcher for every glob (exclude, per-file-ignores, expected-text), and one
exclusion rule whether images are found by walking folders, listing URLs or asking git."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from checker.inputs import excluded_below, expand_urls, find_images, glob_matches
from fixtures.make_fixtures import save_png


@pytest.mark.parametrize("path,pattern,expected", [
    ("site/posters/a.png", "posters/*.png", True),  # as its end
    ("site/posters/a.png", "a.png", True),  # by name
    ("site/posters/a.png", "site/posters/*", True),  # as given
    ("site/posters/a.png", "b.png", False),
    ("s3://bucket/posters/a.png", "posters/*", True),  # URLs alike
])
def test_glob_matches(path, pattern, expected):
    assert glob_matches(path, pattern) is expected


def test_glob_relative_to_the_config_folder(tmp_path):
    image = tmp_path / "project" / "art" / "a.png"
    assert glob_matches(str(image), "art/*.png", base=tmp_path / "project")
    assert not glob_matches(str(image), "project/x/*.png", base=tmp_path / "project")


def test_a_folder_between_the_given_path_and_the_file_excludes_it_the_path_itself_does_not():
    assert excluded_below("art/drafts/a.png", ".", ["drafts"])
    assert excluded_below("art/drafts/deep/a.png", "art", ["drafts"])
    assert not excluded_below("drafts/a.png", "drafts", ["drafts"])  # the user named it
    assert not excluded_below("art/final/a.png", ".", ["drafts"])


def test_walking_and_listing_urls_exclude_the_same_images(tmp_path):
    root = tmp_path / "art"
    for rel in ("a.png", "drafts/b.png", "final/drafts/c.png", "final/d.png"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        save_png(root / rel, np.full((8, 8, 3), 100, np.uint8))
    walked, problems = find_images([root], exclude=["drafts"])
    listed = expand_urls([root.as_uri()], exclude=["drafts"])
    assert problems == []
    assert sorted(Path(p).relative_to(root).as_posix() for p in walked) == ["a.png", "final/d.png"]
    assert sorted(u[len(root.as_uri()) + 1:] for u in listed) == ["a.png", "final/d.png"]
