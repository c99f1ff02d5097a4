"""Fence agents (fence_hakit_ipmi, fence_hakit_redfish): not built yet, see issue #4."""
