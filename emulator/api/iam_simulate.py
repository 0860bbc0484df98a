"""IAM policy simulation: SimulateCustomPolicy and SimulatePrincipalPolicy."""

from __future__ import annotations
