"""Config discovery, validation and the resolution order."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from checker.config import ConfigError, find_config, matches, parse_set_option, resolve
from checker.model import Severity
from checker.rule import Rule


@dataclass(frozen=True)
class DemoSettings:
    min_confidence: float = 0.5
    min_share: float = 0.01
    words: tuple[str, ...] = ()
    inconclusive: bool = False


def _noop(ctx, settings):
    return ()


RULES = (
    Rule("HAND001", "hands.finger-count", "fingers", _noop, Severity.ERROR, DemoSettings,
         profiles={"lenient": {"min_confidence": 0.8}, "strict": {"min_confidence": 0.4, "inconclusive": True}}),
    Rule("HAND002", "hands.implausible", "implausible", _noop, Severity.WARNING, DemoSettings,
         profiles={"lenient": {"enabled": False}}),
    Rule("TEXT001", "text.misspelled", "typos", _noop, Severity.WARNING, DemoSettings),
)


def _settings(plan, name):
    return next(rp for rp in plan.rules if rp.rule.name == name)


def test_defaults_and_builtin_profiles():
    lenient = resolve(RULES, {})
    assert lenient.profile == "lenient"
    assert _settings(lenient, "hands.finger-count").settings.min_confidence == 0.8
    assert "hands.implausible" not in lenient.settings  # disabled in lenient
    strict = resolve(RULES, {}, profile="strict")
    assert _settings(strict, "hands.finger-count").settings == DemoSettings(0.4, 0.01, (), True)
    assert "hands.implausible" in strict.settings


def test_resolution_order_defaults_profile_custom_config_cli():
    config = {
        "profile": "mine",
        "profiles": {"mine": {"extends": "strict", "rules": {"hands.finger-count": {"min-share": 0.05}}}},
        "rules": {"hands.finger-count": {"min_confidence": 0.6}, "TEXT001": {"words": ["noticer"]}},
    }
    plan = resolve(RULES, config)
    fc = _settings(plan, "hands.finger-count").settings
    assert (fc.min_confidence, fc.min_share, fc.inconclusive) == (0.6, 0.05, True)
    assert _settings(plan, "text.misspelled").settings.words == ("noticer",)
    plan = resolve(RULES, config, sets=[parse_set_option("hands.finger-count.min_confidence=0.9")])
    assert _settings(plan, "hands.finger-count").settings.min_confidence == 0.9


def test_custom_profile_chain_and_severity_override():
    config = {"profiles": {"base": {"extends": "strict", "rules": {"HAND002": {"severity": "error"}}},
                           "top": {"extends": "base", "fail-on": "warning"}}}
    plan = resolve(RULES, config, profile="top")
    assert _settings(plan, "hands.implausible").severity is Severity.ERROR
    assert plan.fail_on is Severity.WARNING


@pytest.mark.parametrize("config,fragment", [
    ({"profle": "strict"}, "unknown key(s) profle"),
    ({"rules": {"hands.fingers": {}}}, "unknown rule 'hands.fingers'"),
    ({"rules": {"hands.finger-count": {"min_conf": 1}}}, "unknown setting 'min_conf'"),
    ({"rules": {"hands.finger-count": {"min_confidence": "high"}}}, "expected a number"),
    ({"profile": "paranoid"}, "unknown profile 'paranoid'"),
    ({"select": ["HAND9"]}, "unknown rule selector 'HAND9'"),
    ({"fail-on": "fatal"}, "unknown severity"),
    ({"profiles": {"strict": {}}}, "cannot be redefined"),
    ({"profiles": {"a": {"extends": "b"}, "b": {"extends": "a"}}, "profile": "a"}, "loops"),
    ({"profiles": {"a": {"extnds": "strict"}}, "profile": "a"}, "unknown key(s) extnds"),
    ({"per-file-ignores": {"*.jpg": ["NOPE1"]}}, "unknown rule selector"),
    # a string where a list belongs was read letter by letter: "drafts/*" excluded everything
    ({"exclude": "drafts/*"}, 'exclude must be a list of strings, e.g. exclude = ["drafts/*"]'),
    ({"select": "HAND"}, "select must be a list of strings"),
    ({"ignore": [3]}, "ignore must be a list of strings"),
    ({"timeout": -1}, "timeout must be more than 0 seconds"),
    ({"jobs": -2}, "jobs must be 0 (in this process) or more"),
])
def test_mistakes_are_errors_that_name_the_valid_choices(config, fragment):
    with pytest.raises(ConfigError, match=None) as info:
        resolve(RULES, config)
    assert fragment in str(info.value)


def test_unknown_setting_error_lists_valid_settings():
    with pytest.raises(ConfigError) as info:
        resolve(RULES, {}, sets=[("hands.finger-count", "nope", 1)])
    assert "min_confidence" in str(info.value) and "min_share" in str(info.value)


def test_select_ignore_prefixes_and_names():
    assert matches(RULES[0], "HAND") and matches(RULES[0], "hands") and matches(RULES[0], "ALL")
    assert not matches(RULES[2], "hands")
    plan = resolve(RULES, {}, profile="strict", select=["hands"], ignore=["HAND002"])
    assert [rp.rule.code for rp in plan.rules] == ["HAND001"]
    plan = resolve(RULES, {"extend-select": ["HAND002"]})
    assert "hands.implausible" in plan.settings


def test_per_file_ignores():
    plan = resolve(RULES, {"per-file-ignores": {"sketches/*": ["HAND"], "*.jpg": "text.misspelled"}})
    assert [rp.rule.code for rp in plan.rules_for("art/sketches/a.png")] == ["TEXT001"]
    assert [rp.rule.code for rp in plan.rules_for("art/x.jpg")] == ["HAND001"]
    assert len(plan.rules_for("art/x.png")) == 2


@pytest.mark.parametrize("setting,value,fragment", [
    ("detection_side", 0, "detection_side must be at least 64"),
    ("min_char_confidence", 7, "min_char_confidence must be within 0..1"),
    ("languages", [], "languages must name at least one of en"),
    ("languages", ["xx"], "no dictionary for language(s) xx; available: en"),
    ("engine", "foo", "engine must be one of rapidocr, tesseract, hybrid"),
    ("acronym_letters", -1, "acronym_letters must be at least 0"),
    ("words_file", "/nonexistent/words.txt", "words_file '/nonexistent/words.txt' is not a file"),
])
def test_text_settings_that_would_break_or_silence_the_rules_are_config_errors(setting, value, fragment):
    """Found by a review: these crashed TEXT001 on every image (IMG001) or switched it off."""
    from rules.text import RULES as TEXT_RULES

    with pytest.raises(ConfigError) as info:
        resolve(list(TEXT_RULES), {"rules": {"text": {setting: value}}})
    assert fragment in str(info.value) and "TEXT001" in str(info.value)


def test_a_relative_words_file_is_taken_from_the_config_files_folder(tmp_path, monkeypatch):
    from rules.text import RULES as TEXT_RULES

    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "mywords.txt").write_text("zimage\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # started elsewhere, as a hook or a CI job may be
    plan = resolve(list(TEXT_RULES), {"rules": {"text": {"words-file": "mywords.txt"}}},
                   config_path=str(tmp_path / "project" / "noticer.toml"))
    assert plan.settings["text.misspelled"]["words_file"] == str(tmp_path / "project" / "mywords.txt")
    (tmp_path / "here.txt").write_text("x\n", encoding="utf-8")
    cli = resolve(list(TEXT_RULES), {}, sets=[("text", "words_file", "here.txt")])
    assert cli.settings["text.garbled"]["words_file"] == str(tmp_path / "here.txt")


def test_ignoring_or_switching_off_img001_is_an_error_not_a_silent_no_op():
    """IMG001 comes from the engine (a file it could not read or check): --ignore IMG001 and
    image.unreadable.enabled=false were accepted and did nothing (found by a review)."""
    from checker.discovery import discover_rules

    rules = discover_rules().rules
    for config in ({"ignore": ["IMG001"]}, {"per-file-ignores": {"*.png": ["image.unreadable"]}},
                   {"rules": {"image.unreadable": {"enabled": False}}}):
        with pytest.raises(ConfigError, match="cannot be switched off or ignored"):
            resolve(rules, config)
    assert "image.too-small" not in resolve(rules, {"ignore": ["IMG"]}).settings  # a prefix still works


def test_a_shared_setting_set_for_one_rule_of_the_family_is_an_error():
    """The TEXT rules share one OCR pass: an engine set for TEXT001 alone ran OCR twice."""
    from rules.text import RULES as TEXT_RULES

    with pytest.raises(ConfigError) as info:
        resolve(list(TEXT_RULES), {}, sets=[("text.misspelled", "engine", "tesseract")])
    assert "engine is shared by the text rules" in str(info.value) and "TEXT001: 'tesseract'" in str(info.value)
    family = resolve(list(TEXT_RULES), {}, sets=[("text", "engine", "tesseract")])
    assert {rp.settings.engine for rp in family.rules} == {"tesseract"}
    # only the rules that run share it (found by a review: TEXT001 alone was refused)
    alone = resolve(list(TEXT_RULES), {}, select=["TEXT001"], sets=[("text.misspelled", "engine", "tesseract")])
    assert [rp.settings.engine for rp in alone.rules] == ["tesseract"]


@pytest.mark.parametrize("table", [["OPEN"], {"posters/*.png": 5}, {"posters/*.png": ["OPEN", 3]}])
def test_a_malformed_expected_text_table_is_a_config_error(table):
    with pytest.raises(ConfigError) as info:
        resolve(RULES, {"expected-text": table})
    assert "expected-text" in str(info.value) and ("string" in str(info.value) or "table" in str(info.value))


def test_globs_are_taken_from_the_config_files_folder_wherever_noticer_starts(tmp_path, monkeypatch):
    posters = tmp_path / "site" / "posters"
    posters.mkdir(parents=True)
    plan = resolve(RULES, {"expected-text": {"posters/open-*.png": ["OPEN"]},
                           "per-file-ignores": {"posters/*": ["HAND"]}},
                   config_path=str(tmp_path / "site" / "noticer.toml"))
    monkeypatch.chdir(posters)  # `noticer check .` from inside the folder
    assert plan.expected_text_for("open-1.png") == ("OPEN",)
    assert [rp.rule.code for rp in plan.rules_for("./open-1.png")] == ["TEXT001"]
    assert plan.expected_text_for(str(tmp_path / "other" / "posters" / "open-1.png")) == ("OPEN",)  # its end
    assert plan.expected_text_for(str(tmp_path / "other" / "open-1.png")) == ()
    assert plan.expected_text_for("closed-1.png") == ()


def test_a_broken_pyproject_with_a_noticer_table_is_an_error_not_the_defaults(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.noticer\nprofile = "strict"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        find_config(tmp_path)
    assert "pyproject.toml: invalid TOML" in str(info.value)
    (tmp_path / "pyproject.toml").write_text('[tool.black\nline-length = 1\n', encoding="utf-8")
    assert find_config(tmp_path) is None  # someone else's broken table is not noticer's business


def test_find_config_walks_up_and_prefers_noticer_toml(tmp_path):
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text('[tool.noticer]\nprofile = "strict"\n')
    assert find_config(deep) == tmp_path / "pyproject.toml"
    (tmp_path / "a" / "pyproject.toml").write_text('[project]\nname = "x"\n')  # no [tool.noticer]
    assert find_config(deep) == tmp_path / "pyproject.toml"
    (tmp_path / "a" / "noticer.toml").write_text('profile = "lenient"\n')
    assert find_config(deep) == tmp_path / "a" / "noticer.toml"


@pytest.mark.parametrize("text,expected", [
    ("hands.finger-count.min_confidence=0.8", ("hands.finger-count", "min_confidence", 0.8)),
    ("text.misspelled.words=[\"foo\", \"bar\"]", ("text.misspelled", "words", ["foo", "bar"])),
    ("text.misspelled.engine=rapidocr", ("text.misspelled", "engine", "rapidocr")),
])
def test_parse_set_option(text, expected):
    assert parse_set_option(text) == expected


def test_set_option_needs_a_value():
    with pytest.raises(ConfigError):
        parse_set_option("hands.finger-count.min_confidence")


def test_family_section_sets_every_rule_of_the_family_that_has_the_setting():
    config = {"rules": {"hands": {"min_share": 0.2, "enabled": True}, "hands.implausible": {"min_share": 0.3}}}
    plan = resolve(RULES, config)
    assert _settings(plan, "hands.finger-count").settings.min_share == 0.2
    assert _settings(plan, "hands.implausible").settings.min_share == 0.3  # the rule's own section wins
    assert _settings(plan, "text.misspelled").settings.min_share == 0.01  # other families untouched
    plan = resolve(RULES, {}, sets=[parse_set_option("hands.min_confidence=0.99")])
    assert {rp.settings.min_confidence for rp in plan.rules if rp.rule.name.startswith("hands.")} == {0.99}


def test_family_section_with_a_setting_no_rule_has_is_an_error():
    with pytest.raises(ConfigError, match="no hands.\\* rule has a setting 'engine'"):
        resolve(RULES, {"rules": {"hands": {"engine": "x"}}})
    with pytest.raises(ConfigError, match="unknown rule 'handz'"):
        resolve(RULES, {}, sets=[parse_set_option("handz.min_share=1")])
