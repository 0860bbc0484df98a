"""Events: repository triggers, EventBridge-style webhooks, a local SNS, the outbox and the
delivery worker.

Every producer (a ref change, TestRepositoryTriggers, SNS Publish, a subscription handshake)
writes one `events` row and one `deliveries` row per destination through `Outbox.enqueue`, in the
transaction of whatever caused it; `DeliveryWorker` reads the outbox and delivers.
"""
