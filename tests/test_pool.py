import hashlib
import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from dwaca.active import ANNOTATED_VOID, NOT_ANNOTATED, LabelPool, PoolError
from dwaca.active.pool import MANIFEST, VERSION
from dwaca.utils.io import atomic_write_bytes

from conftest import file_bytes

NAME_A = "aachen/aachen_000000_000019_leftImg8bit.png"
NAME_B = "bochum/bochum_000000_000019_leftImg8bit.png"


def _stray_files(root):
    return [p for p in root.rglob("*") if p.is_file() and (p.name.startswith(".") or p.name.endswith(".tmp"))]


def _box(shape, r0, r1, c0, c1):
    m = np.zeros(shape, dtype=bool)
    m[r0:r1, c0:c1] = True
    return m


def _one_round(pool, index=0, iteration=10, budget=100):
    gt = np.arange(20 * 30, dtype=np.int64).reshape(20, 30) % 19
    gt[0, :] = 255  # void row
    pool.add_annotations(NAME_A, 0, _box((20, 30), 0, 3, 0, 3), gt, regions=1)  # 9 px, 3 of them void
    pool.add_annotations(NAME_B, 1, _box((20, 30), 5, 8, 5, 8), gt, regions=1)
    return pool.commit_round({"index": index, "iteration": iteration, "strategy": "test", "regions": 2}, budget)


def test_round_is_persisted_compactly_and_atomically(tmp_path):
    pool = LabelPool(tmp_path / "pool", num_classes=19)
    assert pool.rounds_done == 0 and pool.pixels_total == 0
    assert not (tmp_path / "pool").exists()  # nothing written before the first commit
    record = _one_round(pool)
    assert record["pixels"] == 18 and record["budget_pixels"] == 100
    assert _stray_files(tmp_path) == []
    manifest = json.loads((tmp_path / "pool" / MANIFEST).read_text())
    assert manifest["pixels_total"] == 18 and manifest["budget_pixels"] == 100 and len(manifest["rounds"]) == 1
    entry = manifest["images"][NAME_A]
    assert entry["pixels"] == 9 and entry["regions"] == 1 and entry["shape"] == [20, 30]
    png = tmp_path / "pool" / entry["file"]
    assert png.suffix == ".png" and png.stat().st_size < 1000
    stored = np.array(Image.open(png))
    assert (stored[0, :3] == ANNOTATED_VOID).all() and (stored[1:3, :3] < 19).all()
    assert (stored != NOT_ANNOTATED).sum() == 9


