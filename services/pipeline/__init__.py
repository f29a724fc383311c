"""The Assess stage sequence, written once (``assess``), and the team-screening chunks.

``assess(request, calls)`` runs intake -> differential -> work-up + treatment over a
``StageCalls``; the three runners are three implementations of the calls, not three
pipelines: ``worker.tasks.CeleryCalls`` (the Celery task), ``pipeline.direct.DirectCalls``
(the encounter calling the services over gRPC) and ``pipeline.local.LocalCalls`` (in-process).
The first two send the stage requests as bytes, the differential serialized once
(``assess_serialized``, ``stages.SerializedStages``): the same bytes the messages serialize to.
"""
