"""The simulator's ground-truth model in a construct: yeast unchanged by default, a user construct's flanks and vector
drive which windows bind, what a window past the row's end reads, and the GC term (oracles: a direct loop over
windows and a plain GC count)."""
from __future__ import annotations

import numpy as np
import pytest

from seq2exp.data.construct import Construct
from seq2exp.simulate import motifs as motif_lib
from seq2exp.simulate.model import PLASMID_AFTER_FLANK3, PromoterModel, to_codes

# 25-bp 5' flank (longer than a site window), 4-bp 3' flank that the vector continues into a Reb1 site (TTACCCGG)
# across the row's end, with an N in it
USER = Construct(name="my_mpra", flank5="GATCGATCGGCCAATGCATGCAGGC", flank3="TTAC", downstream="TTACCCGGNCCACGTGA",
                 insert_length=60)
AFTER = "CCGGACCAC"  # the 9 vector bases after flank3, N read as A


@pytest.fixture(scope="module")
def models() -> tuple[PromoterModel, PromoterModel]:
    return PromoterModel(), PromoterModel(construct=USER)


def _direct_occupancy(model: PromoterModel, seq: str, flank5: int, flank3: int, after: str) -> np.ndarray:
    scored = (seq + after).replace("N", "A")
    total = np.zeros(len(model.names))
    for p in range(max(flank5 - motif_lib.SITE_K + 1, 0), len(seq) - flank3):
        kmer = 0
        for base in scored[p:p + motif_lib.SITE_K]:
            kmer = kmer * 4 + "ACGT".index(base)
        row = model.tables.row_of_kmer[kmer]
        if row >= 0:
            total += model.tables.occupancy[row] * model.profile[min(len(seq) - 1 - p, len(model.profile) - 1)]
    return total


def test_yeast_is_the_default(models):
    yeast, _ = models
    assert PLASMID_AFTER_FLANK3 == "TCTTAATTA" and yeast.construct.name == "dream_yeast"
    rng = np.random.default_rng(0)
    rows = ["TGCATTTTTTTCACATC" + "".join(rng.choice(list("ACGT"), 80)) + "GGTTACGGCTGTT" for _ in range(20)]
    np.testing.assert_array_equal(yeast.predict_strings(rows),
                                  PromoterModel(construct="dream_yeast").predict_strings(rows))


def test_user_construct_drives_binding_and_gc(models):
    yeast, user = models
    rng = np.random.default_rng(2)
    rows = [USER.with_flanks("".join(rng.choice(list("ACGT"), n))) for n in (60, 55, 64)]
    rows.append(USER.with_flanks("TTACCCGG" + "".join(rng.choice(list("ACGT"), 52))))  # Reb1 at the insert start
    codes, lengths = to_codes(rows)
    fast = user.tf_occupancy(codes, lengths)
    for i, row in enumerate(rows):
        np.testing.assert_allclose(fast[i], _direct_occupancy(user, row, 25, 4, AFTER), rtol=1e-5, atol=1e-6)
    # the vector after the row matters: another continuation gives other occupancies
    assert not np.allclose(fast, [_direct_occupancy(user, row, 25, 4, "A" * 9) for row in rows])
    # the yeast model counts other windows (17-bp flank5 / 13-bp flank3, its own vector): different occupancy
    assert not np.allclose(yeast.tf_occupancy(codes, lengths), fast)
    gc = [sum(b in "GC" for b in row[25:-4]) / (len(row) - 29) for row in rows]
    np.testing.assert_allclose(user.gc_fraction(codes, lengths), gc)
    # a site inside the 5' flank alone (not reaching the insert) changes nothing for the user construct
    flanked = [row[:3] + "TTACCCGG" + row[11:] for row in rows]
    np.testing.assert_array_equal(user.predict_strings(flanked), user.predict_strings(rows))


def test_genomic_construct_scores_every_window():
    model = PromoterModel(construct="genomic")
    rng = np.random.default_rng(5)
    rows = ["".join(rng.choice(list("ACGT"), 90)) for _ in range(3)]
    codes, lengths = to_codes(rows)
    for i, row in enumerate(rows):
        np.testing.assert_allclose(model.tf_occupancy(codes, lengths)[i], _direct_occupancy(model, row, 0, 0, "A" * 9),
                                   rtol=1e-5, atol=1e-6)
