"""kafka_medic.safe_write: a unique exclusive temp file and a rename; what it refuses; symlinks written through."""

from __future__ import annotations

import os
import stat

import pytest

from kafka_medic.model import ModelError, save_model
from kafka_medic.model.files import parse_model
from kafka_medic.safe_write import UnwritableTarget, check_target, write_atomic

from .test_model_files import SPEC_EXAMPLE


def test_a_write_replaces_the_file_keeps_its_mode_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    target.chmod(0o640)
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert os.listdir(tmp_path) == ["out.json"]


def test_a_symlink_target_is_written_through_and_stays_a_link(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_atomic(link, b"new")
    assert link.is_symlink() and real.read_bytes() == b"new"


def test_a_symlink_planted_at_the_old_fixed_temp_name_is_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / ".out.json.tmp").symlink_to(victim)  # the name writes used before
    save_model(parse_model(SPEC_EXAMPLE), tmp_path / "out.json")
    assert victim.read_text() == "keep"
    assert (tmp_path / "out.json").read_text().startswith("{")


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: d / "sub", "is a directory, not a regular file"),
    (lambda d: d / "fifo", "is a FIFO, not a regular file"),
    (lambda d: d / "missing" / "out.json", "which is not an existing directory"),
    (lambda d: f"{d}/sub/", "names a directory, not a file"),
])
def test_targets_that_are_not_regular_files_in_a_directory_are_refused(tmp_path, make, message):
    (tmp_path / "sub").mkdir()
    os.mkfifo(tmp_path / "fifo")
    path = str(make(tmp_path))
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(UnwritableTarget, match=message):
        write_atomic(path, b"x")
    with pytest.raises(UnwritableTarget, match=message):
        check_target(path)
    assert sorted(os.listdir(tmp_path)) == before


def test_a_device_node_is_refused_not_replaced():
    with pytest.raises(UnwritableTarget, match="is a character device"):
        write_atomic("/dev/null", b"x")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_failed_model_write_is_a_model_error_naming_the_file(tmp_path):
    with pytest.raises(ModelError, match=f"cannot write {tmp_path}/missing/m.json: is in"):
        save_model(parse_model(SPEC_EXAMPLE), tmp_path / "missing" / "m.json")
