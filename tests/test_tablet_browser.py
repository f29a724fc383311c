"""The tablet page and the staff view in a real browser (Playwright driving Debian's chromium
through executable_path; no browser is downloaded), against the real gateway and suite.

Every request the page makes to a host other than the gateway is refused and recorded (there
must be none). Screenshots go to .run/test-logs/tablet/. Accessibility: axe-core (the
axe.min.js that the axe-playwright-python package ships, injected from disk, no CDN) with the
WCAG 2.0/2.1 A and AA rules, at 768x1024 (portrait tablet) and 1280x800 (landscape).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from devtools.suite import ROOT, LocalSuite
from services.gateway.tablet import simulate
from tests.test_tablet_sdc import case, intake_form_map

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install -y chromium)"),
]
LOGS = ROOT / ".run" / "test-logs" / "tablet"
PORTRAIT, LANDSCAPE = {"width": 768, "height": 1024}, {"width": 1280, "height": 800}
NEXT = "$next-question"


def axe_source() -> str:
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    LOGS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def form(suite: LocalSuite) -> dict[str, dict[str, tuple[list[str], list[str]]]]:
    return intake_form_map(suite)


class Tablet:
    """One browser context: an enrolled tablet, with every off-host request refused and the
    $next-question traffic recorded."""

    def __init__(self, browser: Any, gateway: str, token: str, viewport: dict[str, int], clock: bool = False) -> None:
        playwright_api.expect.set_options(timeout=15000)
        self.context = browser.new_context(viewport=viewport)
        self.gateway = gateway
        self.offhost: list[str] = []
        self.replies: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        host = urlparse(gateway).netloc

        def route(r: Any) -> None:
            if urlparse(r.request.url).netloc != host:
                self.offhost.append(r.request.url)
                r.abort()
            else:
                r.continue_()

        self.context.route("**/*", route)
        self.page = self.context.new_page()
        if clock:
            self.page.clock.install()
        self.page.on("response", self._response)
        self.page.goto(f"{gateway}/intake")
        assert self.page.url.endswith("/intake/enrol")  # a new tablet is sent to enrolment
        self.page.fill("#token", token)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(f"{gateway}/intake")
        playwright_api.expect(self.page.locator("h1")).to_have_text("Foot and leg check-in")

    def _response(self, response: Any) -> None:
        if NEXT in response.url and response.request.method == "POST":
            self.requests.append(json.loads(response.request.post_data)["parameter"][0]["resource"])
            if response.ok:
                self.replies.append(response.json())

    def start(self) -> None:
        before = len(self.replies)
        self.page.get_by_role("button", name="Start").click()
        self.wait_reply(before + 1)

    def wait_reply(self, count: int) -> None:
        """Until the page has the ``count``-th reply on screen (no "Saving..." left)."""
        for _ in range(300):
            if len(self.replies) >= count and not self.page.locator(".status", has_text="Saving").count():
                return
            self.page.wait_for_timeout(50)
        raise AssertionError(f"no reply {count} (got {len(self.replies)})")

    def current(self) -> dict[str, Any]:
        qr = self.replies[-1]
        questionnaire = next(r for r in qr["contained"] if r["resourceType"] == "Questionnaire")
        item: dict[str, Any] = [i for i in questionnaire["item"] if i["type"] != "display"][-1]
        return item

    def answer(self, codes: list[str], item: dict[str, Any] | None = None) -> None:
        """Tap the answers (body-map regions or buttons) and Next, as a patient would."""
        before = len(self.replies)
        item = item or self.current()
        if codes == ["unknown"]:
            self.page.get_by_role("button", name="I don't know").click()
        else:
            for code in codes:
                self.page.locator(f'[data-code="{code}"]').click()
            if item.get("repeats"):
                self.page.get_by_role("button", name="Next").click()
        self.wait_reply(before + 1)

    def shot(self, name: str) -> Path:
        path = LOGS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def axe(self, where: str) -> None:
        self.page.evaluate(axe_source())
        result = self.page.evaluate(
            "() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})")
        violations = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]]
        assert not violations, f"axe-core WCAG 2.1 AA violations on {where}: {violations}"
        assert result["passes"], "axe ran no rule"

    def close(self) -> None:
        assert not self.offhost, f"the page asked another host for {self.offhost}"
        self.context.close()


def run_case(tablet: Tablet, name: str, form: Any, *, stop_at_alert: bool = True) -> list[str]:
    """Answer every question from the case's findings through the page; returns the linkIds asked."""
    present, absent = case(name)
    tablet.start()
    asked: list[str] = []
    for _ in range(60):
        qr = tablet.replies[-1]
        if qr["status"] != "in-progress":
            return asked
        item = tablet.current()
        asked.append(item["linkId"])
        shown = tablet.page.locator("main").inner_text()
        assert "null" not in shown and "undefined" not in shown, shown
        answers = simulate._answers_for(item, present, absent, form)
        tablet.answer([a["valueCoding"]["code"] for a in answers])
    raise AssertionError("the interview did not end")


