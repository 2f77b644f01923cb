"""The README documents every setting, and names each by its environment variable."""

from newsdesk.settings import Settings

from .conftest import ROOT


def test_every_setting_is_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [
        f"NEWSDESK_{name.upper()}"
        for name in Settings.model_fields
        if f"`NEWSDESK_{name.upper()}`" not in readme
    ]
    assert not missing, f"settings missing from README.md: {missing}"
