"""The help a new user reads: real defaults, flags without placeholders, an example, a version."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

import sparse_dip
from sparse_dip import defaults
from sparse_dip.cli import app

COMMANDS = [
    ["denoise"],
    ["compare"],
    ["find-mask"],
    ["inspect-mask"],
    ["add-noise"],
    ["classify", "prune"],
    ["classify", "collapse"],
    ["classify", "train"],
    ["classify", "imp"],
    ["classify", "stability"],
]


def _help(command: list[str]) -> str:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    return result.output


def _option_lines(text: str) -> dict[str, str]:
    """``--option`` -> its help text, with click's wrapped lines joined."""
    options: dict[str, str] = {}
    name = None
    for line in text.split("Options:\n", 1)[1].splitlines():
        if not line.strip():
            break  # the end of the options list
        start = re.match(r"^  (--[\w-]+)(?: <\w+>|(?: / --[\w-]+))?(?:\s+(.*))?$", line)
        if start:
            name = start.group(1)
            options[name] = start.group(2) or ""
        elif name is not None:
            options[name] = f"{options[name]} {line.strip()}".strip()
    return {name: re.sub(r"\s+", " ", help_text) for name, help_text in options.items()}


def test_version_prints_the_package_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"sparse-dip {sparse_dip.__version__}"


def test_the_version_is_written_once():
    from importlib.metadata import version

    assert version("sparse-dip") == sparse_dip.__version__  # pyproject reads it from the package


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_an_example_and_no_swallowed_default(command):
    text = _help(command)
    assert re.search(r"Examples?:\n  +sparse-dip " + " ".join(command), text)
    assert not re.search(r"\w \.(\s|$)", text)  # "Fitting steps ." is a help text whose bracketed default was eaten
    for name, line in _option_lines(text).items():
        assert "<bool>" not in line, f"{name} is a flag and takes no value"


def test_denoise_help_shows_the_defaults_the_code_uses():
    from sparse_dip.restoration.denoise import DenoiseConfig

    config = DenoiseConfig()
    lines = _option_lines(_help(["denoise"]))
    expected = {
        "--sparsity": config.sparsity,
        "--steps": config.fit.steps,
        "--mask-steps": config.oes.steps,
        "--seed": config.seed,
        "--device": config.device,
        "--precision": config.fit.precision,
    }
    for name, value in expected.items():
        assert f"[default: {value}]" in lines[name], lines[name]
    # Options whose default is computed from the input say how.
    assert "[default: (NOISY_denoised.png" in lines["--out"]
    assert "[default: (OUT with .json)]" in lines["--report"]
    # Every option that takes a value and has a default shows it; flags and optional files do not have one.
    without_default = {"--clean", "--mask", "--save-mask", "--fresh-init", "--resume", "--help"}
    without_default |= {"--out-dir", "--clean-dir", "--ray-address", "--share-mask"}  # many images
    for name, line in lines.items():
        assert ("[default:" in line) == (name not in without_default), (name, line)


def test_steps_and_the_stopping_rule_reach_the_config(tmp_path, monkeypatch):
    """``--steps`` sets the maximum; ``--no-stop`` turns the stopping rule off."""
    from sparse_dip.restoration import file_run as pipeline

    seen = []

    def record(pixels, operator, config, **kwargs):
        seen.append((config.fit.steps, config.fit.stop is not None))
        raise KeyboardInterrupt  # stop before any work

    monkeypatch.setattr(pipeline, "restore", record)
    import numpy as np
    from PIL import Image

    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "in.png")
    runner = CliRunner()
    for extra in ([], ["--steps", "700"], ["--no-stop"]):
        runner.invoke(app, ["denoise", str(tmp_path / "in.png"), "--device", "cpu", *extra])
    assert seen == [(defaults.FIT_STEPS, True), (700, True), (defaults.FIT_STEPS, False)]
