"""The onnxruntime session tabinv runs a checked ONNX graph in.

onnxruntime runs only a graph that passed :func:`~tabinv.models.onnxcheck.check_onnx_bytes`,
and always with the same settings: on the CPU provider only, on one thread, without graph
optimisations (constant folding would run the graph's nodes while loading), without a
memory arena that outlives a run or buffers planned from the first run's shapes, with
released opsets only and strict shape inference (an inconsistent graph fails to load), and
with onnxruntime's telemetry off (:func:`~tabinv.models.onnxcheck.import_onnxruntime`).
Both ways tabinv runs a graph share :class:`OnnxSession`:
:class:`~tabinv.models.onnx.OnnxGraph` (one float matrix, the card-encoded rows) and
:class:`~tabinv.models.onnxraw.OnnxRecords` (named raw inputs).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import ModelError
from .onnxcheck import import_onnxruntime
from .validation import _reason

__all__ = ["OnnxSession"]

#: onnxruntime session settings (onnxruntime_session_options_config_keys.h)
_SESSION_CONFIG = {
    "session.allow_released_opsets_only": "1",  # no opset still under development
    "session.strict_shape_type_inference": "1",  # an inconsistent graph fails to load
    "session.intra_op.allow_spinning": "0",  # idle threads block instead of spinning
    "session.inter_op.allow_spinning": "0",
}


class OnnxSession:
    """The bytes of a checked ONNX graph and its onnxruntime session, built on first use
    with tabinv's settings (see the module docstring) and rebuilt after unpickling.

    Parameters
    ----------
    data : bytes
        The ONNX file's bytes (already checked by :func:`check_onnx_bytes`).
    origin : str
        The file name, for messages.
    """

    def __init__(self, data: bytes, *, origin: str = "ONNX model") -> None:
        self.data = data
        self.origin = origin

    @property
    def session(self) -> Any:
        """The onnxruntime session (built on first use)."""
        return self.__dict__.get("_cached_session") or self._session()

    def _session(self) -> Any:
        onnxruntime = import_onnxruntime()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
        options.enable_mem_pattern = False  # no buffers planned from the first run's shapes
        options.enable_cpu_mem_arena = False  # memory goes back to the system after a run
        options.log_severity_level = 3
        for key, value in _SESSION_CONFIG.items():
            options.add_session_config_entry(key, value)
        try:
            session = onnxruntime.InferenceSession(self.data, options,
                                                   providers=["CPUExecutionProvider"])
        except Exception as error:
            raise ModelError(f"onnxruntime cannot load {self.origin} "
                             f"({_reason(error)})") from None
        self.__dict__["_cached_session"] = session
        return session

    def fetch(self, outputs: list[str], feed: dict[str, np.ndarray]) -> list[Any]:
        """The named outputs for ``feed``; any failure inside onnxruntime is a ModelError."""
        try:
            return list(self.session.run(outputs, feed))
        except Exception as error:
            raise ModelError(f"{self.origin} failed to run ({_reason(error)})") from None

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_cached_session"}
