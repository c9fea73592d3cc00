"""The ``sargeo`` console script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import sargeo
from sargeo.cli import main


def test_version_and_help_from_the_installed_script():
    exe = str(Path(sys.executable).parent / "sargeo")  # the script installed in this venv
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"sargeo {sargeo.__version__}"
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True)
    assert "usage: sargeo" in out.stdout and "env" in out.stdout


def test_env_reports_the_stack_and_compiled_ops(capsys):
    assert main(["env"]) == 0
    text = capsys.readouterr().out
    assert "torchgeo" in text and "mmcv" in text
    assert "compiled (mmcv._ext loads)" in text


def test_import_sargeo_stays_light():
    code = ("import sys, sargeo, sargeo.cli; "
            "heavy = [m for m in ('mmdet', 'mmseg', 'mmrotate', 'lightning', 'torchgeo') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def _commands() -> list[list[str]]:
    """Every command of the parser (mm's as `mm train` / `mm test`), pretrain aside."""
    from sargeo.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    names = [[n] for n in sub.choices if n not in ("mm", "pretrain")]
    return names + [["mm", "train"], ["mm", "test"]]


def test_every_command_takes_threads_and_refuses_bad_counts(capsys):
    from sargeo.cli import build_parser

    commands = _commands()
    assert ["infer"] in commands and ["finetune"] in commands and ["demo"] in commands
    for command in commands:
        for bad in ("0", "-1", "abc"):
            with pytest.raises(SystemExit) as stop:
                build_parser().parse_args([*command, "--threads", bad])
            assert stop.value.code == 2
            err = capsys.readouterr().err
            assert f"argument --threads: expected a whole number >= 1, got '{bad}'" in err, \
                (command, err)
        with pytest.raises(SystemExit):
            build_parser().parse_args([*command, "--help"])
        assert "--threads N" in capsys.readouterr().out, command


def test_a_bad_sargeo_threads_stops_a_command_with_its_name(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SARGEO_THREADS", "-2")
    with pytest.raises(SystemExit) as stop:
        main(["simulate", str(tmp_path / "s.tif"), "--width", "64", "--height", "64"])
    assert stop.value.code == 2
    assert "SARGEO_THREADS must be a whole number of threads >= 1, got -2" in \
        capsys.readouterr().err
    assert not (tmp_path / "s.tif").exists()


def test_each_module_command_is_described_and_run_by_its_module():
    import importlib

    from sargeo.cli import MODULE_COMMANDS, build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name, (module_name, help_text, _, run) in MODULE_COMMANDS.items():
        module = importlib.import_module(module_name)
        parser = sub.choices[name]
        assert parser.description == module.__doc__
        assert parser.get_default("func") is getattr(module, run)
        assert next(a.help for a in sub._choices_actions if a.dest == name) == help_text


def test_a_commands_bad_input_is_one_message_with_its_cause_and_exit_status_2(tmp_path,
                                                                              monkeypatch,
                                                                              capsys):
    missing = tmp_path / "nowhere"
    args = ["finetune", "--dataset", "mstar", "--data-root", str(missing), "--split", "40shot"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err == (f"sargeo finetune: error: data root not found: {missing}\n"
                   "(the traceback: SARGEO_TRACEBACK=1)\n")
    monkeypatch.setenv("SARGEO_TRACEBACK", "1")
    with pytest.raises(FileNotFoundError, match="data root not found"):
        main(args)
