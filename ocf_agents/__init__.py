"""hakit's OCF resource agents (provider ``hakit``) and the runtime they share."""
