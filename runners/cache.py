"""Loaded models kept for reuse: a bounded least-recently-used cache that releases what it evicts.

Keys name exactly what was loaded (model, distribution, its SHA-256, runtime, device), so a re-registered model with
new files is a new key. Eviction calls :meth:`LoadedModel.release`, which frees GPU memory (``torch.cuda
.empty_cache`` for torch on CUDA). A model evicted while another thread is still predicting with it fails that
prediction with ``RuntimeError``; size the cache for the models served at once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from fairkg.runners.base import LoadedModel

__all__ = ["DEFAULT_CACHE_SIZE", "ModelCache"]

DEFAULT_CACHE_SIZE = 4


class ModelCache:
    """At most ``max_size`` loaded models, least recently used evicted first; thread-safe.

    >>> cache = ModelCache(max_size=2)
    >>> len(cache), cache.max_size
    (0, 2)
    """

    def __init__(self, max_size: int = DEFAULT_CACHE_SIZE) -> None:
        if max_size < 1:
            raise ValueError("a model cache holds at least one model")
        self.max_size = max_size
        self._models: OrderedDict[Hashable, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[Hashable, threading.Lock] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._models)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._models

    def get(self, key: Hashable) -> LoadedModel | None:
        """The model cached under ``key`` (now the most recently used), or None."""
        with self._lock:
            model = self._models.get(key)
            if model is not None:
                self._models.move_to_end(key)
            return model

    def put(self, key: Hashable, model: LoadedModel) -> None:
        """Cache ``model`` under ``key``, releasing whatever it replaces or evicts."""
        evicted: list[LoadedModel] = []
        with self._lock:
            previous = self._models.pop(key, None)
            if previous is not None and previous is not model:
                evicted.append(previous)
            self._models[key] = model
            while len(self._models) > self.max_size:
                evicted.append(self._models.popitem(last=False)[1])
        for old in evicted:  # outside the lock: releasing GPU memory can take a while
            old.release()

    def get_or_load(self, key: Hashable, load: Callable[[], LoadedModel]) -> LoadedModel:
        """The cached model for ``key``, or ``load()``'s, cached; concurrent callers for one key load it once."""
        if (model := self.get(key)) is not None:
            return model
        with self._lock:
            key_lock = self._loading.setdefault(key, threading.Lock())
        try:
            with key_lock:
                if (model := self.get(key)) is not None:
                    return model
                model = load()
                self.put(key, model)
                return model
        finally:
            with self._lock:
                self._loading.pop(key, None)

    def evict(self, key: Hashable) -> bool:
        """Release and drop the model under ``key``; True if there was one."""
        with self._lock:
            model = self._models.pop(key, None)
        if model is None:
            return False
        model.release()
        return True

    def clear(self) -> None:
        """Release and drop every cached model."""
        with self._lock:
            models = list(self._models.values())
            self._models.clear()
        for model in models:
            model.release()
