"""Inference: the relations code reads, found by reading its source (never running it).

Method fields, model properties and methods used as a ``source``, ``__str__`` and the
``to_representation`` of custom fields and serializers are read with :mod:`ast`; what
they read from the object they receive is mapped onto the model's relations. Inferred
relations only add loads (joins and prefetches); what is not understood stays a warning.
"""

from drf_autoprefetch.inference.resolving import Inferred, infer

__all__ = ["Inferred", "infer"]
