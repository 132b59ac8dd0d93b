"""Fuzzing the importers: mutated floor plans and manifests, each imported under limits.

``python -m fuzz --seconds 180`` (``make fuzz``) mutates the sample campus's DXFs and
manifest (:mod:`fuzz.mutate`), imports each mutant in a forked child with time and memory
limits and tries to serve what it imported (:mod:`fuzz.runner`). It fails on a traceback (an
exception that is not a :class:`~gridmap.errors.GridmapError`), a hang, a memory blow-up or an
import that would publish something the service cannot answer; every such input is kept under
``tests/fuzz_regressions/`` and replayed by ``tests/test_fuzz_regressions.py``.
"""
