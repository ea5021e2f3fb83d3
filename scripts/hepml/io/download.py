"""Downloads checked against pinned digests (sha256, md5), written under a temporary name."""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from hepml.io.files import _temporary_name
from hepml.logs import TERMINAL

log = logging.getLogger(__name__)

DOWNLOAD_CHUNK_BYTES = 1 << 20


class DownloadError(RuntimeError):
    """A download failed or its content does not match a pinned digest (sha256 or md5)."""


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(DOWNLOAD_CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def download_file(
    url: str,
    dest: str | os.PathLike,
    sha256: str | None = None,
    pin_key: str = "the config",
    timeout: float = 60.0,
    md5: str | None = None,
) -> str:
    """Download ``url`` to ``dest``, checking its pinned digests; returns the sha256 digest.

    sha256, md5: the pinned hex digests (either, both, or None).  md5 is what Zenodo publishes
    for its files (the top-tagging benchmark's record, config/jets.yaml); a second file with a
    given md5 cannot be made (only pairs of colliding files can), so a published md5 pins the
    file.  Each pinned digest is checked.  With neither pinned the download is trusted as is: a
    warning says so with both digests and the config key (``pin_key``, the sha256 entry) to
    pin, in the log and on the terminal (``hepml.logs.TERMINAL``).  No network, a failed
    transfer or a digest mismatch raise :class:`DownloadError` naming the URL, the file and the
    digests; nothing is left at ``dest`` (the transfer goes to a temporary name first).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    expected = sha256.lower() if sha256 else None
    expected_md5 = md5.lower() if md5 else None
    pinned = " and ".join(
        f"{name} {value}" for name, value in (("sha256", expected), ("md5", expected_md5)) if value
    )
    tmp = _temporary_name(dest)
    try:
        digest = hashlib.sha256()
        digest_md5 = hashlib.md5(usedforsecurity=False)
        with open(tmp, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    total = int(response.headers.get("Content-Length") or 0) or None
                    bar = tqdm(
                        total=total,
                        desc=dest.name,
                        unit="B",
                        unit_scale=True,
                        disable=not sys.stderr.isatty(),
                    )
                    done, next_report = 0, 0
                    while block := response.read(DOWNLOAD_CHUNK_BYTES):
                        out.write(block)
                        digest.update(block)
                        digest_md5.update(block)
                        done += len(block)
                        bar.update(len(block))
                        if done >= next_report:
                            log.info("%s: %.1f MB received", url, done / 1e6)
                            next_report = done + (total or 1 << 30) // 10
                    bar.close()
            except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
                reason = getattr(error, "reason", error)
                raise DownloadError(
                    f"cannot download {url} to {dest} (expected {pinned or 'sha256: not pinned'}"
                    f"): {reason}. Without network, put the published file in a directory and "
                    "set the dataset's source: path (and path: that directory)"
                ) from error
        actual, actual_md5 = digest.hexdigest(), digest_md5.hexdigest()
        if expected is None and expected_md5 is None:
            log.warning(
                "no digest pinned for %s (%s): the download is trusted as is (sha256 %s, md5 %s); "
                "to pin it, set %s: %s",
                dest,
                url,
                actual,
                actual_md5,
                pin_key,
                actual,
                extra=TERMINAL,
            )
        for name, wanted, got, key in (
            ("sha256", expected, actual, pin_key),
            ("md5", expected_md5, actual_md5, pin_key.replace(".sha256[", ".md5[")),
        ):
            if wanted is not None and got != wanted:
                raise DownloadError(
                    f"{name} mismatch for {url} -> {dest}: expected {wanted} ({key}), "
                    f"got {got}; the file was not kept"
                )
        os.replace(tmp, dest)
        log.info(
            "downloaded %s -> %s (%d bytes, sha256 %s, md5 %s%s)",
            url,
            dest,
            dest.stat().st_size,
            actual,
            actual_md5,
            f"; checked against the pinned {pinned}" if pinned else "",
        )
        return actual
    finally:
        tmp.unlink(missing_ok=True)
