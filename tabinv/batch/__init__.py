"""Batch assessments of model inventories: the TOML format, a resumable runner, executors.

>>> from tabinv.batch import read_inventory, run_batch, make_executor  # doctest: +SKIP
>>> result = run_batch(read_inventory("inventory.toml"), "out",
...                    executor=make_executor("local", jobs=2))  # doctest: +SKIP
>>> result.exit_code, result.failed  # doctest: +SKIP
(0, 0)
"""

from .entry import Entry
from .executors import DaskExecutor, LocalExecutor, SerialExecutor, TaskFailure, make_executor
from .inventory import Inventory, InventoryError, parse_inventory, read_inventory
from .runner import BatchProgress, BatchResult, assess_entry, entry_key, run_batch

__all__ = ["BatchProgress", "BatchResult", "DaskExecutor", "Entry", "Inventory",
           "InventoryError", "LocalExecutor", "SerialExecutor", "TaskFailure", "assess_entry",
           "entry_key", "make_executor", "parse_inventory", "read_inventory", "run_batch"]
