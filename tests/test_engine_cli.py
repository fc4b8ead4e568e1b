"""Engine (checkpoint/resume, result JSON) and the command line."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from dcteach import cli
from dcteach.cluster import kmeans as kmeans_module
from dcteach.engine import TrainingRun, pick_device
from dcteach.methods import get_method


def test_pick_device_cpu_and_bad_cuda(monkeypatch):
    assert pick_device("cpu").type == "cpu"
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            pick_device("cuda")


def test_training_run_resumes_after_interrupt(tmp_path):
    import torch

    model = torch.nn.Linear(2, 1)
    state = {"seen": []}
    run = TrainingRun(tmp_path, resume=False, verbose=False)
    with pytest.raises(KeyboardInterrupt):
        for epoch in run.epochs("train", 5, model=model, state=state):
            if epoch == 3:
                raise KeyboardInterrupt
            state["seen"].append(epoch)
            with torch.no_grad():
                model.weight += 1
    weight_after_3 = model.weight.detach().clone()
    model2 = torch.nn.Linear(2, 1)
    state2: dict = {}
    run2 = TrainingRun(tmp_path, resume=True, verbose=False)
    epochs = list(run2.epochs("train", 5, model=model2, state=state2))
    assert epochs == [3, 4]  # continues after the last finished epoch
    assert state2["seen"] == [0, 1, 2]
    assert torch.equal(model2.weight, weight_after_3)
    # a finished phase is skipped on resume
    assert list(TrainingRun(tmp_path, resume=True, verbose=False).epochs("train", 5)) == []


def test_kmeans_method_resume_gives_same_result(tmp_path, monkeypatch):
    from dcteach.data import load_dataset

    data = load_dataset("digits")
    ref = get_method("kmeans")(10, preset="quick", n_init=4, verbose=False).fit(data.flat)

    calls = {"n": 0}
    real_fit = kmeans_module.KMeans.fit

    def flaky_fit(self, X, y=None):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_fit(self, X, y)

    monkeypatch.setattr(kmeans_module.KMeans, "fit", flaky_fit)
    method = get_method("kmeans")
    with pytest.raises(KeyboardInterrupt):
        method(10, n_init=4, out_dir=tmp_path, verbose=False).fit(data.flat, data.y)
    monkeypatch.setattr(kmeans_module.KMeans, "fit", real_fit)
    resumed = method(10, n_init=4, out_dir=tmp_path, resume=True, verbose=False)
    resumed.fit(data.flat, data.y)
    assert [r["epoch"] for r in resumed.history_] == [0, 1, 2, 3]  # 0,1 before; 2,3 after
    assert resumed.inertia_ == pytest.approx(ref.inertia_)
    assert np.array_equal(resumed.labels_, ref.labels_)


def _dcteach(*args, env=None, **kw):
    return subprocess.run([sys.executable, "-m", "dcteach.cli", *args], capture_output=True,
                          text=True, env=env, **kw)


def test_cli_run_writes_result_json(tmp_path):
    out = tmp_path / "res.json"
    r = _dcteach("run", "kmeans", "--dataset", "digits", "--json", str(out), "--out",
                 str(tmp_path / "run"))
    assert r.returncode == 0, r.stderr
    assert "ACC" in r.stdout and "kmeans / digits" in r.stdout
    res = json.loads(out.read_text())
    keys = {"method", "dataset", "n", "n_clusters", "acc", "nmi", "ari", "seconds", "device",
            "seed", "config"}
    assert keys <= set(res) and res["n"] == 1797 and 0.6 < res["acc"] <= 1.0
    assert (tmp_path / "run" / "labels.npy").exists()
    assert (tmp_path / "run" / "confusion.png").stat().st_size > 1000
    assert (tmp_path / "run" / "history.png").exists()
    assert (tmp_path / "run" / "metrics.jsonl").read_text().count("\n") == 3


def test_cli_offline_missing_dataset_is_one_clear_message(tmp_path):
    env = dict(os.environ, DCTEACH_DATA=str(tmp_path), DCTEACH_OFFLINE="1")
    r = _dcteach("run", "kmeans", "--dataset", "cifar100", env=env)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert "DCTEACH_DATA" in r.stderr and "cifar-100-python" in r.stderr


def test_cli_bad_inputs():
    r = _dcteach("run", "no-such-method")
    assert r.returncode == 2 and "available" in r.stderr
    r = _dcteach("run", "kmeans", "--preset", "nope")
    assert r.returncode == 2 and "unknown preset" in r.stderr
    r = _dcteach("run", "kmeans", "--set", "bogus=1")
    assert r.returncode == 2 and "unknown option" in r.stderr


@pytest.mark.parametrize("args,says", [
    (["kmeans", "--set", "n_init=abc"], ["'n_init'", "an integer", "'abc'"]),
    (["kmeans", "--set", "init=bogus"], ["'init'", "'k-means++'", "'random'"]),
    (["kmeans", "--k", "0"], ["--k", "positive"]),
    (["kmeans", "--n-samples", "1"], ["--n-samples"]),
    (["dec", "--set", "lr=-1"], ["'lr'", "> 0"]),
    (["dec", "--set", "amp=maybe"], ["'amp'", "true/false"]),
    (["dec", "--set", "hidden=a,b"], ["'hidden'"]),
    (["text-kmeans", "--dataset", "digits"], ["text"]),
    (["kmeans", "--dataset", "no/such/folder"], ["no/such/folder"]),
])
def test_cli_wrong_values_name_the_option_without_traceback(args, says):
    r = _dcteach("run", *args)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and r.stderr.count("\n") <= 2, r.stderr
    for text in says:
        assert text in r.stderr, (text, r.stderr)


def test_cli_list_method_shows_options_types_ranges_and_presets(capsys):
    assert cli.main(["list", "dec"]) == 0
    out = capsys.readouterr().out
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln.startswith("  ")}
    assert "an integer" in lines["update_interval"] and "≥ 1" in lines["update_interval"]
    assert "one of adam, adamw, sgd" in lines["optimizer"] and "> 0.0" in lines["lr"]
    assert "quick" in lines and "fast" in lines and "paper" in lines
    assert cli.main(["list", "text-kmeans-hybrid"]) == 0
    assert "minilm+lsa" in capsys.readouterr().out  # the variant's own settings
    assert cli.main(["list", "no-such-method"]) == 2


def test_cli_list_and_help(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "kmeans" in out and "spectral" in out and "digits" in out and "local=yes" in out
    r = _dcteach("run", "--help")
    assert "--resume" in r.stdout and "--preset" in r.stdout


def test_cli_killed_run_resumes(tmp_path):
    """SIGKILL a real CLI run mid-way, then --resume: it continues from the checkpoint."""
    out = tmp_path / "run"
    args = ["run", "kmeans", "--dataset", "digits", "--set", "n_init=60", "--out", str(out)]
    proc = subprocess.Popen([sys.executable, "-m", "dcteach.cli", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = out / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline:
        if log.exists() and log.read_text().count("\n") >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = [json.loads(x)["epoch"] for x in log.read_text().splitlines()]
    assert 3 <= len(done_before) < 60, "run was not killed mid-way"
    r = _dcteach(*args, "--resume", "--json", str(tmp_path / "r.json"))
    assert r.returncode == 0, r.stderr
    epochs = [json.loads(x)["epoch"] for x in log.read_text().splitlines()]
    assert epochs[-1] == 59 and sorted(set(epochs)) == list(range(60))
    assert len(epochs) - len(done_before) <= 60 - len(done_before) + 1  # no restart from 0
    assert json.loads((tmp_path / "r.json").read_text())["acc"] > 0.6
