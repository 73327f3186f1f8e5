"""Local stand-ins for the operator's outside world.

Nothing in here ships in the product's runtime path: a local Kubernetes control
plane built from Go modules, a Confluent Cloud emulator, and the demo that ties
them together with moto.
"""
