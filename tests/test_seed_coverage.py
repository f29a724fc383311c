"""Everything the seed documents name is in the knowledge base.

Each seed's causes, tests, treatments and red flags are listed here by hand, as a reader of
the seed would list them, with the knowledge-base id that covers each.  A missing id, or a
seed file that is no longer cited, fails.
"""

from __future__ import annotations

import pytest

from services.knowledge.loader import knowledge_base

# (seed file prefix, what the seed names, kind, knowledge-base id)
SEED_ITEMS: list[tuple[str, str, str, str]] = [
    # 000: running-shoe numbness
    ("000", "poorly fitting / too tight shoes, laces, thick socks", "condition", "footwear_compression"),
    ("000", "Morton's neuroma", "condition", "mortons_neuroma"),
    ("000", "sciatic nerve compression by a herniated disc", "condition", "lumbar_radiculopathy"),
    ("000", "sciatic nerve compression by muscles that overlie it", "condition", "piriformis_syndrome"),
    ("000", "trauma: direct damage to a nerve", "condition", "traumatic_nerve_injury"),
    ("000", "X-rays", "test", "xray_foot"),
    ("000", "larger shoes / toe box room", "treatment", "t_fw_half_size_up"),
    ("000", "stiffer sole", "treatment", "t_fw_stiffer_sole"),
    ("000", "loosen laces", "treatment", "t_fw_loosen_laces"),
    ("000", "thinner socks", "treatment", "t_fw_thinner_socks"),
    ("000", "running form, no slapping or pounding", "treatment", "t_tr_running_form"),
    ("000", "no sudden increase in duration or distance", "treatment", "t_tr_gradual_mileage"),
    ("000", "shoe inserts", "treatment", "t_or_arch_support"),
    ("000", "anti-inflammatory medication", "treatment", "t_med_nsaid"),
    ("000", "special exercises", "treatment", "t_pt_strengthening"),
    ("000", "injections for a neuroma", "treatment", "t_inj_steroid_morton"),
    ("000", "surgery for a neuroma", "treatment", "t_sx_morton_neurectomy"),
    # 001: comprehensive guide
    ("001", "peripheral neuropathy / diabetes", "condition", "diabetic_neuropathy"),
    ("001", "vitamin deficiencies", "condition", "b12_deficiency_neuropathy"),
    ("001", "tarsal tunnel syndrome", "condition", "tarsal_tunnel"),
    ("001", "spinal stenosis", "condition", "lumbar_spinal_stenosis"),
    ("001", "peripheral arterial disease", "condition", "peripheral_arterial_disease"),
    ("001", "multiple sclerosis", "condition", "multiple_sclerosis"),
    ("001", "Raynaud's disease", "condition", "raynauds"),
    ("001", "spinal cord injury", "condition", "spinal_cord_injury"),
    ("001", "electromyography", "test", "emg"),
    ("001", "nerve conduction studies", "test", "nerve_conduction_study"),
    ("001", "MRI of the feet and legs", "test", "mri_foot_ankle"),
    ("001", "rest and immobilization", "treatment", "t_rest_immobilise"),
    ("001", "pain relievers", "treatment", "t_med_nsaid"),
    ("001", "physical therapy", "treatment", "t_pt_referral"),
    ("001", "orthotics, arch supports", "treatment", "t_or_arch_support"),
    ("001", "decompression (nerve release) surgery", "treatment", "t_sx_nerve_release"),
    ("001", "nerve repair surgery", "treatment", "t_sx_nerve_repair"),
    ("001", "stretching", "treatment", "t_tr_stretching"),
    ("001", "hard surfaces", "finding", "hx_hard_surfaces"),
    # 002: feet and calves while running
    ("002", "intermittent claudication (PAD)", "condition", "peripheral_arterial_disease"),
    ("002", "tarsal tunnel, overpronation", "finding", "ex_flat_feet_overpronation"),
    ("002", "Morton's neuroma, hammer toes", "finding", "ex_high_arches_hammer_toes"),
    ("002", "tight shoes or laces, top of the foot", "condition", "footwear_compression"),
    ("002", "PAD medications", "treatment", "t_med_antiplatelet_statin"),
    ("002", "corticosteroid shots for tarsal tunnel", "treatment", "t_inj_steroid_tarsal_tunnel"),
    ("002", "surgery to remove the offending structure", "treatment", "t_sx_tarsal_tunnel_release"),
    ("002", "ultrasound energy for Morton's", "treatment", "t_pt_therapeutic_ultrasound"),
    ("002", "metatarsal pads", "treatment", "t_or_metatarsal_pad"),
    ("002", "half a shoe size up", "treatment", "t_fw_half_size_up"),
    ("002", "a different lacing pattern", "treatment", "t_fw_window_lacing"),
    ("002", "remove or reposition orthotics", "treatment", "t_fw_reposition_orthotic"),
    # 003: prehab numb feet
    ("003", "diabetes / pre-diabetes neuropathy", "finding", "hx_prediabetes"),
    ("003", "stroke", "condition", "stroke"),
    ("003", "nerve entrapment", "condition", "tarsal_tunnel"),
    ("003", "crush injury", "finding", "hx_fracture_or_crush_injury"),
    ("003", "traumatic injury to the nervous system (crush injury)", "condition", "traumatic_nerve_injury"),
    ("003", "nerve injury severity (neurapraxia, axonotmesis, neurotmesis)", "treatment", "t_tni_serial_exam_edx"),
    ("003", "nerve glides (sliders)", "treatment", "t_pt_nerve_sliders"),
    ("003", "nerve tensioning", "treatment", "t_pt_nerve_tensioners"),
    ("003", "balance exercises", "treatment", "t_pt_balance"),
    ("003", "footwear not tight anywhere", "treatment", "t_fw_supportive_shoes"),
    ("003", "insoles / plantar pressure reliever", "treatment", "t_or_pressure_insole"),
    # 004: numbness that isn't your foot falling asleep
    ("004", "small fiber sensory neuropathy", "condition", "small_fiber_neuropathy"),
    ("004", "Guillain-Barre syndrome", "condition", "guillain_barre"),
    ("004", "Charcot-Marie-Tooth disease", "condition", "charcot_marie_tooth"),
    ("004", "frostbite", "condition", "frostbite"),
    ("004", "lupus", "condition", "lupus_neuropathy"),
    ("004", "alcoholic neuropathy", "condition", "alcoholic_neuropathy"),
    ("004", "pinched nerve / degenerative disc disease", "condition", "lumbar_radiculopathy"),
    ("004", "chemotherapy", "condition", "chemo_induced_neuropathy"),
    ("004", "Lyme disease", "condition", "lyme_neuropathy"),
    ("004", "shingles", "condition", "shingles"),
    ("004", "anxiety", "condition", "anxiety_paresthesia"),
    ("004", "blood tests", "test", "blood_panel_general"),
    ("004", "CT scan", "test", "ct_head"),
    ("004", "capsaicin topical cream", "treatment", "t_med_capsaicin_cream"),
    ("004", "massage", "treatment", "t_hm_massage"),
    ("004", "warm water soak / Epsom salt", "treatment", "t_hm_warm_soak"),
    ("004", "avoid smoking", "treatment", "t_dm_smoking_cessation"),
    ("004", "compression socks", "treatment", "t_hm_compression_socks"),
    ("004", "stay active, walk", "treatment", "t_hm_stay_active"),
    ("004", "lumbar discectomy", "treatment", "t_sx_discectomy"),
    ("004", "nerve pain medications (pregabalin)", "treatment", "t_med_pregabalin"),
    ("004", "duloxetine", "treatment", "t_med_duloxetine"),
    ("004", "milnacipran", "treatment", "t_med_milnacipran"),
    ("004", "stress management and relaxation", "treatment", "t_dm_stress_relaxation"),
    ("004", "disease-modifying therapy for MS", "treatment", "t_med_ms_dmt"),
    ("004", "medications for anxiety", "treatment", "t_med_anxiety"),
    ("004", "dietary changes and vitamin supplementation", "treatment", "t_dm_diet_vitamins"),
    ("004", "reflexology", "treatment", "t_hm_reflexology"),
    ("004", "check skin every day", "treatment", "t_fc_daily_check"),
    ("004", "dry feet", "treatment", "t_fc_dry_feet"),
    ("004", "nails straight across", "treatment", "t_fc_nails"),
    ("004", "assistive device for balance", "treatment", "t_pt_assistive_device"),
    ("004", "911: weakness or inability to move", "red_flag", "rf_sudden_weakness"),
    ("004", "911: numbness after a head, back or neck injury", "red_flag", "rf_numbness_after_head_back_neck_injury"),
    ("004", "911: inability to control movement / trouble walking", "red_flag", "rf_sudden_trouble_walking"),
    ("004", "911: loss of bladder or bowel control", "red_flag", "rf_bladder_bowel"),
    ("004", "911: confusion", "red_flag", "rf_confusion"),
    ("004", "911: slurred speech", "red_flag", "rf_slurred_speech"),
]


