"""``ocf:hakit:haproxy``: HAProxy in master-worker mode under Pacemaker."""
