"""``ocf:hakit:rabbitmq``: a RabbitMQ node as an instance of a clustered clone."""
