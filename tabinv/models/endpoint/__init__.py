"""Deployed models as targets: MLflow scoring servers and Open Inference Protocol v2
endpoints, queried over HTTP with batching, retries, accounting and a query budget.

:func:`open_endpoint` turns an :class:`EndpointSpec` into a fitted
:class:`EndpointModel` (a :class:`~tabinv.models.foreign.ForeignModel`), which every
attack queries through the usual :class:`~tabinv.models.oracle.Oracle`.
"""

from .client import EndpointClient
from .model import EndpointModel, open_endpoint
from .probe import DetectedAccess, detect_access
from .spec import PROTOCOLS, BudgetExhausted, EndpointError, EndpointSpec, QueryStats

__all__ = ["PROTOCOLS", "BudgetExhausted", "DetectedAccess", "EndpointClient",
           "EndpointError", "EndpointModel", "EndpointSpec", "QueryStats", "detect_access",
           "open_endpoint"]
