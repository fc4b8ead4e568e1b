"""Clustering methods, one module each, registered by CLI name (``dcteach list``)."""

import importlib

from .base import METHODS, ClusterMethod, get_method, parse_method_spec, register
from .config import ConfigError, make_config

# Modules that register methods; later method families add themselves here.
_METHOD_MODULES = ["classical", "autoencoder", "dec", "dcn", "sccl", "contrastive", "scan",
                  "text_scan", "deepcluster", "idfd", "pcl"]


def _load_all() -> None:
    for mod in _METHOD_MODULES:
        importlib.import_module(f"{__name__}.{mod}")


__all__ = ["METHODS", "ClusterMethod", "ConfigError", "get_method", "make_config",
           "parse_method_spec", "register"]
