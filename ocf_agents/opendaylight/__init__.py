"""``ocf:hakit:opendaylight``: an OpenDaylight (Karaf) member per clone instance."""
