"""hakit's fence agents, fence_hakit_ipmi and fence_hakit_redfish.

``_runtime`` holds what both share (option declarations, input parsing,
metadata, the power driver); ``ipmi`` and ``redfish`` each hold one agent's
declaration and its adapter over the BMC client library; ``registry`` names
the agents hakit ships.
"""