def _known(kind: str) -> set[str]:
    kb = knowledge_base()
    return {
        "condition": set(kb.conditions),
        "test": set(kb.tests),
        "treatment": set(kb.treatment_items),
        "finding": set(kb.findings),
        "red_flag": {r.id for r in kb.red_flags},
    }[kind]


@pytest.mark.parametrize(("seed", "named", "kind", "kb_id"), SEED_ITEMS, ids=[f"{s}:{k}" for s, _, _, k in SEED_ITEMS])
def test_seed_item_is_covered(seed: str, named: str, kind: str, kb_id: str) -> None:
    assert kb_id in _known(kind), f"seed {seed} names {named!r}: no {kind} {kb_id!r}"


def test_emergency_red_flags_are_emergencies() -> None:
    kb = knowledge_base()
    levels = {r.id: r.level for r in kb.red_flags}
    for _, _, kind, kb_id in SEED_ITEMS:
        if kind == "red_flag":
            assert levels[kb_id] == "emergency", kb_id


def test_treatment_items_cite_the_seed_that_names_them() -> None:
    kb = knowledge_base()
    seed_keys = {k: s.file for k, s in kb.sources.items() if s.kind == "seed"}
    for seed, _, kind, kb_id in SEED_ITEMS:
        if kind != "treatment":
            continue
        files = {seed_keys.get(c) for c in kb.treatment_items[kb_id].citations}
        cited = any(f and f.startswith(seed) for f in files)
        other_source = any(c not in seed_keys for c in kb.treatment_items[kb_id].citations)
        assert cited or other_source, kb_id