@pytest.fixture()
def tablet(browser: Any, gateway: str, tablet_token: str) -> Iterator[Tablet]:
    opened = Tablet(browser, gateway, tablet_token, PORTRAIT)
    yield opened
    opened.close()


def test_tight_laces_runner_to_the_end(tablet: Tablet, form: Any) -> None:
    page = tablet.page
    asked = run_case(tablet, "tight_laces_runner", form)
    assert asked[0] == "q_location" and len(asked) >= 2
    assert page.get_by_role("heading", name="Thank you. You are done.").is_visible()
    assert not page.locator(".alert").count()
    text = page.locator("body").inner_text().lower()
    assert "%" not in text and "probab" not in text and "compression" not in text  # no differential for the patient
    tablet.shot("tight-laces-done")
    # A shared tablet keeps nothing: no storage, and Finish wipes the screen back to the start.
    assert page.evaluate("() => localStorage.length + sessionStorage.length") == 0
    page.get_by_role("button", name="Finish").click()
    playwright_api.expect(page.locator("h1")).to_have_text("Foot and leg check-in")
    assert page.evaluate("() => history.length") <= 3  # enrol redirect only; no entry per question


def test_cauda_equina_banner_appears_at_the_red_flag_answer(tablet: Tablet, form: Any) -> None:
    asked = run_case(tablet, "cauda_equina_emergency", form)
    page = tablet.page
    alert = page.get_by_role("alertdialog")
    assert alert.is_visible()
    assert "Tell the front desk right now" in alert.inner_text() and "911" in alert.inner_text()
    box = alert.bounding_box()
    assert box and box["width"] >= PORTRAIT["width"] - 1 and box["height"] >= PORTRAIT["height"] - 1  # full screen
    # The banner came with the reply to the answer that held the red flag, and nothing was asked after it.
    red = tablet.replies[-1]
    assert red["status"] == "completed" and red["extension"][0]["valueCode"] == "emergency"
    assert len(asked) == len(tablet.replies) - 1
    assert all("extension" not in r for r in tablet.replies[:-1])
    tablet.shot("cauda-equina-emergency")
    tablet.axe("the emergency screen")


def test_back_dont_know_and_a_body_map_tap(tablet: Tablet) -> None:
    page = tablet.page
    tablet.start()
    toes = page.locator('[data-code="q_location|toes"]')
    assert toes.get_attribute("role") == "checkbox" and toes.get_attribute("aria-checked") == "false"
    toes.click()  # a tap on the SVG region
    assert toes.get_attribute("aria-checked") == "true"
    assert "Toes" in page.locator(".chosen-list").inner_text()
    tablet.shot("body-map-toes")
    page.get_by_role("button", name="Next").click()
    tablet.wait_reply(2)
    second_item = tablet.current()
    second = second_item["linkId"]
    assert page.get_by_role("button", name="I don't know").is_visible()  # always offered
    tablet.answer(["unknown"])
    sent = tablet.requests[-1]["item"][-1]
    assert sent["linkId"] == second and sent["answer"][0]["valueCoding"]["code"] == "unknown"
    assert page.locator("text=Question 3").is_visible()
    third = tablet.current()["linkId"]
    assert third != second  # "I don't know" is not asked again

    page.get_by_role("button", name="Back").click()  # back to question 2, to change the answer
    assert page.locator("text=Question 2").is_visible()
    assert page.locator("h1").inner_text() != ""
    playwright_api.expect(page.locator("h1")).to_have_text(second_item["text"])
    options = [o["valueCoding"]["code"] for o in second_item["answerOption"]]
    changed = next(c for c in options if c != "unknown")
    tablet.answer([changed], second_item)
    resent = tablet.requests[-1]
    assert [i["linkId"] for i in resent["item"]] == ["q_location", second]  # the old answer is replaced
    assert resent["item"][1]["answer"][0]["valueCoding"]["code"] == changed
    assert resent["item"][0]["answer"][0]["valueCoding"]["code"] == "q_location|toes"  # nothing else lost
    page.get_by_role("button", name="Back").click()
    playwright_api.expect(page.locator(f'[data-code="{changed}"]')).to_have_attribute("aria-pressed", "true")


def test_idle_timeout_wipes_the_intake(browser: Any, gateway: str, tablet_token: str, suite: LocalSuite) -> None:
    tablet = Tablet(browser, gateway, tablet_token, LANDSCAPE, clock=True)
    try:
        page = tablet.page
        tablet.start()
        page.locator('[data-code="q_location|heel"]').click()
        page.get_by_role("button", name="Next").click()
        tablet.wait_reply(2)
        idle = int(page.evaluate("() => document.body.dataset.idleSeconds"))
        page.clock.run_for((idle - 10) * 1000)
        playwright_api.expect(page.get_by_role("alert")).to_contain_text("Are you still there?")
        assert page.locator("h1").inner_text() == tablet.current()["text"]  # the question is still there
        page.clock.run_for(11 * 1000)
        playwright_api.expect(page.locator("h1")).to_have_text("Foot and leg check-in")
        assert "Heel" not in page.content() and page.evaluate("() => localStorage.length") == 0
        tablet.start()  # the next patient starts a new intake with a new reference
        assert tablet.replies[-1]["id"] != tablet.replies[0]["id"] and "item" not in tablet.replies[-1]
        reply = page.request.get(f"{gateway}/intake")
        assert reply.headers["cache-control"] == "no-store"
    finally:
        tablet.close()


