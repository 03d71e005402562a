"""The command-line tools: a user's mistake ends in one ``error: ...`` line and exit status 2 (no traceback) and
changes nothing; visualize.py draws in the run's class set."""
import json
import logging
import os
import subprocess
import sys
import urllib.error

import pytest
import torch

from dwaca.config import load_config
from dwaca.data import CityscapesDataset
from dwaca.engine import train

from conftest import CONFIG, REPO, TOOLS, load_tool, run_tool

torch.set_num_threads(1)
TINY = ["INPUT.SOURCE_INPUT_SIZE_TRAIN", "(64, 32)", "INPUT.TARGET_INPUT_SIZE_TRAIN", "(64, 32)",
        "INPUT.INPUT_SIZE_TEST", "(64, 32)", "INPUT.INPUT_SCALES_TRAIN", "(1.0, 1.0)", "SOLVER.MAX_ITER", "4",
        "SOLVER.STOP_ITER", "4", "SOLVER.CHECKPOINT_PERIOD", "2", "SOLVER.BATCH_SIZE", "2", "TEST.BATCH_SIZE", "3",
        "ACTIVE.BATCH_SIZE", "2", "ACTIVE.SELECT_ITER", "[2]", "ACTIVE.RATIO", "0.1", "SEED", "3"]


@pytest.fixture(scope="module")
def bench(make_benchmark):
    """A tiny benchmark and a finished 16-class run on it (checkpoints at iterations 2 and 4, one round)."""
    root = make_benchmark(num_source=4, num_target_train=4, num_target_val=3)
    base = root.parent
    run = base / "run16"
    train(load_config(str(CONFIG), ["DATASETS.ROOT", str(root), "OUTPUT_DIR", str(run), "MODEL.NUM_CLASSES", "16",
                                    *TINY]))
    return {"root": root, "run": run, "base": base}


@pytest.fixture(autouse=True)
def _drop_log_handlers():
    yield  # the tools' logger writes to the captured stdout of the test that set it up
    log = logging.getLogger("dwaca")
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()


def assert_user_error(name, argv, match, monkeypatch, capsys):
    import re
    code = run_tool(name, argv, monkeypatch)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.startswith("error: "), err
    assert re.search(match, err.splitlines()[0]), err


def _train_opts(bench, out, *extra):
    return ["-cfg", CONFIG, "DATASETS.ROOT", bench["root"], "OUTPUT_DIR", out, *TINY, *extra]


