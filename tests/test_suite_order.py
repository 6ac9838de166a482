"""The default run's order (tests/conftest.py): the long files and classes it hands out first still exist."""
from __future__ import annotations

import ast

from tests.conftest import LONG_SCOPES_FIRST, REPO_ROOT, long_scope_rank


def test_every_long_scope_names_a_test_file_or_class_that_exists():
    for scope in LONG_SCOPES_FIRST:
        path, _, cls = scope.partition("::")
        assert (REPO_ROOT / path).is_file(), scope
        if cls:
            tree = ast.parse((REPO_ROOT / path).read_text())
            assert any(isinstance(node, ast.ClassDef) and node.name == cls for node in tree.body), scope


def test_long_scopes_rank_first_in_their_listed_order():
    first, second = LONG_SCOPES_FIRST[0], LONG_SCOPES_FIRST[1]
    assert long_scope_rank(f"{first}::test_a[x]") == 0
    assert long_scope_rank(f"{second}::test_b") == 1
    assert long_scope_rank("tests/models/test_registry_smoke.py::test_elsewhere") == len(LONG_SCOPES_FIRST)
    assert long_scope_rank(first.replace(".py", "_more.py") + "::test_c") == len(LONG_SCOPES_FIRST)


def test_this_session_runs_the_long_scopes_first(request):
    """``pytest_collection_modifyitems`` sorted the collected tests by :func:`long_scope_rank`."""
    ranks = [long_scope_rank(item.nodeid) for item in request.session.items]
    assert ranks == sorted(ranks)