def test_spanish_is_strings_only(tablet: Tablet) -> None:
    page = tablet.page
    page.get_by_role("button", name="Español").click()
    playwright_api.expect(page.locator("h1")).to_have_text("Registro de pie y pierna")
    assert page.evaluate("() => document.documentElement.lang") == "es"
    page.get_by_role("button", name="Empezar").click()
    tablet.wait_reply(1)
    assert page.get_by_role("button", name="No sé").is_visible()
    assert page.locator('[data-code="q_location|heel"]').get_attribute("aria-label") == "Talón"


@pytest.mark.parametrize("viewport", [PORTRAIT, LANDSCAPE], ids=["768x1024", "1280x800"])
def test_accessibility_wcag21_aa(browser: Any, gateway: str, tablet_token: str, form: Any,
                                  viewport: dict[str, int]) -> None:
    tablet = Tablet(browser, gateway, tablet_token, viewport)
    size = f"{viewport['width']}x{viewport['height']}"
    try:
        tablet.axe(f"the welcome screen at {size}")
        tablet.start()
        tablet.axe(f"the body map at {size}")
        tablet.shot(f"body-map-{size}")
        tablet.page.locator('[data-code="q_location|dorsum"]').click()
        tablet.page.get_by_role("button", name="Next").click()
        tablet.wait_reply(2)
        tablet.axe(f"a question at {size}")
        tablet.shot(f"question-{size}")
        present, absent = case("tight_laces_runner")
        while tablet.replies[-1]["status"] == "in-progress":
            item = tablet.current()
            tablet.answer([a["valueCoding"]["code"] for a in simulate._answers_for(item, present, absent, form)])
        tablet.axe(f"the done screen at {size}")
    finally:
        tablet.close()


def test_staff_view_lists_the_emergency_first(browser: Any, gateway: str, tablet_token: str, staff_token: str,
                                              form: Any) -> None:
    ids = []
    for name in ("tight_laces_runner", "cauda_equina_emergency", "tight_laces_runner"):
        tablet = Tablet(browser, gateway, tablet_token, PORTRAIT)
        try:
            run_case(tablet, name, form)
            ids.append(tablet.replies[-1]["id"])
        finally:
            tablet.close()
    emergency_ref = ids[1]
    context = browser.new_context(viewport=LANDSCAPE)
    try:
        page = context.new_page()
        page.goto(f"{gateway}/staff")
        page.fill("#token", tablet_token)  # a tablet is not staff
        page.click("button[type=submit]")
        assert page.get_by_role("alert").is_visible()
        page.fill("#token", staff_token)
        page.click("button[type=submit]")
        page.wait_for_url(f"{gateway}/staff")
        rows = page.locator("tbody tr")
        assert rows.count() >= 3
        first = rows.nth(0)
        assert "EMERGENCY" in first.inner_text()
        emergency_refs = [rows.nth(i).locator("a").inner_text() for i in range(rows.count())
                          if "EMERGENCY" in rows.nth(i).inner_text()]
        assert emergency_ref in emergency_refs
        assert all("EMERGENCY" in rows.nth(i).inner_text() for i in range(len(emergency_refs)))  # all on top
        assert ids[0] in page.content() and ids[2] in page.content()
        page.screenshot(path=str(LOGS / "staff-list.png"), full_page=True)
        LOGS.mkdir(parents=True, exist_ok=True)
        page.evaluate(axe_source())
        result = page.evaluate("() => axe.run(document, {runOnly: {type: 'tag', values: "
                               "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})")
        assert not result["violations"], [v["id"] for v in result["violations"]]

        page.get_by_role("link", name=emergency_ref).click()
        text = page.locator("main").inner_text()
        for heading in ("Triage", "Differential", "Tests", "Plan", "Answers"):
            assert page.get_by_role("heading", name=heading, exact=True).is_visible(), heading
        assert "Cauda equina" in text and "bladder" in text.lower()  # the triage reasons name the red flag
        assert "decision support" in text.lower()
        page.screenshot(path=str(LOGS / "staff-emergency-detail.png"), full_page=True)
        page.evaluate(axe_source())
        result = page.evaluate("() => axe.run(document, {runOnly: {type: 'tag', values: "
                               "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})")
        assert not result["violations"], [v["id"] for v in result["violations"]]
        qr = page.request.get(f"{gateway}/staff/intakes/{emergency_ref}/QuestionnaireResponse").json()
        bundle = page.request.get(f"{gateway}/staff/intakes/{emergency_ref}/Bundle").json()
        assert qr["resourceType"] == "QuestionnaireResponse" and qr["id"] == emergency_ref
        assert bundle["resourceType"] == "Bundle"
        from fhir.resources.R4B.bundle import Bundle

        Bundle.model_validate(bundle)
    finally:
        context.close()
