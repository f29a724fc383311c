"""One nested-fold fit per content, shared by the suite's held-out gates (fixture ``shared_folds``).

Why: the gates of tests/test_one_posterior.py and tests/test_ranking_correction.py both run nested
leave-one-round-out over the spent cases, and per held-out round both build the same out-of-fold
design (the fitted layer refitted on every inner round) and train the same correction (the
committed parameters): the two most expensive steps of the whole suite, done twice. The memo wraps
``devtools.correction_fit.out_of_fold_design`` and ``train`` for the tests that ask for it, so the
second gate reuses the first one's fits. Inside one design the fitted layer is refitted on every
inner round, and each refit re-runs the intake on every training case (about 140,000 intakes of
1,100 cases for one gate): ``devtools.casefit.intake_case`` is memoized per knowledge-base object too.

Never stale: every design and weight entry is keyed on the content of what the function reads (the
knowledge base's fields, the cases, the prior table, the parameters, the arrays ``train`` fits), not
on names, so a changed knowledge base, corpus or setting is a miss; results are handed out as
copies, so no caller can change a shared one. The intake memo is keyed on the identity of the
knowledge base and of the case, both frozen (a changed knowledge base is a new object: ``replace``,
a new load) and both held by the memo, so an id is never reused while its entry lives. The
devtools code is unchanged: only the tests that request the fixture see the memo, and its own test
checks it returns what the plain functions return.
"""

from __future__ import annotations

import hashlib
import pickle
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from typing import Any

import numpy as np

from devtools import casefit, correction_fit
from devtools.casefit import FitParams
from devtools.correction_fit import CorrectionParams, Design
from services.knowledge.clinical import Case
from services.knowledge.loader import KnowledgeBase
from tests.clinical.realcases import RealCase

Array = np.ndarray


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()


def kb_key(kb: KnowledgeBase) -> str:
    """The knowledge base's content: every dataclass field (not the cached properties derived from them)."""
    return _digest(pickle.dumps(tuple((f.name, getattr(kb, f.name)) for f in fields(kb)), protocol=5))


def cases_key(cases: Sequence[RealCase]) -> str:
    return _digest(pickle.dumps(tuple(cases), protocol=5))


def array_key(*arrays: Array | None) -> str:
    parts: list[bytes] = []
    for a in arrays:
        if a is None:
            parts.append(b"none")
        else:
            a = np.ascontiguousarray(a)
            parts += [a.dtype.str.encode(), repr(a.shape).encode(), a.tobytes()]
    return _digest(*parts)


def _copy_design(d: Design) -> Design:
    return Design(d.offset.copy(), d.present.copy(), d.absent.copy(), d.truth.copy())


class FoldMemo:
    """Bounded memo of ``out_of_fold_design`` and ``train`` results, keyed by content."""

    def __init__(self, max_designs: int = 16, max_weights: int = 40) -> None:
        # Thirteen held-out rounds' designs (a few MB each) must survive from one gate file to the next.
        self.limits = {"designs": max_designs, "weights": max_weights}
        self.designs: OrderedDict[tuple[Any, ...], Design] = OrderedDict()
        self.weights: OrderedDict[tuple[Any, ...], Array] = OrderedDict()
        self.hits = self.misses = 0
        # id(kb) -> (kb, {id(case): (case, intake)}): the last few knowledge bases only.
        self.intakes: OrderedDict[int, tuple[KnowledgeBase, dict[int, tuple[RealCase, Case]]]] = OrderedDict()
        self.max_kbs = 4

    def _get(self, store: OrderedDict[tuple[Any, ...], Any], key: tuple[Any, ...]) -> Any:
        if key in store:
            store.move_to_end(key)
            self.hits += 1
            return store[key]
        self.misses += 1
        return None

    def _put(self, store: OrderedDict[tuple[Any, ...], Any], key: tuple[Any, ...], value: Any) -> None:
        store[key] = value
        while len(store) > self.limits["designs" if store is self.designs else "weights"]:
            store.popitem(last=False)

    def design(self, plain: Callable[..., Design]) -> Callable[..., Design]:
        def out_of_fold_design(base: KnowledgeBase, cases: Sequence[RealCase], prior: Array | None = None,
                               fit: FitParams | None = None) -> Design:
            # ``fit`` None is the layer's chosen parameters (correction_fit.fitted_kb): one key for both spellings.
            key = (kb_key(base), cases_key(cases), array_key(prior), fit or FitParams())
            found = self._get(self.designs, key)
            if found is None:
                found = plain(base, cases, prior, fit)
                self._put(self.designs, key, _copy_design(found))
            return _copy_design(found)
        return out_of_fold_design

    def train(self, plain: Callable[..., Array]) -> Callable[..., Array]:
        def train(design: Design, bounds: tuple[Array, Array], params: CorrectionParams,
                  emergency: Array | None = None) -> Array:
            key = (array_key(design.offset, design.present, design.absent, design.truth, *bounds, emergency),
                   params)
            found = self._get(self.weights, key)
            if found is None:
                found = plain(design, bounds, params, emergency)
                self._put(self.weights, key, np.array(found, copy=True))
            return np.array(found, copy=True)
        return train

    def intake(self, plain: Callable[[KnowledgeBase, RealCase], Case]) -> Callable[[KnowledgeBase, RealCase], Case]:
        def intake_case(kb: KnowledgeBase, case: RealCase) -> Case:
            held = self.intakes.get(id(kb))
            if held is None or held[0] is not kb:
                held = (kb, {})
                self.intakes[id(kb)] = held
                while len(self.intakes) > self.max_kbs:
                    self.intakes.popitem(last=False)
            self.intakes.move_to_end(id(kb))
            found = held[1].get(id(case))
            if found is None or found[0] is not case:
                found = (case, plain(kb, case))
                held[1][id(case)] = found
            return found[1]
        return intake_case

    @contextmanager
    def installed(self) -> Iterator[FoldMemo]:
        """Route the devtools modules' ``out_of_fold_design``, ``intake_case`` and
        ``correction_fit.train`` (which ``fit_weights`` calls) through the memo; restored on exit."""
        routes: list[tuple[str, object, object]] = [
            ("out_of_fold_design", correction_fit.out_of_fold_design, self.design(correction_fit.out_of_fold_design)),
            ("train", correction_fit.train, self.train(correction_fit.train)),
            ("intake_case", casefit.intake_case, self.intake(casefit.intake_case))]
        patched: list[tuple[Any, str, Any]] = []
        for name, module in list(sys.modules.items()):
            if not (name == "devtools" or name.startswith("devtools.")) or module is None:
                continue
            for attr, plain, wrapped in routes:
                if getattr(module, attr, None) is plain:
                    patched.append((module, attr, plain))
                    setattr(module, attr, wrapped)
        try:
            yield self
        finally:
            for module, attr, plain in patched:
                setattr(module, attr, plain)
