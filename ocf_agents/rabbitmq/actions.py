"""Handlers of ``ocf:hakit:rabbitmq``: one per action, from the phase it belongs to.

- ``start``: validate the host; join the running members or boot first when
  it is safe (``state.decide``), waiting within the deadline otherwise;
- ``monitor``: the beam lives, answers AMQP, and sees a majority;
- ``stop`` and ``notify``: stop for sure and record the last member down;
  forget members removed from the cluster when asked.

``node`` holds what they share (names, environment, files, probes).
"""

from __future__ import annotations

from ocf_agents.rabbitmq.monitor import monitor
from ocf_agents.rabbitmq.start import start, validate
from ocf_agents.rabbitmq.stop import notify, stop

__all__ = ["monitor", "notify", "start", "stop", "validate"]
