"""Metrics for MMagic's ``val_evaluator`` / ``test_evaluator`` (registered)."""
from .identity import IdentitySimilarity
from .lpips_metric import LPIPS

__all__ = ['IdentitySimilarity', 'LPIPS']