def test_failed_atomic_write_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "f.json"
    atomic_write_bytes(target, b"old")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(target, b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_reload_roundtrip_and_provider(tmp_path):
    pool = LabelPool(tmp_path / "pool", num_classes=19)
    _one_round(pool)
    again = LabelPool(tmp_path / "pool", num_classes=19)
    assert again.rounds_done == 1 and again.pixels_total == 18
    np.testing.assert_array_equal(again.mask(NAME_A), pool.mask(NAME_A))
    labeled = again.labeled_mask(NAME_A)
    assert labeled.sum() == 9 and labeled[0, 0]  # void pixels are bought too
    provided = again.annotation_provider(0, NAME_A)
    assert provided.dtype == np.uint8 and provided[0, 0] == 255 and (provided != 255).sum() == 6
    assert again.annotation_provider(5, "never/annotated.png") is None
    assert again.labeled_mask("never/annotated.png") is None


def test_mask_manifest_mismatch_names_the_file(tmp_path):
    pool = LabelPool(tmp_path / "pool", num_classes=19)
    _one_round(pool)
    entry = pool.images[NAME_B]
    path = tmp_path / "pool" / entry["file"]
    tampered = np.array(Image.open(path))
    tampered[10:12, 10:12] = 3  # four more annotated pixels than the manifest says
    Image.fromarray(tampered).save(path)
    with pytest.raises(PoolError, match=path.name):
        LabelPool(tmp_path / "pool")
    path.unlink()
    with pytest.raises(PoolError, match="missing"):
        LabelPool(tmp_path / "pool")


def test_manifest_total_mismatch_is_an_error(tmp_path):
    pool = LabelPool(tmp_path / "pool", num_classes=19)
    _one_round(pool)
    manifest_path = tmp_path / "pool" / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["pixels_total"] += 1
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(PoolError, match=MANIFEST):
        LabelPool(tmp_path / "pool")


def test_budget_accounting(tmp_path):
    pool = LabelPool(tmp_path / "pool", num_classes=19)
    _one_round(pool, budget=18)  # exactly the budget is fine
    gt = np.zeros((20, 30), dtype=np.int64)
    # a round over its budget is refused and nothing is written
    pool.add_annotations(NAME_A, 0, _box((20, 30), 10, 13, 10, 13), gt, regions=1)
    with pytest.raises(PoolError, match="over its budget"):
        pool.commit_round({"index": 1}, budget_pixels=8)
    pool.discard_pending()
    assert pool.pixels_total == 18 and pool.mask(NAME_A)[11, 11] == NOT_ANNOTATED
    assert LabelPool(tmp_path / "pool").pixels_total == 18
    # re-buying an annotated pixel breaks exact accounting: refused
    with pytest.raises(PoolError, match="already annotated"):
        pool.add_annotations(NAME_A, 0, _box((20, 30), 2, 5, 2, 5), gt, regions=1)
    # a second round accumulates pixels and budget
    pool.add_annotations(NAME_A, 0, _box((20, 30), 10, 13, 10, 13), gt, regions=1)
    record = pool.commit_round({"index": 1}, budget_pixels=9)
    assert record["pixels"] == 9
    assert (pool.pixels_total, pool.budget_pixels, pool.rounds_done) == (27, 27, 2)
    assert pool.images[NAME_A]["pixels"] == 18 and pool.images[NAME_A]["regions"] == 2
    reloaded = LabelPool(tmp_path / "pool")
    assert (reloaded.pixels_total, reloaded.budget_pixels) == (27, 27)
    assert sum(r["pixels"] for r in reloaded.rounds) == 27


def test_commit_failing_at_any_write_rolls_back_or_is_recovered_forward(tmp_path, monkeypatch):
    # An I/O error at the k-th file replace of a commit, for every k: before commit.json the pool files are as they
    # were; after it, reopening with recover=True finishes the round. Memory keeps the committed state either way.
    root = tmp_path / "pool"
    _one_round(LabelPool(root, num_classes=19), budget=18)
    before = file_bytes(root)
    real_replace = os.replace
    for fail_at in range(1, 100):
        calls = []

        def flaky(src, dst):
            calls.append(dst)
            if len(calls) == fail_at:
                raise OSError("disk full")
            real_replace(src, dst)

        pool = LabelPool(root, num_classes=19)
        pool.add_annotations(NAME_A, 0, _box((20, 30), 10, 13, 10, 13), np.zeros((20, 30), np.int64), regions=1)
        pool.add_annotations(NAME_B, 1, _box((20, 30), 10, 13, 10, 13), np.zeros((20, 30), np.int64), regions=1)
        monkeypatch.setattr(os, "replace", flaky)
        try:
            record = pool.commit_round({"index": 1}, budget_pixels=18)
        except OSError:
            monkeypatch.undo()
            pool.discard_pending()
            assert (pool.rounds_done, pool.pixels_total, pool.budget_pixels) == (1, 18, 18), fail_at
            recovered = LabelPool(root, recover=True)
            if recovered.rounds_done == 1:
                assert file_bytes(root) == before and not (root / "rounds").exists(), fail_at
            else:
                assert (recovered.pixels_total, recovered.budget_pixels) == (36, 36), fail_at
                shutil.rmtree(root)
                for name, data in before.items():
                    atomic_write_bytes(root / name, data)
            continue
        monkeypatch.undo()
        break
    # nine replaces failed in turn: plan, 2 staged masks, 2 done records, commit.json, 2 masks, manifest
    assert record["pixels"] == 18 and fail_at == 10
    assert LabelPool(root).pixels_total == 36 and not (root / "rounds").exists()


def _move_labels(path):
    """Rewrite the mask at ``path`` with its annotated pixels shifted one column: same count, same shape."""
    mask = np.array(Image.open(path))
    Image.fromarray(np.roll(mask, 1, axis=1)).save(path)


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_mask_edited_with_its_pixel_count_kept_is_refused_naming_the_file(tmp_path):
    pool = LabelPool(tmp_path / "pool", num_classes=19)
    _one_round(pool)
    manifest = json.loads((tmp_path / "pool" / MANIFEST).read_text())
    assert manifest["version"] == VERSION == 2
    for entry in manifest["images"].values():
        assert entry["sha256"] == _digest(tmp_path / "pool" / entry["file"])
    path = tmp_path / "pool" / pool.images[NAME_B]["file"]
    _move_labels(path)
    with pytest.raises(PoolError, match=rf"{path} .*does not match the sha256 .*restore that file from a backup, "
                                        rf"or delete {tmp_path / 'pool'}"):
        LabelPool(tmp_path / "pool")


def test_a_version_1_pool_opens_unverified_and_is_upgraded_at_its_next_commit(tmp_path):
    root = tmp_path / "pool"
    _one_round(LabelPool(root, num_classes=19))
    manifest = json.loads((root / MANIFEST).read_text())
    manifest["version"] = 1
    for entry in manifest["images"].values():
        del entry["sha256"]
    (root / MANIFEST).write_text(json.dumps(manifest))
    _move_labels(root / manifest["images"][NAME_B]["file"])  # undetectable without checksums: taken as found
    pool = LabelPool(root, num_classes=19)
    pool.add_annotations(NAME_A, 0, _box((20, 30), 10, 13, 10, 13), np.zeros((20, 30), np.int64), regions=1)
    pool.commit_round({"index": 1}, budget_pixels=9)
    upgraded = json.loads((root / MANIFEST).read_text())
    assert upgraded["version"] == VERSION and upgraded["pixels_total"] == 27
    for entry in upgraded["images"].values():
        assert entry["sha256"] == _digest(root / entry["file"])
    _move_labels(root / upgraded["images"][NAME_B]["file"])
    with pytest.raises(PoolError, match="does not match the sha256"):
        LabelPool(root)


def test_a_manifest_of_an_unknown_version_is_refused(tmp_path):
    _one_round(LabelPool(tmp_path / "pool", num_classes=19))
    path = tmp_path / "pool" / MANIFEST
    path.write_text(path.read_text().replace(f'"version": {VERSION}', '"version": 3'))
    with pytest.raises(PoolError, match=rf"{path} has version 3; this dwaca reads versions 1 and 2"):
        LabelPool(tmp_path / "pool")


def test_a_staged_mask_changed_after_journaling_is_refused_at_the_commit(tmp_path):
    root = tmp_path / "pool"
    pool = LabelPool(root, num_classes=19)
    _one_round(pool)
    before = file_bytes(root)
    gt = np.zeros((20, 30), np.int64)
    pool.stage_annotations(1, NAME_A, 0, _box((20, 30), 10, 13, 10, 13), gt, regions=1, budget_pixels=9)
    pool.stage_annotations(1, NAME_B, 1, _box((20, 30), 10, 13, 10, 13), gt, regions=1, budget_pixels=9)
    staged = pool.journal.staged_path(1, NAME_B)
    done = pool.journal.done_path(1, 1)
    assert json.loads(done.read_text())["sha256"] == _digest(staged)  # hashed when written
    _move_labels(staged)
    with pytest.raises(PoolError, match=rf"staged mask {staged} .*journal entry {done}.*Delete {root / 'rounds' / '1'} "
                                        "and rerun"):
        pool.prepare_commit(1, {"index": 1}, num_images=2)
    assert not pool.journal.has_commit(1)
    pool.journal.remove(1)
    assert file_bytes(root) == before and LabelPool(root).rounds_done == 1


def test_done_records_journaled_before_checksums_still_commit(tmp_path):
    root = tmp_path / "pool"
    pool = LabelPool(root, num_classes=19)
    pool.stage_annotations(0, NAME_A, 0, _box((20, 30), 0, 3, 0, 3), np.zeros((20, 30), np.int64), regions=1,
                           budget_pixels=9)
    done = pool.journal.done_path(0, 0)
    record = json.loads(done.read_text())
    del record["sha256"]
    done.write_text(json.dumps(record))
    pool.prepare_commit(0, {"index": 0}, num_images=1)
    pool.journal.publish(0)
    pool.finish_commit(0)
    assert LabelPool(root).images[NAME_A]["sha256"] == _digest(root / pool.images[NAME_A]["file"])


def test_atomic_writes_get_the_permissions_of_a_plain_new_file(tmp_path):
    plain = tmp_path / "plain"
    plain.write_bytes(b"x")
    atomic_write_bytes(tmp_path / "atomic", b"x")
    assert (tmp_path / "atomic").stat().st_mode == plain.stat().st_mode