def test_train_and_test_report_user_errors_in_one_line(bench, tmp_path, monkeypatch, capsys):
    typo = tmp_path / "typo.yaml"
    typo.write_text("SOLVER:\n  STOP_ITR: 3\n")
    broken = tmp_path / "broken.yaml"
    broken.write_text("SOLVER:\n  STOP_ITER: [3\n")
    for sub in ("images", "labels"):
        (tmp_path / "empty" / "gtav" / sub).mkdir(parents=True)
    (tmp_path / "a_file").write_text("")
    ckpt = bench["run"] / "model_iter000004.pth"
    cases = [
        (["-cfg", tmp_path / "missing.yaml"], r"-cfg \S*missing\.yaml: no such config file"),
        (["-cfg", CONFIG, "SOLVER.STOP_ITR", "2"], r"unknown config key 'SOLVER.STOP_ITR' in the command-line"),
        (["-cfg", typo], r"-cfg \S*typo\.yaml: Non-existent config key: SOLVER\.STOP_ITR"),
        (["-cfg", broken], r"-cfg \S*broken\.yaml: not valid YAML: .*\(line 2, column 14\)"),
        (_train_opts(bench, tmp_path / "r1", "DATASETS.ROOT", tmp_path / "nowhere"), r"GTAVDataset: root \S*nowhere"),
        (_train_opts(bench, tmp_path / "r2", "DATASETS.ROOT", tmp_path / "empty"), r"no '\*\.png' images in"),
        (_train_opts(bench, tmp_path / "r3", "resume", tmp_path / "x.pth"), r"checkpoint \S*x\.pth does not exist"),
        (_train_opts(bench, tmp_path / "r4", "resume", ckpt), r"MODEL.NUM_CLASSES 16 in the checkpoint, 19 config"),
        (_train_opts(bench, tmp_path / "a_file" / "out"), r"OUTPUT_DIR: cannot create the folder \S*a_file/out "
                                                          r"\(\S*a_file is a file\)"),
    ]
    if not torch.cuda.is_available():
        cases.append((_train_opts(bench, tmp_path / "r5", "MODEL.DEVICE", "cuda"), r"MODEL.DEVICE is 'cuda' but"))
    for argv, match in cases:
        assert_user_error("train", argv, match, monkeypatch, capsys)
    for argv, match in [
        (["-cfg", typo], r"-cfg \S*typo\.yaml: Non-existent config key: SOLVER\.STOP_ITR"),
        (_train_opts(bench, tmp_path / "t1"), r"pass the checkpoint to evaluate as `resume <path>`"),
        (_train_opts(bench, tmp_path / "t2", "resume", "auto"), r"resume auto: no model_iter\*\.pth checkpoint in "
                                                                 r"OUTPUT_DIR \S*t2"),
        (_train_opts(bench, tmp_path / "t3", "resume", ckpt, "MODEL.NUM_CLASSES", "16", "MODEL.NAME",
                     "deeplabv2_resnet18"), r"MODEL.NAME 'deeplabv3plus_resnet18' in the checkpoint"),
    ]:
        assert_user_error("test", argv, match, monkeypatch, capsys)
    assert not (tmp_path / "t1").exists() and not (tmp_path / "t2").exists()


def test_an_offline_weights_download_names_model_weights(bench, tmp_path, monkeypatch, capsys):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    assert_user_error("train", ["-cfg", CONFIG, "DATASETS.ROOT", bench["root"], "OUTPUT_DIR", tmp_path / "w",
                                "MODEL.WEIGHTS", "https://download.invalid/resnet18.pth"],
                      r"MODEL.WEIGHTS could not be downloaded \(.*Name or service not known\); .* local file",
                      monkeypatch, capsys)


