"""Outbound webhooks: signed callbacks (Standard Webhooks) telling an account's endpoints
what happened to its posts and connections.

- :mod:`~zakipost.webhook.outbox`: recorded domain events become delivery rows and
  delivery jobs inside the transaction that made the change (a commit hook);
- :mod:`~zakipost.webhook.delivery`: one attempt (sign, POST through the address guard)
  and the one place its outcome is decided (:func:`~zakipost.webhook.delivery.settle`);
- :mod:`~zakipost.webhook.service`: endpoints, secrets and their rotation, the log, retry;
- :mod:`~zakipost.webhook.tasks`: the ``webhook.deliver`` job.

See docs/webhooks.md.
"""
