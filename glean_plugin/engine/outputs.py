"""What a test run writes besides the log: the metrics as JSON
(``tools/test.py --out x.json``), through ``fileio.atomic_open``."""
from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from ..fileio import write_json_atomic

__all__ = ['MetricsJsonHook']


class MetricsJsonHook(Hook):
    """Writes the test metrics to a JSON file (rank 0, atomically).

    Args:
        path (str): output ``.json`` file.
    """

    priority = 'LOWEST'

    def __init__(self, path: str) -> None:
        self.path = path

    def after_test_epoch(self, runner, metrics=None) -> None:
        """Dump ``metrics`` once the test loop has computed them."""
        if metrics is not None and is_main_process():
            write_json_atomic(metrics, self.path)
