"""ccloud-operator: Confluent Cloud provider integrations and fully-managed connectors as Kubernetes resources.

Layers point one way: ``handlers`` (kopf) -> ``reconcilers`` (no kopf) -> clients
(``confluent`` over httpx, ``aws`` over boto3, ``kube`` over aiohttp)
-> ``models``.
"""

__version__ = "0.1.0"
