"""Full-scale sizes of the challenge's data (light module: no numpy import, used by the CLI's --help)."""
from __future__ import annotations

FULL_TRAIN_SIZE = 6_739_258     # training rows (paper)
FULL_TEST_SIZE = 71_103         # test sequences (paper, Table 2)
