"""The output folder's lock: a second process is refused at once, naming the folder, with nothing written; the
lock is gone after an exception and after its holder is killed."""
import signal
import time

import pytest
import torch

from dwaca.config import load_config
from dwaca.engine.checkpoint import save_checkpoint
from dwaca.models import build_model
from dwaca.utils.errors import UserError
from dwaca.utils.lock import LOCK_FILE, LockError, output_dir_lock

from conftest import CONFIG, file_bytes, load_tool, lock_held_elsewhere


def test_a_second_process_is_refused_at_once_naming_the_folder(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with lock_held_elsewhere(tmp_path) as holder:
        before = file_bytes(tmp_path)
        start = time.monotonic()
        with pytest.raises(LockError, match=rf"{tmp_path} is in use by another run \(process {holder.pid} "):
            with output_dir_lock(tmp_path):
                pass
        assert time.monotonic() - start < 1  # refused, not queued behind the holder
        assert file_bytes(tmp_path) == before
    assert isinstance(LockError("x"), UserError)  # the tools print it as one line, exit status 2


def test_the_lock_is_released_after_an_exception(tmp_path):
    with pytest.raises(ZeroDivisionError):
        with output_dir_lock(tmp_path) as path:
            assert path == tmp_path / LOCK_FILE
            with pytest.raises(LockError):  # a second open in the same process is refused as well
                with output_dir_lock(tmp_path):
                    pass
            1 / 0
    with output_dir_lock(tmp_path):
        pass
    assert [p.name for p in tmp_path.iterdir()] == [LOCK_FILE]  # the lock file is all it ever creates


def test_the_lock_of_a_killed_holder_is_free(tmp_path):
    with lock_held_elsewhere(tmp_path) as holder:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        with output_dir_lock(tmp_path):  # no stale lock to clean up by hand
            pass


def test_a_missing_folder_is_not_created(tmp_path):
    with pytest.raises(LockError, match=rf"cannot lock {tmp_path / 'nowhere'}: no such folder"):
        with output_dir_lock(tmp_path / "nowhere"):
            pass
    assert not (tmp_path / "nowhere").exists()


def test_an_export_into_a_locked_output_dir_writes_nothing(tmp_path):
    cfg = load_config(str(CONFIG), ["MODEL.DEVICE", "cpu"])
    model = build_model(cfg)
    ckpt = save_checkpoint(tmp_path / "model_iter000001.pth", model=model,
                           optimizer=torch.optim.SGD(model.parameters(), lr=0.1), iteration=1, rounds_done=0, cfg=cfg)
    out, export_dir = tmp_path / "run", tmp_path / "queries"
    out.mkdir()
    with lock_held_elsewhere(out):
        with pytest.raises(LockError, match=str(out)):
            load_tool("select_queries").main(["-cfg", str(CONFIG), "OUTPUT_DIR", str(out), "MODEL.DEVICE", "cpu",
                                              "resume", str(ckpt), "--export", str(export_dir)])
    assert [p.name for p in out.iterdir()] == [LOCK_FILE] and not export_dir.exists()
