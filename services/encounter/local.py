"""The Assess pipeline in-process: the same stage functions the services run, no servers.

``footcds assess --local`` and the screening ``--local`` mode use it; a test checks it
agrees with the distributed path.
"""

from __future__ import annotations

from footcds.v1 import encounter_pb2

from services.differential.servicer import rank_differential
from services.encounter import stages
from services.intake.servicer import normalize_intake
from services.treatment.servicer import plan_treatment
from services.workup.servicer import recommend_tests


def assess_local(request: encounter_pb2.AssessRequest) -> encounter_pb2.Assessment:
    intake = normalize_intake(stages.intake_request(request))
    ranked = rank_differential(stages.differential_request(intake))
    workup = recommend_tests(stages.workup_request(intake, ranked.differential))
    plan = plan_treatment(stages.treatment_request(intake, ranked.differential))
    return stages.assemble(intake, ranked, workup, plan)
