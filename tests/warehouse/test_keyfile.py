"""The key index's file alone: how a run of changes is written to it (`warehouse.keyfile`)."""

from __future__ import annotations

import random

from tasks import wirecopy
from tests.warehouse.test_articles import NOW, WIRE
from warehouse import keyfile


def test_changes_applied_together_leave_the_bands_that_applying_them_one_by_one_leaves(tmp_path):
    """The record writes a run of changes' band rows sorted at the end: the same rows as change by change."""
    texts = [f"{WIRE} paragraph {n} " * 3 + " ".join(f"word{n}x{i}" for i in range(80)) for n in range(4)]
    prints = [wirecopy.fingerprint(t) for t in texts] + [None]
    rng = random.Random(7)
    changes = []
    for _ in range(60):  # puts with changing fingerprints, deletes, re-inserts of the same URLs
        url = f"https://x.example/{rng.randrange(5)}"
        deleted = rng.random() < 0.25
        fp = rng.choice(prints)
        changes.append((keyfile.key_row(url, None, None, False, 1, NOW, NOW, None, fp), deleted))

    def bands(path):
        with keyfile.open_file(path) as db:
            return sorted(
                db.execute("select b.key, a.url from band b join article a on a.id = b.article").fetchall()
            )

    together, one_by_one = tmp_path / "together.keys", tmp_path / "apart.keys"
    with keyfile.open_file(together) as db:
        keyfile.apply_changes(db, changes)
    with keyfile.open_file(one_by_one) as db:
        for change in changes:
            keyfile.apply_changes(db, [change])
    assert bands(together) == bands(one_by_one)
    assert bands(together)  # something is left to compare
    with keyfile.open_file(together) as db:
        orphans = db.execute("select count(*) from band where article not in (select id from article)")
        assert orphans.fetchone()[0] == 0