def test_a_script_run_prints_one_line_and_exits_2(tmp_path):
    proc = subprocess.run([sys.executable, str(TOOLS / "train.py"), "-cfg", str(CONFIG), "SOLVER.STOP_ITR", "2"],
                          env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr == "error: unknown config key 'SOLVER.STOP_ITR' in the command-line overrides\n"


def test_bugs_keep_their_traceback():
    from dwaca.config import run_main

    def buggy(argv):
        return None + 1
    with pytest.raises(TypeError):
        run_main(buggy)


def test_the_other_tools_report_user_errors_in_one_line(bench, tmp_path, monkeypatch, capsys):
    (tmp_path / "a_file").write_text("")
    run = bench["run"]
    for name, argv, match in [
        ("make_synthetic", ["--out", tmp_path / "a_file" / "x"], r"--out: cannot create the folder \S*a_file/x"),
        ("generate_label_info", ["-d", bench["root"] / "gtav", "-o", tmp_path / "a_file" / "info.json"],
         r"-o \S*a_file/info\.json: cannot create the folder \S*a_file \(\S*a_file is a file\)"),
        ("generate_label_info", ["-d", tmp_path / "nowhere", "-o", tmp_path / "i.json"], r"GTAVDataset: root"),
        ("visualize", ["--data", bench["root"], "--run", tmp_path / "no_run", "--out", tmp_path / "v.png"],
         r"--run \S*no_run: no pool/manifest\.json"),
        ("visualize", ["--data", bench["root"], "--run", run, "--out", tmp_path / "v.png", "--index", "4"],
         r"--index 4 is out of range: \S*cityscapes has 4 training images \(0 to 3\)"),
        ("visualize", ["--data", tmp_path / "nowhere", "--run", run, "--out", tmp_path / "v.png"],
         r"CityscapesDataset: root \S*nowhere"),
        ("select_queries", ["-cfg", tmp_path / "missing.yaml", "--export", tmp_path / "q"], r"no such config file"),
        ("import_labels", [tmp_path / "no_export", "--output-dir", run], r"no_export/queries\.json"),
    ]:
        assert_user_error(name, argv, match, monkeypatch, capsys)
    assert not (tmp_path / "no_run").exists() and not (tmp_path / "v.png").exists()


@pytest.mark.parametrize("option,value,minimum", [("--num-source", "-1", 1), ("--num-target-train", "0", 1),
                                                  ("--num-target-val", "0", 1), ("--width", "8", 16),
                                                  ("--height", "x", 16)])
def test_make_synthetic_refuses_senseless_counts_and_sizes(tmp_path, monkeypatch, capsys, option, value, minimum):
    code = run_tool("make_synthetic", ["--out", tmp_path / "s", option, value], monkeypatch)
    assert code == 2
    assert f"argument {option}: expected an integer >= {minimum}" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_demo_checks_its_overrides_before_deleting_the_previous_runs(tmp_path, monkeypatch, capsys):
    for sub in ("data/gtav", "data/cityscapes", "dwaca_RA_5"):  # an earlier demo's benchmark and run
        (tmp_path / sub).mkdir(parents=True)
    (tmp_path / "dwaca_RA_5" / "results.json").write_text("{}")
    assert_user_error("demo", ["--out", tmp_path, "SOLVER.STOP_ITR", "3"], r"unknown config key 'SOLVER.STOP_ITR'",
                      monkeypatch, capsys)
    assert (tmp_path / "dwaca_RA_5" / "results.json").is_file()


def test_visualize_draws_in_the_runs_class_set(bench, tmp_path, monkeypatch, capsys):
    visualize = load_tool("visualize")
    drawn = []
    plot = visualize.plot_selected_regions

    def recording(path, image, masks, gt=None, num_classes=19, title=None):
        drawn.append((num_classes, gt))
        return plot(path, image, masks, gt, num_classes, title)
    monkeypatch.setattr(visualize, "plot_selected_regions", recording)
    args = ["--data", str(bench["root"]), "--run", str(bench["run"]), "--out", str(tmp_path / "figure")]
    visualize.main(args)  # MODEL.NUM_CLASSES 16 from the run's config.yaml
    visualize.main(args + ["--num-classes", "19"])
    gt = {n: CityscapesDataset(bench["root"] / "cityscapes", "train", n).load_train_ids(0) for n in (16, 19)}
    assert (gt[16] != gt[19]).any()
    assert drawn[0][0] == 16 and (drawn[0][1] == gt[16]).all()
    assert drawn[1][0] == 19 and (drawn[1][1] == gt[19]).all()
    # the path printed is the file written: savefig adds .png to a name without a suffix
    assert capsys.readouterr().out.splitlines()[0] == str(tmp_path / "figure.png")
    assert (tmp_path / "figure.png").is_file() and not (tmp_path / "figure").exists()
    (bench["base"] / "no_config" / "pool").mkdir(parents=True)
    (bench["base"] / "no_config" / "pool" / "manifest.json").write_text((bench["run"] / "pool" / "manifest.json")
                                                                        .read_text())
    with pytest.raises(FileNotFoundError, match=r"no_config: no config\.yaml .* pass --num-classes"):
        visualize.main(["--data", str(bench["root"]), "--run", str(bench["base"] / "no_config"), "--out",
                        str(tmp_path / "f.png")])


def test_test_py_resume_auto_evaluates_the_newest_checkpoint(bench, monkeypatch, capsys):
    assert run_tool("test", _train_opts(bench, bench["run"], "MODEL.NUM_CLASSES", "16", "resume", "auto"),
                    monkeypatch) == 0
    result = json.loads((bench["run"] / "test_results.json").read_text())
    assert result["iteration"] == 4 and result["checkpoint"].endswith("model_iter000004.pth")
