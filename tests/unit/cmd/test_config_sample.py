"""The committed sample configuration file matches the registered options."""

import os
import pathlib
import subprocess
import sys

REPOSITORY = pathlib.Path(__file__).resolve().parents[3]
GENERATOR_CONFIG = REPOSITORY / "etc" / "oslo-config-generator" / "rdpconsole.conf"
SAMPLE = REPOSITORY / "etc" / "rdpconsole.conf.sample"
GENERATOR = os.path.join(os.path.dirname(sys.executable), "oslo-config-generator")


def test_sample_config_is_current(tmp_path):
    fresh = tmp_path / "rdpconsole.conf.sample"
    result = subprocess.run(
        [GENERATOR, "--config-file", str(GENERATOR_CONFIG), "--output-file", str(fresh)],
        cwd=REPOSITORY, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert fresh.read_text(encoding="utf-8") == SAMPLE.read_text(encoding="utf-8"), (
        "etc/rdpconsole.conf.sample is out of date: run "
        "'oslo-config-generator --config-file etc/oslo-config-generator/rdpconsole.conf'"
    )
