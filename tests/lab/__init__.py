"""Test-lab libraries: run real services (RabbitMQ, OpenStack) on loopback for tests."""
