"""Every setting is declared once, with a description, and read from RUNYARD_* variables."""

from __future__ import annotations

import pytest

from runyard.errors import InvalidSpec
from runyard.settings import Settings


def test_every_setting_is_described():
    for name, field in Settings.model_fields.items():
        assert field.description and len(field.description) > 15, name


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RUNYARD_HOME", str(tmp_path))
    monkeypatch.setenv("RUNYARD_CPU_SLOTS", "3")
    settings = Settings()
    assert (settings.home, settings.cpu_slots) == (tmp_path, 3)
    assert settings.db_url == f"sqlite:///{tmp_path / 'runyard.db'}"


def test_a_bad_snapshot_template_is_refused():
    with pytest.raises(InvalidSpec):
        Settings(snapshot_template="../{step}.json")


def test_gpu_restriction():
    assert Settings(gpus="0, 2,3").allowed_gpus() == {0, 2, 3}
    assert Settings().allowed_gpus() is None
