"""The OpenStack service agents: one generic agent and the table of services.

``services`` holds the table, ``spec`` builds one declaration per service,
``actions`` and ``health`` run them.  Importing this package costs nothing, so
the registry can name the services without building every declaration.
"""
